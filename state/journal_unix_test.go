//go:build unix

package state

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An append waits while the file system's journal commits (a commit's
// fsync): Append must not wait with it, or every item finishing meanwhile
// would. The output here is a pipe that is read only at the end: each write
// to it waits, and the appends go on.
func TestJournalAppendsWhileItsFileWaits(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	require.NoError(t, syscall.Mkfifo(out, 0o644))
	read := make(chan struct{})
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(out) // returns once the journal opens it
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		<-read
		b, _ := io.ReadAll(f)
		got <- b
	}()
	s := open(t, dir)
	j, err := s.OpenJournal(File{Name: "output", Path: out})
	require.NoError(t, err)

	const n = 1024 // 1 MiB of lines: 16 buffers, the pipe holds one
	line := bytes.Repeat([]byte("x"), 1023)
	appended := make(chan error, 1)
	go func() {
		for i := range n {
			if err := j.Append("p", i, line); err != nil {
				appended <- err
				return
			}
		}
		appended <- nil
	}()
	select {
	case err := <-appended:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		close(read) // let the writes through, so that the test ends
		<-appended
		t.Fatal("Append waited for the file")
	}
	assert.Equal(t, int64(n), j.Lines(0))

	// Read now: every buffer is full (64 lines), so the writer takes them
	// all, and writes what it took before it stops.
	close(read)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		f := j.files[0]
		return len(f.queued) == 0 && len(f.buf) == 0
	}, 30*time.Second, time.Millisecond)
	crash(t, s) // no commit: a pipe cannot be fsynced
	assert.Equal(t, bytes.Repeat(append(line, '\n'), n), <-got, "every line once, in order")
}
