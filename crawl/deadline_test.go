package crawl

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// awaitDone fails the test unless ctx is done within a bound wide enough
// for a loaded machine.
func awaitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not done after 10 s", what)
	}
}

// requireEmpty checks that d holds no request and follows no caller a
// request is under.
func requireEmpty(t *testing.T, d *deadlines) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.lists {
		require.Nil(t, l.head, "timeout %v: a request left in its list", l.timeout)
		require.Nil(t, l.tail, "timeout %v", l.timeout)
	}
	for _, f := range d.follows {
		require.Zero(t, f.live, "a caller followed for requests that ended")
	}
}

// TestTimedEndsAtItsTimeout starts requests under two timeouts: those of
// the short one end with context.DeadlineExceeded, and so does a context
// made under one of them (as net/http makes for each request), with that
// cause; the other is not done until it is ended.
func TestTimedEndsAtItsTimeout(t *testing.T) {
	var d deadlines
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	first := d.start(parent, 30*time.Millisecond)
	long := d.start(parent, time.Hour)
	second := d.start(parent, 30*time.Millisecond)
	child, stop := context.WithCancelCause(second)
	defer stop(nil)

	awaitDone(t, first, "first")
	awaitDone(t, child, "the context under the second")
	assert.GreaterOrEqual(t, time.Since(began), 30*time.Millisecond)
	assert.Equal(t, context.DeadlineExceeded, first.Err())
	assert.Equal(t, context.DeadlineExceeded, second.Err())
	assert.ErrorIs(t, context.Cause(child), context.DeadlineExceeded)
	deadline, ok := first.Deadline()
	assert.True(t, ok)
	assert.WithinDuration(t, began.Add(30*time.Millisecond), deadline, time.Second)

	require.NoError(t, long.Err())
	select {
	case <-long.Done():
		t.Fatal("the request under an hour's timeout is done")
	default:
	}
	d.end(long, context.Canceled)
	assert.Equal(t, context.Canceled, long.Err())
	requireEmpty(t, &d)
}

// TestTimedEndsOutOfOrder ends the middle one of three requests before
// their timeout: the other two still end at theirs, and the ended one
// keeps its error.
func TestTimedEndsOutOfOrder(t *testing.T) {
	var d deadlines
	a := d.start(context.Background(), 40*time.Millisecond)
	b := d.start(context.Background(), 40*time.Millisecond)
	c := d.start(context.Background(), 40*time.Millisecond)
	d.end(b, context.Canceled)
	awaitDone(t, a, "a")
	awaitDone(t, c, "c")
	assert.Equal(t, context.DeadlineExceeded, a.Err())
	assert.Equal(t, context.Canceled, b.Err())
	assert.Equal(t, context.DeadlineExceeded, c.Err())
	requireEmpty(t, &d)
}

// TestTimedFollowsItsCaller cancels the caller's context of requests under
// an hour's timeout: whoever looks at a request's context sees the
// caller's error at once (not a timeout), a context made under it ends too,
// the caller's values pass through, and a request started under the
// cancelled caller is done from the start.
func TestTimedFollowsItsCaller(t *testing.T) {
	type key struct{}
	var d deadlines
	shared, cancel := context.WithCancel(context.Background())
	parent := context.WithValue(shared, key{}, "task 7")
	first := d.start(parent, time.Hour)
	second := d.start(context.WithValue(shared, key{}, "task 8"), time.Hour)
	child, stop := context.WithCancelCause(second)
	defer stop(nil)
	assert.Equal(t, "task 7", first.Value(key{}))
	require.NoError(t, first.Err())

	cancel()
	assert.Equal(t, context.Canceled, first.Err(), "seen at once")
	awaitDone(t, child, "the context under the second request")
	awaitDone(t, second, "the second request")
	assert.Equal(t, context.Canceled, second.Err())
	assert.ErrorIs(t, context.Cause(child), context.Canceled)

	late := d.start(parent, time.Hour)
	select {
	case <-late.Done():
	default:
		t.Fatal("a request started under a cancelled caller is not done")
	}
	assert.Equal(t, context.Canceled, late.Err())
	requireEmpty(t, &d)
}

