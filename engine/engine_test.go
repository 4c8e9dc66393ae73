package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
)

// rangeOf returns a source of 0..n-1 in pages of group items.
func rangeOf(t *testing.T, n, group int) source.Source[int] {
	t.Helper()
	src, err := source.Range(0, n, 1, source.WithGroup(group))
	require.NoError(t, err)
	return src
}

// fixed returns a limit function that follows an atomic, for tests that move the limit.
func fixed(n *atomic.Int64) Option { return WithLimitFunc(func() int { return int(n.Load()) }) }

// limitOf returns WithLimitFunc of a constant.
func limitOf(n int) Option { return WithLimitFunc(func() int { return n }) }

// failures collects what reaches the failure sink.
type failures[T any] struct {
	mu  sync.Mutex
	all []Failure[T]
}

func (f *failures[T]) add(x Failure[T]) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all = append(f.all, x)
}

func (f *failures[T]) byReason() map[Reason]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[Reason]int{}
	for _, x := range f.all {
		m[x.Reason]++
	}
	return m
}

// requireBalanced checks that every item read is accounted for once.
func requireBalanced(t *testing.T, st Stats) {
	t.Helper()
	require.Equal(t, st.Read, st.Skipped+st.Succeeded+st.Failed+st.Unfinished, "read = skipped + succeeded + failed + unfinished in %+v", st.Counts)
}

func TestRunHandlesEveryItemOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	const n = 20000
	seen := make([]atomic.Int32, n)
	st, err := Run(context.Background(), rangeOf(t, n, 100), func(_ context.Context, v int) error {
		seen[v].Add(1)
		return nil
	}, limitOf(8), WithQueueSize(16))
	require.NoError(t, err)
	for i := range seen {
		require.EqualValues(t, 1, seen[i].Load(), "item %d", i)
	}
	assert.EqualValues(t, n, st.Read)
	assert.EqualValues(t, n, st.Succeeded)
	assert.EqualValues(t, n, st.Attempts)
	assert.Zero(t, st.Retries)
	assert.Equal(t, 8, st.MaxConsumers)
	assert.Equal(t, 8, st.FinalLimit)
	assert.False(t, st.Interrupted)
	requireBalanced(t, st)
}

func TestRunOnEmptySourceReturnsAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	st, err := Run(context.Background(), rangeOf(t, 0, 10), func(context.Context, int) error { return nil })
	require.NoError(t, err)
	assert.Zero(t, st.Read)
}

func TestOptionsAreValidated(t *testing.T) {
	l, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"queue size", WithQueueSize(0), "WithQueueSize: 0 must be >= 1"},
		{"max consumers", WithMaxConsumers(-1), "WithMaxConsumers: -1"},
		{"task timeout", WithTaskTimeout(0), "WithTaskTimeout"},
		{"drain timeout", WithDrainTimeout(-time.Second), "WithDrainTimeout"},
		{"progress", WithProgress(0, func(Progress) {}), "WithProgress"},
		{"nil limit func", WithLimitFunc(nil), "WithLimitFunc"},
		{"retry attempts", WithRetry(Retry{MaxAttempts: -1}), "Retry.MaxAttempts -1"},
		{"retry base above max", WithRetry(Retry{Base: time.Minute, Max: time.Second}), "Retry.Base 1m0s is above Retry.Max 1s"},
		{"retry ratio", WithRetry(Retry{BudgetRatio: -0.5}), "Retry.BudgetRatio"},
		{"nil checkpointer", WithCheckpoint(nil), "WithCheckpoint"},
		{"nil clock", WithClock(nil), "WithClock"},
		{"nil logger", WithLogger(nil), "WithLogger"},
		{"nil option", nil, "nil Option"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			_, err := Run(context.Background(), rangeOf(t, 3, 10), func(context.Context, int) error {
				called = true
				return nil
			}, tc.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, called, "no item may run with a bad option")
		})
	}
	t.Run("two limits", func(t *testing.T) {
		_, err := NewJob(rangeOf(t, 3, 10), func(context.Context, int) error { return nil }).WithLimiter(l, func(int) string { return "h" }).Run(context.Background(), limitOf(2))
		require.ErrorContains(t, err, "WithLimiter and WithLimitFunc")
	})
	t.Run("no source", func(t *testing.T) {
		_, err := Run[int](context.Background(), nil, func(context.Context, int) error { return nil })
		require.ErrorContains(t, err, "source")
	})
}

// TestJobSettingsAreValidated covers the settings a Job checks when it runs.
// A setting for another item type is not among them: it does not compile,
// e.g. NewJob(rangeOf(t, 3, 10), handle).WithFailureSink(func(Failure[string]) {})
// fails with "cannot use func(Failure[string]) {} (value of type
// func(Failure[string])) as func(Failure[int]) value in argument to ...".
func TestJobSettingsAreValidated(t *testing.T) {
	handle := func(context.Context, int) error { return nil }
	for _, tc := range []struct {
		name string
		job  func(Job[int]) Job[int]
		want string
	}{
		{"nil limiter", func(j Job[int]) Job[int] { return j.WithLimiter(nil, func(int) string { return "" }) }, "WithLimiter: a limiter and a key function are required"},
		{"nil sink", func(j Job[int]) Job[int] { return j.WithFailureSink(nil) }, "WithFailureSink: the sink is nil"},
		{"nil skip", func(j Job[int]) Job[int] { return j.WithSkip(nil) }, "WithSkip: the skip function is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := tc.job(NewJob(rangeOf(t, 3, 10), handle)).Run(context.Background())
			require.ErrorContains(t, err, "engine: "+tc.want)
			assert.Zero(t, st.Read, "no item may be read with a bad setting")
		})
	}
}

// items is a source of n items on pages of per items, whose Next calls
// are counted and which can fail after the last item.
type items struct {
	n, per int
	reads  atomic.Int64
	err    error // returned after the last item instead of io.EOF
}

func (s *items) Next(ctx context.Context) (source.Item[int], error) {
	if err := ctx.Err(); err != nil {
		return source.Item[int]{}, err
	}
	i := int(s.reads.Load())
	if i >= s.n {
		if s.err != nil {
			return source.Item[int]{}, s.err
		}
		return source.Item[int]{}, io.EOF
	}
	s.reads.Add(1)
	p := i / s.per
	count := min(s.per, s.n-p*s.per)
	return source.Item[int]{Value: i, Index: i % s.per, Count: count, Page: pageCursor(p), Next: pageCursor(p + 1)}, nil
}

func pageCursor(p int) source.Cursor { return source.Cursor(fmt.Sprintf("page:%d", p)) }

func TestSourceErrorEndsRunAfterItsItems(t *testing.T) {
	defer goleak.VerifyNone(t)
	boom := errors.New("page 3: decode items: unexpected EOF")
	src := &items{n: 25, per: 10, err: boom}
	var ran atomic.Int64
	st, err := Run[int](context.Background(), src, func(context.Context, int) error {
		ran.Add(1)
		return nil
	}, limitOf(3))
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "engine: source: page 3")
	assert.EqualValues(t, 25, ran.Load(), "the items read before the error are all handled")
	assert.EqualValues(t, 25, st.Succeeded)
	assert.False(t, st.Interrupted)
}
