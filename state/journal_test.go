package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/source"
)

// journalOf opens a store in dir with a journal of an output and a failed
// file in dir.
func journalOf(t *testing.T, dir string, opts ...Option) (*Store, *Journal) {
	t.Helper()
	s := open(t, dir, opts...)
	j, err := s.OpenJournal(File{Name: "output", Path: filepath.Join(dir, "out.jsonl")},
		File{Name: "failed", Path: filepath.Join(dir, "failed.jsonl")})
	require.NoError(t, err)
	return s, j
}

// readLines returns the lines of a journal file, failing on a partial last
// line.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	if len(b) == 0 {
		return nil
	}
	require.Equal(t, byte('\n'), b[len(b)-1], "%s ends with a partial line: %q", path, b[max(0, len(b)-40):])
	return strings.Split(string(b[:len(b)-1]), "\n")
}

// item i's line: even items succeed (output), every third odd one fails.
func lineOf(i int) (out, failed []byte) {
	if i%2 == 1 && i%3 == 0 {
		return nil, fmt.Appendf(nil, `{"failed":%d}`, i)
	}
	return fmt.Appendf(nil, `{"item":%d,"pad":"%s"}`, i, strings.Repeat("x", i%50)), nil
}

// appendItems appends items from..to-1 of page "p", skipping the done ones.
func appendItems(t *testing.T, j *Journal, r Resume, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if r.IsDone("p", i) {
			continue
		}
		out, failed := lineOf(i)
		require.NoError(t, j.Append("p", i, out, failed))
	}
}

// requireExactlyOnce checks that the journal's files hold exactly the lines
// of items 0..n-1, each once, and no partial line.
func requireExactlyOnce(t *testing.T, dir string, n int) {
	t.Helper()
	got := map[string]int{}
	for _, name := range []string{"out.jsonl", "failed.jsonl"} {
		for _, l := range readLines(t, filepath.Join(dir, name)) {
			got[l]++
		}
	}
	for i := range n {
		out, failed := lineOf(i)
		l := string(out) + string(failed)
		assert.Equal(t, 1, got[l], "item %d: %s", i, l)
		delete(got, l)
	}
	assert.Empty(t, got, "lines of no item")
}

// requireConsistent checks the invariant on a reopened state: the committed
// lines are exactly those of the items recorded as done.
func requireConsistent(t *testing.T, dir string, r Resume, n int) {
	t.Helper()
	want := map[string]bool{}
	for i := range n {
		if r.IsDone("p", i) {
			out, failed := lineOf(i)
			want[string(out)+string(failed)] = true
		}
	}
	got := map[string]bool{}
	var lines int64
	for _, name := range []string{"out.jsonl", "failed.jsonl"} {
		ls := readLines(t, filepath.Join(dir, name))
		lines += int64(len(ls))
		for _, l := range ls {
			assert.False(t, got[l], "line twice: %s", l)
			got[l] = true
		}
	}
	assert.Equal(t, want, got)
	assert.Equal(t, r.Lines["output"]+r.Lines["failed"], lines)
}

