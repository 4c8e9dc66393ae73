package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/source"
)

// committedDone counts the done records in the db, i.e. committed.
func committedDone(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		done := tx.Bucket(bucketDone)
		return done.ForEachBucket(func(k []byte) error {
			return done.Bucket(k).ForEach(func(_, _ []byte) error { n++; return nil })
		})
	}))
	return n
}

func TestGroupCommitAfterEveryNUpdates(t *testing.T) {
	s, err := Open(t.TempDir(), fp, WithCommitEvery(3), WithCommitInterval(time.Hour), WithClock(clockwork.NewFakeClock()))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.Done("p", 0))
	require.NoError(t, s.Done("p", 1))
	assert.Zero(t, committedDone(t, s), "2 updates of 3: nothing to commit yet")
	require.NoError(t, s.Done("p", 2))
	require.Eventually(t, func() bool { return committedDone(t, s) == 3 }, 10*time.Second, time.Millisecond)
	require.NoError(t, s.Done("p", 3))
	require.NoError(t, s.Done("p", 4))
	assert.Equal(t, 3, committedDone(t, s), "2 updates of the next 3 wait")
	require.NoError(t, s.Done("p", 5))
	require.Eventually(t, func() bool { return committedDone(t, s) == 6 }, 10*time.Second, time.Millisecond)
}

func TestGroupCommitAfterTheInterval(t *testing.T) {
	clock := clockwork.NewFakeClock()
	s, err := Open(t.TempDir(), fp, WithCommitEvery(1000), WithCommitInterval(100*time.Millisecond), WithClock(clock))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilContext(ctx, 1)) // the committer's ticker
	require.NoError(t, s.Done("p", 0))
	clock.Advance(99 * time.Millisecond)
	assert.Zero(t, committedDone(t, s))
	clock.Advance(time.Millisecond)
	require.Eventually(t, func() bool { return committedDone(t, s) == 1 }, 10*time.Second, time.Millisecond)
}

func TestCloseCommitsWhatIsPending(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	require.NoError(t, s.Done("p", 7))
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Done("p", 8), ErrClosed)
	assert.ErrorIs(t, s.Commit(), ErrClosed)

	s = open(t, dir)
	defer func() { require.NoError(t, s.Close()) }()
	assert.True(t, s.Resume().IsDone("p", 7))
}

// rec is an item of the engine test with its place in the source, which
// the handler needs for Journal.Append.
type rec struct {
	n     int
	page  source.Cursor
	index int
}

// placed yields a source's items with their places in their values.
type placed struct{ src source.Source[int] }

func (p placed) Next(ctx context.Context) (source.Item[rec], error) {
	it, err := p.src.Next(ctx)
	return source.Item[rec]{Value: rec{it.Value, it.Page, it.Index}, Index: it.Index, Count: it.Count, Page: it.Page, Next: it.Next}, err
}

func engineLine(n int) (out, failed []byte) {
	if n%7 == 0 {
		return nil, fmt.Appendf(nil, `{"failed":%d}`, n)
	}
	return fmt.Appendf(nil, `{"item":%d,"pad":"%s"}`, n, strings.Repeat("z", n%40)), nil
}

