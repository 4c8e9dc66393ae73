package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/politely/politely/source"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const fp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// open opens the state in dir with commits only when asked (a huge batch and
// interval), so that a test decides when they happen.
func open(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, fp, append([]Option{WithCommitEvery(1 << 30), WithCommitInterval(time.Hour)}, opts...)...)
	require.NoError(t, err)
	return s
}

// crash abandons s as a killed process would: no commit, buffered lines
// lost, the lock released.
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	s.closing = true
	s.err = ErrClosed
	j := s.journal
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	if j != nil {
		require.NoError(t, j.close())
	}
	require.NoError(t, s.db.Close())
}

func TestOpenFreshStateHasNothingToResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b") // created
	s := open(t, dir)
	assert.Equal(t, Resume{}, s.Resume())
	assert.Equal(t, filepath.Join(dir, FileName), s.Path())
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "a second Close is a no-op")
}

func TestOpenResumesWhatWasCommitted(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Mark("p1", "p2"))
	require.NoError(t, s.Done("p3", 4))
	require.NoError(t, s.Done("p3", 1))
	require.NoError(t, s.Done("", 0)) // the first page's cursor is ""
	s.SetCountersFunc(func() map[string]int64 { return map[string]int64{"requests": 12, "neg": -3} })
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	r := s.Resume()
	assert.True(t, r.Resumed)
	assert.False(t, r.Finished)
	assert.Equal(t, source.Cursor("p2"), r.Cursor)
	assert.Equal(t, int64(1), r.Marks)
	assert.Equal(t, 3, r.DoneCount())
	assert.True(t, r.IsDone("p3", 4))
	assert.True(t, r.IsDone("p3", 1))
	assert.True(t, r.IsDone("", 0))
	assert.False(t, r.IsDone("p3", 0))
	assert.False(t, r.IsDone("p1", 4))
	assert.Equal(t, map[string]int64{"requests": 12, "neg": -3}, r.Counters)
}

func TestMarkDropsThePagesDoneRecords(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Done("p1", 0))
	require.NoError(t, s.Done("p2", 0))
	require.NoError(t, s.Commit())
	require.NoError(t, s.Done("p1", 2))
	require.NoError(t, s.Mark("p1", "p2")) // drops the committed record and the pending one
	require.NoError(t, s.Close())

	s = open(t, dir)
	r := s.Resume()
	assert.Equal(t, source.Cursor("p2"), r.Cursor)
	assert.Equal(t, 1, r.DoneCount())
	assert.True(t, r.IsDone("p2", 0))
	require.NoError(t, s.Mark("p2", source.End))
	require.NoError(t, s.Close())

	s = open(t, dir)
	assert.Equal(t, source.End, s.Resume().Cursor)
	assert.Zero(t, s.Resume().DoneCount())
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		n := 0
		require.NoError(t, tx.Bucket(bucketDone).ForEachBucket(func([]byte) error { n++; return nil }))
		assert.Zero(t, n, "no page bucket is left behind")
		return nil
	}))
	require.NoError(t, s.Close())
}

func TestLongCursorsAreKept(t *testing.T) {
	dir := t.TempDir()
	long := source.Cursor("http://api.test/items?after=" + strings.Repeat("x", 40<<10)) // longer than a bbolt key
	s := open(t, dir)
	require.NoError(t, s.Done(long, 3))
	require.NoError(t, s.Done(long+"y", 1))
	require.NoError(t, s.Close())

	s = open(t, dir)
	r := s.Resume()
	assert.True(t, r.IsDone(long, 3))
	assert.False(t, r.IsDone(long, 1))
	assert.True(t, r.IsDone(long+"y", 1))
	require.NoError(t, s.Mark(long, long+"y"))
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	assert.Equal(t, long+"y", s.Resume().Cursor)
	assert.Equal(t, 1, s.Resume().DoneCount(), "the long page's records were dropped by its Mark")
}

func TestFinishIsKeptAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Mark("", source.End))
	require.NoError(t, s.Finish())
	require.NoError(t, s.Close())

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	assert.True(t, s.Resume().Finished)
	assert.Equal(t, source.End, s.Resume().Cursor)
}

func TestOpenRefusesAnotherFingerprint(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, open(t, dir).Close())
	_, err := Open(dir, "ffff"+fp[4:])
	var me *MismatchError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, fp, me.Stored)
	assert.Equal(t, "ffff"+fp[4:], me.Given)
	assert.Contains(t, err.Error(), filepath.Join(dir, FileName))
	assert.Contains(t, err.Error(), "another config")

	require.NoError(t, Reset(dir))
	s, err := Open(dir, "ffff"+fp[4:])
	require.NoError(t, err, "after Reset any config starts over")
	assert.False(t, s.Resume().Resumed)
	require.NoError(t, s.Close())
}

func TestOpenRefusesAStateInUse(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	began := time.Now()
	_, err := Open(dir, fp, WithLockTimeout(50*time.Millisecond))
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "state is in use by another process")
	assert.Contains(t, err.Error(), filepath.Join(dir, FileName))
	assert.Less(t, time.Since(began), 10*time.Second, "fails fast")

	require.ErrorIs(t, Reset(dir), ErrInUse, "a state in use is not deleted")
}