func TestJournalSurvivesACrashAtEveryStep(t *testing.T) {
	const n = 3000 // ~130 KiB of lines: more than one buffer, so some are written before a commit
	for _, tc := range []struct {
		name      string
		committed int // items whose commit completed before the crash
		crash     func(t *testing.T, s *Store, j *Journal, dir string)
	}{
		{"before any commit", 0, func(t *testing.T, s *Store, j *Journal, _ string) {
			appendItems(t, j, Resume{}, 0, n)
			crash(t, s)
		}},
		{"with lines buffered after a commit", 1000, func(t *testing.T, s *Store, j *Journal, _ string) {
			appendItems(t, j, Resume{}, 0, 1000)
			require.NoError(t, s.Commit())
			appendItems(t, j, Resume{}, 1000, 1010)
			crash(t, s)
		}},
		{"with lines written out after a commit", 1000, func(t *testing.T, s *Store, j *Journal, dir string) {
			appendItems(t, j, Resume{}, 0, 1000)
			require.NoError(t, s.Commit())
			appendItems(t, j, Resume{}, 1000, n)
			// The committer goroutine writes a full buffer out at once.
			require.Eventually(t, func() bool {
				fi, err := os.Stat(filepath.Join(dir, "out.jsonl"))
				return err == nil && fi.Size() > s.journal.files[0].committed
			}, 10*time.Second, time.Millisecond, "lines past the commit reach the file")
			crash(t, s)
		}},
		{"between fsync and commit", 1000, func(t *testing.T, s *Store, j *Journal, _ string) {
			appendItems(t, j, Resume{}, 0, 1000)
			require.NoError(t, s.Commit())
			appendItems(t, j, Resume{}, 1000, 2000)
			s.commitMu.Lock()
			c, err := s.prepare()
			require.NoError(t, err)
			require.NoError(t, c.sync())
			s.commitMu.Unlock()
			crash(t, s)
		}},
		{"in the middle of a line, after a commit", 2000, func(t *testing.T, s *Store, j *Journal, dir string) {
			appendItems(t, j, Resume{}, 0, 2000)
			require.NoError(t, s.Commit())
			crash(t, s)
			f, err := os.OpenFile(filepath.Join(dir, "out.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.WriteString(`{"item":2000,"pa`)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
		{"right after a commit", n, func(t *testing.T, s *Store, j *Journal, _ string) {
			appendItems(t, j, Resume{}, 0, n)
			require.NoError(t, s.Commit())
			crash(t, s)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, j := journalOf(t, dir)
			tc.crash(t, s, j, dir)

			s, j = journalOf(t, dir)
			r := s.Resume()
			assert.Equal(t, tc.committed, r.DoneCount())
			requireConsistent(t, dir, r, n)
			appendItems(t, j, r, 0, n) // the resumed run does what is not done
			require.NoError(t, s.Close())
			requireExactlyOnce(t, dir, n)

			s, j = journalOf(t, dir)
			assert.Equal(t, n, s.Resume().DoneCount())
			assert.Equal(t, s.Resume().Lines["output"], j.Lines(0))
			assert.Equal(t, int64(n), j.Lines(0)+j.Lines(1))
			require.NoError(t, s.Close())
		})
	}
}

func TestJournalRefusesAFileShorterThanItsCommit(t *testing.T) {
	dir := t.TempDir()
	s, j := journalOf(t, dir)
	appendItems(t, j, Resume{}, 0, 10)
	require.NoError(t, s.Close())
	out := filepath.Join(dir, "out.jsonl")
	require.NoError(t, os.Truncate(out, 5))

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	_, err := s.OpenJournal(File{Name: "output", Path: out})
	require.Error(t, err)
	assert.Contains(t, err.Error(), out+" has 5 bytes but the state committed")

	require.NoError(t, os.Remove(out))
	_, err = s.OpenJournal(File{Name: "output", Path: out})
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "the state has")
}

func TestJournalRefusesBadArguments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, tc := range []struct {
		name  string
		files []File
		want  string
	}{
		{"no files", nil, "no files"},
		{"no name", []File{{Path: a}}, "name and path are required"},
		{"no path", []File{{Name: "a"}}, "name and path are required"},
		{"name twice", []File{{"a", a}, {"a", b}}, `file name "a" given twice`},
		{"path twice", []File{{"a", a}, {"b", a}}, "path " + a + " given twice"},
		{"path under a file", []File{{"a", filepath.Join(dir, FileName, "x")}}, FileName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.OpenJournal(tc.files...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	j, err := s.OpenJournal(File{"a", a})
	require.NoError(t, err)
	_, err = s.OpenJournal(File{"b", b})
	assert.ErrorContains(t, err, "already has a journal")
	for _, tc := range []struct {
		name  string
		index int
		lines [][]byte
		want  string
	}{
		{"newline", 0, [][]byte{[]byte("a\nb")}, "the line for a contains a newline"},
		{"too many lines", 0, [][]byte{nil, nil}, "2 lines for 1 files"},
		{"negative index", -1, nil, "index -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorContains(t, j.Append("p", tc.index, tc.lines...), tc.want)
		})
	}
	require.NoError(t, j.Append("p", 0, []byte("ok")), "a refused Append breaks nothing")
}

func TestJournalWriteErrorKeepsTheLastCommit(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to simulate a full disk")
	}
	dir := t.TempDir()
	s := open(t, dir)
	j, err := s.OpenJournal(File{Name: "output", Path: "/dev/full"})
	require.NoError(t, err)
	require.NoError(t, j.Append("p", 0, nil)) // no line: recorded and committed
	require.NoError(t, s.Commit())
	require.NoError(t, j.Append("p", 1, []byte("line")))
	err = s.Commit()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/dev/full")
	assert.ErrorContains(t, j.Append("p", 2, []byte("x")), "/dev/full", "the error sticks")
	assert.ErrorContains(t, s.Done("p", 3), "/dev/full")
	assert.ErrorContains(t, s.Close(), "/dev/full")

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	assert.True(t, s.Resume().IsDone("p", 0))
	assert.False(t, s.Resume().IsDone("p", 1), "an item whose line was not written is not done")
}

func TestFullStateKeepsTheLastCommit(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Done("p", 0))
	require.NoError(t, s.Close())

	s, err := Open(dir, fp, WithCommitEvery(1<<30), func(o *options) { o.maxSize = 64 << 10 })
	require.NoError(t, err)
	for i := range 4000 {
		require.NoError(t, s.Done(source.Cursor("page-"+strconv.Itoa(i)), i))
	}
	err = s.Commit()
	require.Error(t, err)
	assert.Contains(t, err.Error(), s.Path())
	assert.ErrorContains(t, s.Close(), "maximum size")

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	assert.Equal(t, 1, s.Resume().DoneCount(), "the state is its last commit")
}

func TestJournalAppendsWholeLines(t *testing.T) {
	dir := t.TempDir()
	s, j := journalOf(t, dir)
	big := bytes.Repeat([]byte("y"), 3*flushAt) // larger than a buffer
	require.NoError(t, j.Append("p", 0, []byte("small")))
	require.NoError(t, j.Append("p", 1, big))
	require.NoError(t, j.Append("p", 2, nil, []byte("f")))
	require.NoError(t, j.Append("p", 3, []byte{}, nil)) // done, no line
	require.NoError(t, s.Close())
	assert.Equal(t, []string{"small", string(big)}, readLines(t, filepath.Join(dir, "out.jsonl")))
	assert.Equal(t, []string{"f"}, readLines(t, filepath.Join(dir, "failed.jsonl")))

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	r := s.Resume()
	assert.Equal(t, 4, r.DoneCount())
	assert.Equal(t, map[string]int64{"output": 2, "failed": 1}, r.Lines)
	assert.Equal(t, map[string]int64{"output": int64(len("small\n") + len(big) + 1), "failed": 2}, r.Offsets)
}

func TestJournalAsCheckpointerRecordsEachItemOnce(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, fp, WithCommitEvery(1<<30), WithCommitInterval(1<<62))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	j, err := s.OpenJournal(File{Name: "output", Path: filepath.Join(dir, "out.jsonl")})
	require.NoError(t, err)

	// As a run drives it: each item's line through Append, then the
	// engine's Done on the journal.
	for i := range 3 {
		require.NoError(t, j.Append("p", i, []byte(`{"i":`+strconv.Itoa(i)+`}`)))
		require.NoError(t, j.Done("p", i))
	}
	s.mu.Lock()
	updates, done := s.batch.updates, s.batch.done["p"]
	s.mu.Unlock()
	assert.Equal(t, 3, updates, "one update per item, so a batch of N commits every N items")
	assert.Equal(t, []int{0, 1, 2}, done)

	require.NoError(t, j.Mark("p", "q"))
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Equal(t, source.Cursor("q"), s.batch.mark, "Mark is the store's")
	assert.Empty(t, s.batch.done["p"], "a marked page needs no done records")
}