// TestEngineRunKilledAtRandomMomentsWritesEveryItemOnce runs the engine
// with the store as its checkpointer and the journal from its handler and
// failure sink, "kills" it (the store is abandoned without a commit, a
// partial line may follow) at a random moment of each run, and resumes,
// until a run finishes: every item is then in the files exactly once. A
// kill comes after the run's first group commit, so that every resume
// starts from a committed state however slow the disk's fsync is.
//
// A kill stops every handler at once, as a killed process stops: a handler
// that reaches it waits until the store is abandoned, however long a loaded
// machine takes to run the crash. So a killed run commits fewer items than
// its killAt, which the next resume checks, and every planned kill finds
// items left to happen at.
func TestEngineRunKilledAtRandomMomentsWritesEveryItemOnce(t *testing.T) {
	const n, kills = 4000, 12
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	group := 1 + rng.IntN(64) // the pages must be the same in every run, as a config's are
	var resumedWithProgress, killedRuns int
	var lastKillAt, lastLines int64 = -1, 0 // the last round's kill and the lines it resumed with
	for round := 0; ; round++ {
		require.LessOrEqual(t, round, kills+1, "the run after the kills finishes")
		committed := make(chan struct{})
		var once sync.Once
		s, j := journalOf(t, dir, WithCommitEvery(1+rng.IntN(40)), WithCommitInterval(time.Hour),
			WithAfterCommit(func() { once.Do(func() { close(committed) }) }))
		r := s.Resume()
		if r.Finished {
			require.NoError(t, s.Close())
			break
		}
		if r.Cursor != "" || r.DoneCount() > 0 {
			resumedWithProgress++
		}
		requireEngineConsistent(t, dir, r)
		// Each item has one line, so the lines count the items committed.
		lines := r.Lines["output"] + r.Lines["failed"]
		if lastKillAt >= 0 {
			require.Less(t, lines-lastLines, lastKillAt, "round %d: the killed run committed only items whose handlers ran before the kill", round-1)
		}
		lastLines = lines
		src, err := source.Range(0, n, 1, source.WithGroup(group), source.WithCursor(r.Cursor))
		require.NoError(t, err)

		// Late enough for group commits (killAt updates fill a batch); early
		// enough for every kill to happen: a killed run commits fewer than
		// killAt < n/kills items, so a run before the last kill finds more
		// than n/kills left.
		killAt := int64(-1)
		if round < kills {
			killAt = 50 + rng.Int64N(n/kills-50)
		}
		lastKillAt = killAt
		var handled atomic.Int64
		var killed atomic.Bool
		crashed := make(chan struct{})
		kill := func() {
			if killAt < 0 || handled.Add(1) < killAt {
				return
			}
			// A whole run can take less time than one commit's fsyncs, so
			// the kill waits for the first group commit (its batch is full:
			// killAt updates are more than a batch).
			select {
			case <-committed:
			case <-time.After(time.Minute):
				t.Errorf("round %d: no group commit a minute after %d items", round, killAt)
			}
			if killed.CompareAndSwap(false, true) {
				func() {
					defer close(crashed)
					crash(t, s)
				}()
			}
			// The other handlers wait for the crash: a killed process
			// does no more work, however long crash takes to get the
			// store's lock or to finish a commit under way.
			<-crashed
		}
		st, err := engine.NewJob(placed{src}, func(_ context.Context, v rec) error {
			kill()
			out, failed := engineLine(v.n)
			if failed != nil {
				return engine.Permanent(errors.New("bad item"))
			}
			return j.Append(v.page, v.index, out)
		}).WithSkip(func(it source.Item[rec]) bool { return r.IsDone(it.Page, it.Index) }).WithFailureSink(func(f engine.Failure[rec]) {
			if f.Reason == engine.ReasonInterrupted {
				return
			}
			_, failed := engineLine(f.Item.Value.n)
			_ = j.Append(f.Item.Page, f.Item.Index, nil, failed) // an error stops the run through the checkpointer
		}).Run(context.Background(),
			engine.WithCheckpoint(s),
			engine.WithLimitFunc(func() int { return 8 }),
			engine.WithRetry(engine.Retry{MaxAttempts: 1}))
		if killed.Load() {
			killedRuns++
			require.ErrorIs(t, err, ErrClosed, "the run ends at its next update of the state")
			if rng.IntN(2) == 0 {
				appendRaw(t, filepath.Join(dir, "out.jsonl"), `{"item":99999,"pa`)
			}
			continue
		}
		require.NoError(t, err)
		require.False(t, st.Interrupted)
		require.NoError(t, s.Finish())
		require.NoError(t, s.Close())
	}
	assert.Equal(t, kills, killedRuns)
	assert.Equal(t, kills, resumedWithProgress, "every run after a kill resumed from a committed state")

	got := map[string]int{}
	for _, name := range []string{"out.jsonl", "failed.jsonl"} {
		for _, l := range readLines(t, filepath.Join(dir, name)) {
			got[l]++
		}
	}
	for i := range n {
		out, failed := engineLine(i)
		l := string(out) + string(failed)
		assert.Equal(t, 1, got[l], "item %d", i)
		delete(got, l)
	}
	assert.Empty(t, got, "lines of no item")
}

// requireEngineConsistent checks a reopened state against its files: every
// line is of an item below the mark or recorded done, and the counts match.
func requireEngineConsistent(t *testing.T, dir string, r Resume) {
	t.Helper()
	var lines int64
	for _, name := range []string{"out.jsonl", "failed.jsonl"} {
		ls := readLines(t, filepath.Join(dir, name))
		lines += int64(len(ls))
		seen := map[string]bool{}
		for _, l := range ls {
			require.False(t, seen[l], "line twice: %s", l)
			seen[l] = true
		}
	}
	assert.Equal(t, r.Lines["output"]+r.Lines["failed"], lines)
}

func appendRaw(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
