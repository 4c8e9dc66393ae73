package state

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/source"
)

// copyDir copies the regular files of src into dst. It runs on the
// committer's goroutine, where a test may not stop.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// TestCrashRightAfterACommitKeepsCountersAsFreshAsTheLines appends lines
// from several goroutines, each counting its line before appending it, with
// group commits every few updates, and copies the state and the journal's
// file right after one commit (a crash at that moment): the copy's counter
// is at least its line count. The goroutines append until the copy is taken
// (at most 25,000 lines each): on a loaded machine the committer may not run
// before a fixed number of lines are all appended.
func TestCrashRightAfterACommitKeepsCountersAsFreshAsTheLines(t *testing.T) {
	dir, copied := t.TempDir(), t.TempDir()
	var (
		appended    atomic.Int64
		commits     atomic.Int64
		copiedLines atomic.Int64 // lines counted when the copy was taken; 0 before
	)
	s, err := Open(dir, fp, WithCommitEvery(7), WithCommitInterval(time.Millisecond),
		WithAfterCommit(func() {
			if n := appended.Load(); commits.Add(1) > 1 && copiedLines.Load() == 0 && n >= 500 {
				if err := copyDir(dir, copied); err != nil {
					t.Error(err)
				}
				copiedLines.Store(n)
			}
		}))
	require.NoError(t, err)
	s.SetCountersFunc(func() map[string]int64 { return map[string]int64{"appended": appended.Load()} })
	j, err := s.OpenJournal(File{Name: "out", Path: filepath.Join(dir, "out.jsonl")})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 25_000 && copiedLines.Load() == 0; i++ {
				appended.Add(1)
				if err := j.Append(source.Cursor(fmt.Sprint(w)), i, []byte("line")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.Close())
	require.Positive(t, copiedLines.Load(), "no commit after 500 lines")

	s = open(t, copied)
	defer func() { require.NoError(t, s.Close()) }()
	r := s.Resume()
	require.Positive(t, r.Lines["out"])
	assert.GreaterOrEqual(t, r.Counters["appended"], r.Lines["out"], "no line without its count")
	assert.LessOrEqual(t, r.Counters["appended"], copiedLines.Load(), "counted by the commit before the copy")
}

func TestCommitStoresCountersThatChangedAlone(t *testing.T) {
	dir := t.TempDir()
	commits := 0
	s := open(t, dir, WithAfterCommit(func() { commits++ }))
	var n atomic.Int64
	s.SetCountersFunc(func() map[string]int64 { return map[string]int64{"requests": n.Load()} })
	require.NoError(t, s.Commit())
	assert.Equal(t, 1, commits, "the first counters are committed without any other update")
	require.NoError(t, s.Commit())
	assert.Equal(t, 1, commits, "unchanged: nothing to commit")
	n.Store(3)
	require.NoError(t, s.Commit())
	assert.Equal(t, 2, commits, "a changed counter is committed without any other update")
	crash(t, s)

	s = open(t, dir)
	assert.Equal(t, map[string]int64{"requests": 3}, s.Resume().Counters)
	commits = 0
	s.SetCountersFunc(func() map[string]int64 { return map[string]int64{"requests": 3} })
	require.NoError(t, s.Close())
	assert.Equal(t, 0, commits, "the counters a resumed state holds are not written again")
}

func TestEmptyCounterNameFailsTheCommit(t *testing.T) {
	s := open(t, t.TempDir())
	s.SetCountersFunc(func() map[string]int64 { return map[string]int64{"": 1} })
	err := s.Commit()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "empty counter name")
	assert.ErrorIs(t, s.Done("p", 0), err, "sticky")
	assert.Equal(t, err, s.Close())
}

func TestMarksAreCountedAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Mark("", "p2"))
	require.NoError(t, s.Mark("p2", "p3"))
	require.NoError(t, s.Close())

	s = open(t, dir)
	assert.Equal(t, int64(2), s.Resume().Marks)
	require.NoError(t, s.Mark("p3", "p4"))
	require.NoError(t, s.Commit())
	require.NoError(t, s.Mark("p4", "p5"))
	crash(t, s) // the last mark is lost with its count

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	assert.Equal(t, int64(3), s.Resume().Marks)
	assert.Equal(t, source.Cursor("p4"), s.Resume().Cursor)
}
