package crawl

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// lineWriter appends whole JSON lines to a file. Writes are serialised by a
// mutex and buffered; Flush hands the buffer to the file, so a line is either
// entirely in the file or not at all (a crash loses at most the unflushed
// buffer, never half a line that was flushed). Offset, the length of what has
// been flushed, is what a resume state records as committed.
type lineWriter struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	buf    *bufio.Writer
	offset int64 // bytes flushed to the file
	err    error // the first write error; every later write returns it
}

// createLineWriter creates (or truncates) the file at path.
func createLineWriter(path string) (*lineWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &lineWriter{path: path, f: f, buf: bufio.NewWriterSize(f, 64<<10)}, nil
}

// WriteJSON marshals v and appends it as one line.
func (w *lineWriter) WriteJSON(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode line for %s: %w", w.path, err)
	}
	return w.WriteLine(append(line, '\n'))
}

// WriteLine appends line, one JSON line ending with '\n'; it does not keep
// line.
func (w *lineWriter) WriteLine(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	// A line larger than the free buffer space is flushed first, so that
	// bufio never splits a line across two file writes.
	if len(line) > w.buf.Available() && w.buf.Buffered() > 0 {
		if err := w.flushLocked(); err != nil {
			return err
		}
	}
	if _, err := w.buf.Write(line); err != nil {
		w.err = fmt.Errorf("write %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// Flush writes the buffered lines to the file and returns the file's
// committed length.
func (w *lineWriter) Flush() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.offset, w.err
	}
	err := w.flushLocked()
	return w.offset, err
}

func (w *lineWriter) flushLocked() error {
	n := w.buf.Buffered()
	if err := w.buf.Flush(); err != nil {
		w.err = fmt.Errorf("write %s: %w", w.path, err)
		return w.err
	}
	w.offset += int64(n)
	return nil
}

// Close flushes and closes the file.
func (w *lineWriter) Close() error {
	_, ferr := w.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.f.Close(); err != nil && ferr == nil {
		ferr = fmt.Errorf("close %s: %w", w.path, err)
	}
	return ferr
}
