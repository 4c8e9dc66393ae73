package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/politely/politely/source"
)

// FuzzOpen opens arbitrary bytes as a state file: Open either refuses them
// with ErrCorrupt (or a mismatch) or returns a usable store; it never
// panics or crashes.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(dir, fp)
	if err != nil {
		f.Fatal(err)
	}
	for _, page := range []source.Cursor{"", "p1", "p2"} {
		if err := s.Done(page, 3); err != nil {
			f.Fatal(err)
		}
	}
	s.SetCountersFunc(func() map[string]int64 { return map[string]int64{"requests": 9} })
	if err := errors.Join(s.Mark("p0", "p1"), s.Close()); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[:2*os.Getpagesize()])
	f.Add([]byte("not a bbolt file"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, fp)
		var me *MismatchError
		switch {
		case err == nil:
			if err := s.Done("p", 1); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Logf("close: %v", err)
			}
		case errors.Is(err, ErrCorrupt), errors.As(err, &me):
		default:
			t.Fatalf("neither corrupt nor a mismatch: %v", err)
		}
	})
}
