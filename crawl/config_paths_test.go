package crawl

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listDir returns the names in dir, recursively, relative to it.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err == nil && path != dir {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return err
	}))
	return names
}

func TestCheckPathsNamesTheKeyAndLeavesNothingBehind(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(dir string) // files present before the check
		output  string           // relative to the test's directory
		failed  string
		state   string
		key     string
		message string // a part of the message
	}{
		{name: "output in a missing directory", output: "missing/out.jsonl", key: "output", message: "missing does not exist"},
		{name: "failed in a missing directory", output: "out.jsonl", failed: "nope/f.jsonl", key: "failed", message: "nope does not exist"},
		{name: "output is a directory", setup: func(d string) { mkdir(t, d, "out") }, output: "out", key: "output", message: "is a directory"},
		{name: "output equals the state directory", output: "st", state: "st", key: "output", message: "is the state directory"},
		{name: "output equals the state directory written differently", output: "st/", state: "./st", key: "output", message: "is the state directory"},
		{name: "output inside the state directory", output: "st/out.jsonl", state: "st", key: "output", message: "is inside the state directory"},
		{name: "failed inside the state directory", output: "out.jsonl", failed: "st/sub/f.jsonl", state: "st", key: "failed", message: "inside the state directory"},
		{name: "failed equals output", output: "out.jsonl", failed: "./out.jsonl", key: "failed", message: "must differ from output"},
		{name: "state is a file", setup: func(d string) { touch(t, d, "st") }, output: "out.jsonl", state: "st", key: "state", message: "is not a directory"},
		{name: "state under a file", setup: func(d string) { touch(t, d, "f") }, output: "out.jsonl", state: "f/st", key: "state", message: "f is not a directory"},
		{name: "output is the config file", setup: func(d string) { touch(t, d, "api.yaml") }, output: "api.yaml", key: "output", message: "is the config file"},
		{name: "output's directory is a file", setup: func(d string) { touch(t, d, "f") }, output: "f/out.jsonl", key: "output", message: "f is not a directory"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		tests = append(tests, struct {
			name    string
			setup   func(dir string)
			output  string
			failed  string
			state   string
			key     string
			message string
		}{name: "read-only directory", setup: func(d string) { mkdir(t, d, "ro"); require.NoError(t, os.Chmod(filepath.Join(d, "ro"), 0o555)) },
			output: "ro/out.jsonl", key: "output", message: "is not writable"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.setup != nil {
				tt.setup(dir)
			}
			before := listDir(t, dir)
			cfg, err := parseTest(minimalYAML)
			require.NoError(t, err)
			cfg.File = filepath.Join(dir, "api.yaml")
			at := func(p string) string {
				if p == "" {
					return ""
				}
				return filepath.Join(dir, p) + strings.Repeat("/", btoi(strings.HasSuffix(p, "/")))
			}
			cfg.Output, cfg.Failed, cfg.State = at(tt.output), at(tt.failed), at(tt.state)

			var ce *ConfigError
			require.ErrorAs(t, cfg.CheckPaths(), &ce)
			assert.Equal(t, tt.key, ce.Key)
			assert.Contains(t, ce.Error(), tt.message)
			assert.True(t, strings.HasPrefix(ce.Error(), cfg.File+": "+tt.key+": "), ce.Error())

			// Run refuses the same way, without a request or a file.
			api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
			u := *cfg.Source.URL
			u.Host = api.hostPort()
			cfg.Source.URL = &u
			_, err = runTest(t, cfg)
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.key, ce.Key)
			assert.Empty(t, api.requests(), "no request before the paths are checked")
			assert.Equal(t, before, listDir(t, dir), "nothing created")
			if tt.state != "" {
				assert.NoFileExists(t, filepath.Join(at(tt.state), "state.db"))
			}
		})
	}
}

func TestCheckPathsAcceptsWhatARunCanWrite(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "old.jsonl")
	cfg, err := parseTest(minimalYAML)
	require.NoError(t, err)
	for _, paths := range [][3]string{
		{"out.jsonl", "", ""},
		{"old.jsonl", "", ""},
		{"out.jsonl", "f.jsonl", "new/state/dir"},
		{"st-out.jsonl", "", "st"}, // a sibling whose name starts like the state's
	} {
		cfg.Output, cfg.Failed, cfg.State = filepath.Join(dir, paths[0]), "", ""
		if paths[1] != "" {
			cfg.Failed = filepath.Join(dir, paths[1])
		}
		if paths[2] != "" {
			cfg.State = filepath.Join(dir, paths[2])
		}
		assert.NoError(t, cfg.CheckPaths(), "%v", paths)
	}
	cfg.Output, cfg.Failed, cfg.State = "/dev/null", "", ""
	cfg.Failed = filepath.Join(dir, "f.jsonl")
	assert.NoError(t, cfg.CheckPaths(), "a device")
	assert.Equal(t, []string{"old.jsonl"}, listDir(t, dir), "nothing created")
}

func mkdir(t *testing.T, dir, name string) {
	t.Helper()
	require.NoError(t, os.Mkdir(filepath.Join(dir, name), 0o755))
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