func TestResetWithoutStateSucceeds(t *testing.T) {
	require.NoError(t, Reset(t.TempDir()))
	require.NoError(t, Reset(filepath.Join(t.TempDir(), "missing")))
}

func TestOpenRefusesBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		dir  string
		fp   string
		opts []Option
		want string
	}{
		{"no dir", "", fp, nil, "directory is empty"},
		{"no fingerprint", dir, "", nil, "fingerprint is empty"},
		{"zero batch", dir, fp, []Option{WithCommitEvery(0)}, "WithCommitEvery must be at least 1, got 0"},
		{"zero interval", dir, fp, []Option{WithCommitInterval(0)}, "WithCommitInterval must be positive"},
		{"negative lock timeout", dir, fp, []Option{WithLockTimeout(-time.Second)}, "WithLockTimeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.dir, tc.fp, tc.opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// validState writes a state with a few pages of done records and returns
// its directory and the page (bbolt's) that holds the root of the records.
func validState(t *testing.T) (string, int64) {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir)
	for p := range 200 {
		for i := range 20 {
			require.NoError(t, s.Done(source.Cursor(fmt.Sprintf("page-%d", p)), i))
		}
	}
	require.NoError(t, s.Mark("page-0", "page-1"))
	s.SetCountersFunc(func() map[string]int64 { return map[string]int64{"requests": 5} })
	require.NoError(t, s.Commit())
	var root int64
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		root = int64(tx.Bucket(bucketDone).Root())
		return nil
	}))
	require.NoError(t, s.Close())
	return dir, root
}

func TestOpenRefusesADamagedStateFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, page int64)
	}{
		{"garbage over the whole file", func(t *testing.T, path string, _ int64) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			garbage := make([]byte, fi.Size())
			for i := range garbage {
				garbage[i] = byte(i*7 + 3)
			}
			require.NoError(t, os.WriteFile(path, garbage, 0o644))
		}},
		{"garbage over the meta pages", func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteAt(make([]byte, 2*os.Getpagesize()), 0)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"garbage over a page of done records", func(t *testing.T, path string, page int64) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			require.NoError(t, err)
			junk := make([]byte, os.Getpagesize())
			for i := range junk {
				junk[i] = 0xff
			}
			_, err = f.WriteAt(junk, page*int64(os.Getpagesize()))
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"a freelist page running past the file", func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			m0, ok0, err := readMeta(f, 0)
			require.NoError(t, err)
			m1, ok1, err := readMeta(f, int64(os.Getpagesize()))
			require.NoError(t, err)
			require.True(t, ok0 && ok1)
			m := m0
			if m1.txid > m0.txid {
				m = m1
			}
			require.NotEqual(t, noFreelist, m.freelist)
			// A header that is right but for its overflow: 2³¹ pages.
			_, err = f.WriteAt([]byte{0xff, 0xff, 0xff, 0x7f}, int64(m.freelist*m.pageSize)+12)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"truncated to half", func(t *testing.T, path string, _ int64) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/2))
		}},
		{"truncated to 100 bytes", func(t *testing.T, path string, _ int64) {
			require.NoError(t, os.Truncate(path, 100))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, page := validState(t)
			path := filepath.Join(dir, FileName)
			tc.damage(t, path, page)
			_, err := Open(dir, fp, WithLockTimeout(100*time.Millisecond))
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), path)

			require.NoError(t, Reset(dir), "a damaged state can be reset")
			s, err := Open(dir, fp)
			require.NoError(t, err)
			assert.False(t, s.Resume().Resumed)
			require.NoError(t, s.Close())
		})
	}
}

func TestOpenNamesAnUnusableDirectory(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	t.Run("below a file", func(t *testing.T) {
		dir := filepath.Join(file, "state")
		_, err := Open(dir, fp)
		require.Error(t, err)
		assert.Contains(t, err.Error(), dir)
		assert.ErrorIs(t, err, errNotDir(t))
	})
	t.Run("read-only", func(t *testing.T) {
		dir := filepath.Join(base, "ro")
		require.NoError(t, os.Mkdir(dir, 0o500))
		if probe, err := os.Create(filepath.Join(dir, "probe")); err == nil {
			_ = probe.Close()
			t.Skip("the directory is writable despite mode 0500 (running as root)")
		}
		_, err := Open(dir, fp)
		require.ErrorIs(t, err, os.ErrPermission)
		assert.Contains(t, err.Error(), filepath.Join(dir, FileName))
	})
}

// errNotDir is the error the OS gives for a path below a regular file.
func errNotDir(t *testing.T) error {
	_, err := os.Stat(filepath.Join(os.Args[0], "x"))
	var pe *os.PathError
	require.True(t, errors.As(err, &pe))
	return pe.Err
}

func TestSyncDirNamesAMissingDirectory(t *testing.T) {
	require.NoError(t, syncDir(t.TempDir()))
	missing := filepath.Join(t.TempDir(), "missing")
	err := syncDir(missing)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), missing)
}
