package crawl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// CheckPaths reports, as a *ConfigError naming the key, what would keep a
// run from writing its files, before anything is written or requested:
// output missing (neither in the file nor from --out); failed equal to
// output; output or failed equal to the config file, or to or inside the
// state directory; a
// file whose directory is missing or not writable, or that is a directory
// or cannot be written; a state path that is not a directory or cannot be
// created. It creates nothing (a probe file is removed at once). Call it
// after applying command-line overrides; Run calls it first.
func (c *Config) CheckPaths() error {
	if c.Output == "" {
		return &ConfigError{File: c.File, Key: "output", Msg: "required (or pass --out)"}
	}
	out, failed := absPath(c.Output), absPath(c.FailedPath())
	if out == failed {
		return &ConfigError{File: c.File, Key: "failed", Msg: "must differ from output"}
	}
	if c.File != "" {
		cfgFile := absPath(c.File)
		for _, f := range []struct{ key, path string }{{"output", out}, {"failed", failed}} {
			if f.path == cfgFile {
				return &ConfigError{File: c.File, Key: f.key, Msg: fmt.Sprintf("%s is the config file", f.path)}
			}
		}
	}
	if c.State != "" {
		st := absPath(c.State)
		for _, f := range []struct{ key, path string }{{"output", out}, {"failed", failed}} {
			switch {
			case f.path == st:
				return &ConfigError{File: c.File, Key: f.key, Msg: fmt.Sprintf("%s is the state directory", f.path)}
			case within(f.path, st):
				return &ConfigError{File: c.File, Key: f.key, Msg: fmt.Sprintf("%s is inside the state directory %s", f.path, st)}
			}
		}
		if err := checkDir(st); err != nil {
			return &ConfigError{File: c.File, Key: "state", Msg: err.Error(), Err: err}
		}
	}
	for _, f := range []struct{ key, path string }{{"output", c.Output}, {"failed", c.FailedPath()}} {
		if err := CheckWritable(f.path); err != nil {
			return &ConfigError{File: c.File, Key: f.key, Msg: err.Error(), Err: err}
		}
	}
	return nil
}

// CheckOtherPath reports, as an error naming key (a flag such as
// "--stats"), why a file the caller writes next to the crawl's could not be
// written at path: it is the config file, the output, failed or state path,
// inside the state directory, or not writable (see CheckWritable).
func (c *Config) CheckOtherPath(key, path string) error {
	p := absPath(path)
	named := []struct{ what, path string }{{"the output file", c.Output}, {"the failed file", c.FailedPath()},
		{"the config file", c.File}, {"the state directory", c.State}}
	for _, n := range named {
		if n.path != "" && absPath(n.path) == p {
			return fmt.Errorf("%s: %s is %s", key, path, n.what)
		}
	}
	if c.State != "" && within(p, absPath(c.State)) {
		return fmt.Errorf("%s: %s is inside the state directory", key, path)
	}
	if err := CheckWritable(path); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// CheckWritable reports why a file could not be created or written at
// path: its directory is missing or not writable, or path is a directory
// or a file that cannot be written. It changes nothing: an existing file is
// opened without truncating, and a probe file is removed at once.
func CheckWritable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case err == nil && !fi.Mode().IsRegular():
		return nil // a device such as /dev/null: opening a FIFO here could block
	case err == nil:
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("%s cannot be written: %w", path, unwrapPath(err))
		}
		return f.Close()
	}
	dir := filepath.Dir(path)
	di, derr := os.Stat(dir)
	switch {
	case missing(derr):
		return fmt.Errorf("directory %s does not exist", dir)
	case derr != nil:
		return fmt.Errorf("directory %s: %w", dir, unwrapPath(derr))
	case !di.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case !missing(err):
		return fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	return probe(dir)
}

// checkDir reports why dir could not be used as a directory to write in:
// it is not a directory, or it (or the nearest existing directory above
// it, where it would be created) is not writable.
func checkDir(dir string) error {
	for at := dir; ; at = filepath.Dir(at) {
		fi, err := os.Stat(at)
		switch {
		case missing(err) && filepath.Dir(at) != at:
			continue
		case err != nil:
			return fmt.Errorf("%s: %w", at, unwrapPath(err))
		case !fi.IsDir() && at == dir:
			return fmt.Errorf("%s is not a directory", dir)
		case !fi.IsDir():
			return fmt.Errorf("%s cannot be created: %s is not a directory", dir, at)
		}
		return probe(at)
	}
}

// probe creates and removes a file in dir, the one sure test that a file
// can be created there.
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".politely-check-*")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, unwrapPath(err))
	}
	name := f.Name()
	return errors.Join(f.Close(), os.Remove(name))
}

// absPath is path made absolute and clean, with the symbolic links of its
// longest existing prefix resolved, so that two names of one file compare
// equal.
func absPath(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	var rest []string
	for at := p; ; at = filepath.Dir(at) {
		if real, err := filepath.EvalSymlinks(at); err == nil {
			return filepath.Join(append([]string{real}, rest...)...)
		}
		if filepath.Dir(at) == at {
			return p
		}
		rest = append([]string{filepath.Base(at)}, rest...)
	}
}

// within reports whether path is inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// missing reports whether err says a path does not exist, also when a
// file stands where a directory on it should be.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
