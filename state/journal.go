package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/politely/politely/source"
)

// flushAt is how many buffered bytes of a file an Append hands to the
// store's committer goroutine to write out; a commit writes out the rest.
const flushAt = 64 << 10

// File is a file a Journal appends lines to.
type File struct {
	Name string // the key of its committed offset in the state, e.g. "output"; keep it across runs
	Path string // where it is; it may change between runs if the file moves with it
}

// Journal appends lines to files on behalf of a Store, so that an item's
// line and the record that the item is done are committed together. Get one
// from Store.OpenJournal; the Store's Close closes it.
//
// Append only copies a line into memory: the files are written by the
// store's committer goroutine (a full buffer at once, the rest at each
// commit), never under the lock Append takes. A write can wait on the file
// system (an append waits while a commit's fsync holds the file system's
// journal), and every item finishing meanwhile would wait with it.
type Journal struct {
	s     *Store
	files []*journalFile
	wmu   sync.Mutex // one writer of the files at a time, so buffers reach them in order
}

// journalFile is one file of a journal. buf, queued, spare, appended and
// lines are guarded by the store's mu; committed only commits touch (under
// commitMu). Only the journal's writer (under wmu) writes to f.
type journalFile struct {
	name, path string
	f          *os.File
	buf        []byte   // lines appended since the last hand-off
	queued     [][]byte // buffers handed off and not written yet, oldest first
	spare      []byte   // a written buffer, for buf to reuse
	appended   int64    // bytes appended, written or not: where the next line starts
	lines      int64    // lines appended, unwritten ones included
	committed  int64    // offset of the last commit
}

// fileState is a file's length and line count as a commit records them.
type fileState struct {
	name, path    string
	file          *os.File
	offset, lines int64
	changed       bool // longer than at the last commit
}

// OpenJournal opens the files the store's journal appends to. A file the
// state has an offset for is truncated to it, which drops whatever an
// interrupted run wrote after its last commit, a partial line included; one
// shorter than its offset is refused (it was changed since). A file the
// state has no offset for is created, or truncated to empty. A store has at
// most one journal.
func (s *Store) OpenJournal(files ...File) (*Journal, error) {
	if len(files) == 0 {
		return nil, errors.New("state: OpenJournal: no files")
	}
	names, paths := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		switch {
		case f.Name == "" || f.Path == "":
			return nil, fmt.Errorf("state: OpenJournal: file %q at %q: name and path are required", f.Name, f.Path)
		case names[f.Name]:
			return nil, fmt.Errorf("state: OpenJournal: file name %q given twice", f.Name)
		case paths[f.Path]:
			return nil, fmt.Errorf("state: OpenJournal: path %s given twice", f.Path)
		}
		names[f.Name], paths[f.Path] = true, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if s.journal != nil {
		return nil, errors.New("state: OpenJournal: the store already has a journal")
	}
	j := &Journal{s: s}
	for _, f := range files {
		jf, err := openJournalFile(f, s.start)
		if err != nil {
			_ = j.close()
			return nil, err
		}
		j.files = append(j.files, jf)
	}
	s.journal = j
	return j, nil
}

func openJournalFile(f File, res Resume) (*journalFile, error) {
	off, ok := res.Offsets[f.Name]
	if !ok {
		fd, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("state: journal %s: %w", f.Name, err)
		}
		// The state will count bytes of this file: its name must outlive a
		// power loss as its bytes do.
		if err := syncDir(filepath.Dir(f.Path)); err != nil {
			_ = fd.Close()
			return nil, fmt.Errorf("state: journal %s: %w", f.Name, err)
		}
		return &journalFile{name: f.Name, path: f.Path, f: fd}, nil
	}
	fd, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, os.ErrNotExist) && off == 0 {
		fd, err = os.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("state: journal %s: %w (the state has %d bytes of it)", f.Name, err, off)
	}
	fail := func(err error) (*journalFile, error) {
		_ = fd.Close()
		return nil, err
	}
	fi, err := fd.Stat()
	if err != nil {
		return fail(fmt.Errorf("state: journal %s: %w", f.Name, err))
	}
	if fi.Size() < off {
		return fail(fmt.Errorf("state: journal %s: %s has %d bytes but the state committed %d: it was changed since; reset the state to start over",
			f.Name, f.Path, fi.Size(), off))
	}
	if err := fd.Truncate(off); err != nil {
		return fail(fmt.Errorf("state: journal %s: truncate %s to its committed %d bytes: %w", f.Name, f.Path, off, err))
	}
	if _, err := fd.Seek(0, io.SeekEnd); err != nil {
		return fail(fmt.Errorf("state: journal %s: %w", f.Name, err))
	}
	return &journalFile{name: f.Name, path: f.Path, f: fd, appended: off, lines: res.Lines[f.Name], committed: off}, nil
}