// TestTimedAfterFunc checks AfterFunc's contract: a function runs once
// after the context is done, one stopped before never runs (stop says
// true, then false), and one registered once it is done runs anyway.
func TestTimedAfterFunc(t *testing.T) {
	var d deadlines
	c := d.start(context.Background(), time.Hour)
	ran := make(chan string, 3)
	stopFirst := c.AfterFunc(func() { ran <- "first" })
	stopSecond := c.AfterFunc(func() { ran <- "second" })
	assert.True(t, stopSecond())
	assert.False(t, stopSecond())
	d.end(c, context.Canceled)
	d.end(c, context.DeadlineExceeded) // a second end changes nothing
	assert.Equal(t, "first", <-ran)
	assert.False(t, stopFirst(), "it ran")
	c.AfterFunc(func() { ran <- "late" })
	assert.Equal(t, "late", <-ran)
	assert.Equal(t, context.Canceled, c.Err())
	select {
	case s := <-ran:
		t.Fatalf("%s ran", s)
	case <-time.After(20 * time.Millisecond):
	}
}

// TestDeadlinesForgetCallersNoRequestIsUnder starts one request under each
// of many callers that are never done: the callers followed stay bounded,
// and none is followed once the crawl releases them.
func TestDeadlinesForgetCallersNoRequestIsUnder(t *testing.T) {
	var d deadlines
	for i := range 1000 {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := d.start(parent, time.Hour)
		d.end(c, context.Canceled)
		d.mu.Lock()
		n := len(d.follows)
		d.mu.Unlock()
		require.LessOrEqual(t, n, 128, "after %d callers", i+1)
	}
	d.release()
	d.mu.Lock()
	defer d.mu.Unlock()
	assert.Empty(t, d.follows)
	assert.Nil(t, d.last)
}

// TestDeadlinesUnderConcurrency runs requests from many goroutines at once,
// under a caller shared by all, callers of their own that some cancel, and
// none; with a short and an hour's timeout; ended by the wire, by their
// timeout or by their caller. Each ends with the error of what came first
// (a context made under it too): never a timeout before its time, never
// one of an hour.
func TestDeadlinesUnderConcurrency(t *testing.T) {
	var d deadlines
	shared, cancelShared := context.WithCancel(context.Background())
	defer cancelShared()
	const short = 2 * time.Millisecond
	var timedOut, callerEnded, ended atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 150 {
				var parent context.Context
				var cancel context.CancelFunc = func() {}
				switch rng.IntN(3) {
				case 0:
					parent = shared
				case 1:
					parent, cancel = context.WithCancel(context.Background())
				default:
					parent = context.Background()
				}
				timeout := short
				if rng.IntN(2) == 0 {
					timeout = time.Hour
				}
				began := time.Now()
				c := d.start(parent, timeout)
				child, stop := context.WithCancelCause(c)
				byCaller, callerCancelled := false, false
				switch rng.IntN(3) {
				case 0:
					d.end(c, context.Canceled)
				case 1:
					if timeout == short {
						<-c.Done()
						break
					}
					fallthrough
				default:
					if parent != shared && parent != context.Background() {
						cancel()
						callerCancelled = true
						<-c.Done()
						byCaller = true
						break
					}
					d.end(c, context.Canceled)
				}
				<-child.Done()
				stop(nil)
				cancel()
				err := c.Err()
				took := time.Since(began)
				switch {
				case err == context.DeadlineExceeded && timeout == short && took >= timeout:
					timedOut.Add(1)
				case err == context.Canceled && byCaller:
					callerEnded.Add(1)
				case err == context.Canceled:
					ended.Add(1)
				default:
					t.Errorf("goroutine %d, request %d: %v after %v of %v", g, i, err, took, timeout)
					return
				}
				// A context made under a request that timed out just before
				// its caller was cancelled may give the caller's cause: as
				// for any context whose Value reaches its caller's.
				if cause := context.Cause(child); cause != err && !(callerCancelled && cause == context.Canceled) {
					t.Errorf("goroutine %d, request %d: the cause under it is %v, want %v", g, i, cause, err)
					return
				}
			}
		})
	}
	wg.Wait()
	requireEmpty(t, &d)
	assert.Positive(t, timedOut.Load())
	assert.Positive(t, callerEnded.Load())
	assert.Equal(t, int64(8*150), timedOut.Load()+callerEnded.Load()+ended.Load())
	d.release()
	d.mu.Lock()
	defer d.mu.Unlock()
	assert.LessOrEqual(t, len(d.follows), 1, "only the shared caller may be followed")
}