// Append records that item index of page is done and appends its lines,
// lines[i] to the journal's file i (in OpenJournal's order), as one step: a
// commit counts both or neither. A nil or empty line writes nothing to its
// file; a line must not contain '\n', which Append adds. Call it once the
// item is finished for good and before the engine hears of it, i.e. from
// the handler or the failure sink; the engine's Done or Mark that follows
// is then consistent with it.
func (j *Journal) Append(page source.Cursor, index int, lines ...[]byte) error {
	if len(lines) > len(j.files) {
		return fmt.Errorf("state: Append: %d lines for %d files", len(lines), len(j.files))
	}
	if index < 0 || int64(index) > 1<<32-1 {
		return fmt.Errorf("state: Append: index %d of page %q out of range", index, page)
	}
	for i, l := range lines {
		if bytes.IndexByte(l, '\n') >= 0 {
			return fmt.Errorf("state: Append: the line for %s contains a newline", j.files[i].name)
		}
	}
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	for i, l := range lines {
		if len(l) == 0 {
			continue
		}
		f := j.files[i]
		f.buf = append(append(f.buf, l...), '\n')
		f.appended += int64(len(l)) + 1
		f.lines++
		if len(f.buf) >= flushAt {
			f.queueLocked()
			s.wakeWriter()
		}
	}
	s.batch.done[page] = append(s.batch.done[page], index)
	s.updatedLocked()
	return nil
}

// Done is the engine.Checkpointer's Done for a run whose lines go through
// the journal: Append already recorded the item together with its line, so
// there is nothing to add. An item finished without a line is not recorded
// and a resumed run does it again: it wrote nothing that could be duplicated.
func (j *Journal) Done(source.Cursor, int) error { return nil }

// Mark is the store's Mark: the journal is the whole engine.Checkpointer of
// a run that writes through it.
func (j *Journal) Mark(page, next source.Cursor) error { return j.s.Mark(page, next) }

// Lines returns the number of lines appended to file i (in OpenJournal's
// order), those of earlier runs that the state committed included.
func (j *Journal) Lines(i int) int64 {
	j.s.mu.Lock()
	defer j.s.mu.Unlock()
	return j.files[i].lines
}

// queueLocked hands f's buffer to the writer (see writeOut). The caller
// holds the store's mu.
func (f *journalFile) queueLocked() {
	f.queued = append(f.queued, f.buf)
	f.buf, f.spare = f.spare[:0], nil
}

// takeLocked hands every buffer to the writer and returns the files' states
// for a commit: the offsets of the lines appended so far, which the commit
// writes out (writeOut) before it fsyncs. The caller holds the store's mu.
func (j *Journal) takeLocked() []fileState {
	out := make([]fileState, len(j.files))
	for i, f := range j.files {
		if len(f.buf) > 0 {
			f.queueLocked()
		}
		out[i] = fileState{name: f.name, path: f.path, file: f.f, offset: f.appended, lines: f.lines,
			changed: f.appended != f.committed}
	}
	return out
}

// writeOut writes the buffers handed off so far to their files, each file's
// in the order they were appended. Once a write failed nothing more is
// written: the store's sticky error is returned, and a resumed run truncates
// the files to the last commit.
func (j *Journal) writeOut() error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	s := j.s
	for _, f := range j.files {
		s.mu.Lock()
		bufs, err := f.queued, s.err
		f.queued = nil
		s.mu.Unlock()
		for _, b := range bufs {
			if err != nil {
				return err
			}
			if _, werr := f.f.Write(b); werr != nil {
				err = s.fail(fmt.Errorf("state: journal %s: write %s: %w", f.name, f.path, werr))
			}
		}
		if err != nil {
			return err
		}
		if last := len(bufs) - 1; last >= 0 && cap(bufs[last]) <= 2*flushAt {
			s.mu.Lock()
			f.spare = bufs[last][:0]
			s.mu.Unlock()
		}
	}
	return nil
}

// committed notes the offsets a commit recorded.
func (j *Journal) committed(files []fileState) {
	for i, f := range files {
		j.files[i].committed = f.offset
	}
}

// close closes the files; a commit must have written their buffers.
func (j *Journal) close() error {
	var err error
	for _, f := range j.files {
		if cerr := f.f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("state: journal %s: close %s: %w", f.name, f.path, cerr))
		}
	}
	return err
}
