package redisstate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/internal/redistest"
	"github.com/politely/politely/limiter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const fpA, fpB = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func open(t *testing.T, url, fp, worker string, opts ...Option) *Crawl {
	t.Helper()
	c, err := Open(context.Background(), url, fp, append([]Option{WithWorker(worker)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestOpenRefusesAnotherConfigUntilReset(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := open(t, srv.URL(), fpA, "w1")
	_, err := Open(ctx, srv.URL(), fpB)
	var me *MismatchError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, fpA, me.Stored)
	_, err = Open(ctx, srv.URL(), fpB, Observing())
	require.ErrorAs(t, err, &me)

	require.NoError(t, Reset(ctx, a.Client(), fpB))
	n, err := a.Client().Keys(ctx, "politely:*").Result()
	require.NoError(t, err)
	assert.Empty(t, n, "reset deletes the old crawl's keys")
	open(t, srv.URL(), fpB, "w2")
}

func TestUnreachableRedisNamesTheURLWithoutItsPassword(t *testing.T) {
	_, err := Open(context.Background(), "redis://user:s3cret@127.0.0.1:1/0", fpA)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:1")
	assert.Contains(t, err.Error(), "unreachable")
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestListingLeaseIsExclusiveAndLapsesWhenItsHolderStops(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := open(t, srv.URL(), fpA, "a", WithLeaseTTL(300*time.Millisecond))
	b := open(t, srv.URL(), fpA, "b", WithLeaseTTL(300*time.Millisecond))

	l, ok, err := a.TakeLease(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "", l.Cursor)
	_, err = a.AddPage(ctx, "", "p2", false, [][]byte{[]byte("x1"), []byte("x2")})
	require.NoError(t, err)

	_, ok, err = b.TakeLease(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "a holds the lease")
	_, err = b.AddPage(ctx, "p2", "p3", false, [][]byte{[]byte("y")})
	assert.ErrorIs(t, err, ErrLeaseLost)

	time.Sleep(400 * time.Millisecond) // a stops renewing: the lease lapses
	l, ok, err = b.TakeLease(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "p2", l.Cursor, "b continues from the stored cursor")
	assert.ErrorIs(t, a.RenewLease(ctx), ErrLeaseLost)

	// A retried store of the same page adds nothing twice.
	for range 2 {
		n, err := b.AddPage(ctx, "p2", "", true, [][]byte{[]byte("x3")})
		require.NoError(t, err)
		assert.EqualValues(t, 3, n)
	}
	st, err := b.Status(ctx)
	require.NoError(t, err)
	assert.True(t, st.Exhausted)
	assert.EqualValues(t, 2, st.Pages)
	assert.EqualValues(t, 3, st.Items.Listed)
	_, ok, err = a.TakeLease(ctx)
	require.NoError(t, err)
	assert.True(t, ok)
}

// The items a dead worker held are taken back a batch after another, as
// fast as the survivor reads, not one batch per claim interval.
func TestTheItemsOfASilentWorkerAreTakenBackBatchAfterBatch(t *testing.T) {
	ctx := context.Background()
	page := make([][]byte, 50)
	for i := range page {
		page[i] = fmt.Appendf(nil, "item %d", i)
	}
	a, b := twoWorkersAndAPage(t, page)
	held, err := a.Read(ctx, 50, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, held, 50)

	time.Sleep(1100 * time.Millisecond) // past the visibility timeout and the claim interval: a went silent
	taken := 0
	for range 5 { // five batches of 10, read back to back
		got, err := b.Read(ctx, 10, 10*time.Millisecond)
		require.NoError(t, err)
		taken += len(got)
	}
	assert.Equal(t, 50, taken, "every item of the silent worker, a batch per read")
}

// twoWorkersAndAPage opens workers a and b of one crawl on a Redis of the
// test's own, with a visibility timeout of 100 ms, and has a walk a
// listing of one page.
func twoWorkersAndAPage(t *testing.T, page [][]byte) (a, b *Crawl) {
	t.Helper()
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a = open(t, srv.URL(), fpA, "a", WithVisibility(100*time.Millisecond))
	b = open(t, srv.URL(), fpA, "b", WithVisibility(100*time.Millisecond))
	_, _, err := a.TakeLease(ctx)
	require.NoError(t, err)
	_, err = a.AddPage(ctx, "", "", true, page)
	require.NoError(t, err)
	return a, b
}

func TestAnItemTakenTwiceIsStoredOnce(t *testing.T) {
	ctx := context.Background()
	a, b := twoWorkersAndAPage(t, [][]byte{[]byte("only")})

	got, err := a.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "only", string(got[0].Payload))

	time.Sleep(1100 * time.Millisecond) // past the visibility timeout and the claim interval: a went silent
	again, err := b.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, again, 1, "b takes over the item of the silent worker")
	assert.Equal(t, got[0].ID, again[0].ID)

	stored, err := b.Finish(ctx, again[0].ID, []byte(`{"n":1}`), false)
	require.NoError(t, err)
	assert.True(t, stored)
	stored, err = a.Finish(ctx, got[0].ID, []byte(`{"n":1}`), false)
	require.NoError(t, err)
	assert.False(t, stored, "the late copy writes nothing")

	done, err := a.Finished(ctx)
	require.NoError(t, err)
	assert.True(t, done)
	dir := t.TempDir()
	out, failed, err := a.Export(ctx, filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "failed.jsonl"))
	require.NoError(t, err)
	assert.EqualValues(t, 1, out)
	assert.EqualValues(t, 0, failed)
	data, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, "{\"n\":1}\n", string(data))
}

func TestHoldKeepsALiveWorkersItemsAndGivebackFreesThem(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := open(t, srv.URL(), fpA, "a", WithVisibility(300*time.Millisecond))
	b := open(t, srv.URL(), fpA, "b", WithVisibility(300*time.Millisecond))
	_, _, err := a.TakeLease(ctx)
	require.NoError(t, err)
	_, err = a.AddPage(ctx, "", "", true, [][]byte{[]byte("1")})
	require.NoError(t, err)
	got, err := a.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, got, 1)
	for range 6 {
		time.Sleep(200 * time.Millisecond)
		require.NoError(t, a.Hold(ctx, []string{got[0].ID}))
	}
	b.lastClaim.Store(0)
	none, err := b.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	assert.Empty(t, none, "a still holds its item")

	require.NoError(t, a.Giveback(ctx, []string{got[0].ID}))
	b.lastClaim.Store(0)
	freed, err := b.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	assert.Len(t, freed, 1)
}

func TestRedisRestartWithAOFLosesNothingFinished(t *testing.T) {
	srv := redistest.Start(t, true)
	ctx := context.Background()
	c := open(t, srv.URL(), fpA, "a", WithOutage(20*time.Second))
	_, _, err := c.TakeLease(ctx)
	require.NoError(t, err)
	var items [][]byte
	for i := range 20 {
		items = append(items, fmt.Appendf(nil, "%d", i))
	}
	_, err = c.AddPage(ctx, "", "", true, items)
	require.NoError(t, err)
	got, err := c.Read(ctx, 20, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, got, 20)
	for _, e := range got[:10] {
		_, err := c.Finish(ctx, e.ID, e.Payload, false)
		require.NoError(t, err)
	}

	// Redis goes down for a while; the calls made meanwhile wait it out.
	finished := make(chan error, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		for _, e := range got[10:] {
			if _, err := c.Finish(ctx, e.ID, e.Payload, false); err != nil {
				finished <- err
				return
			}
		}
		finished <- nil
	}()
	srv.Restart(500 * time.Millisecond)
	require.NoError(t, <-finished)

	done, err := c.Finished(ctx)
	require.NoError(t, err)
	assert.True(t, done)
	dir := t.TempDir()
	n, _, err := c.Export(ctx, filepath.Join(dir, "out"), filepath.Join(dir, "failed"))
	require.NoError(t, err)
	assert.EqualValues(t, 20, n)
	data, err := os.ReadFile(filepath.Join(dir, "out"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		assert.False(t, seen[l], "line %s twice", l)
		seen[l] = true
	}
	assert.Len(t, seen, 20)
}

func TestSharedGateClosesTheHostForEveryWorker(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := NewShared(open(t, srv.URL(), fpA, "a"))
	b := NewShared(open(t, srv.URL(), fpA, "b"))
	require.NoError(t, a.Gate(ctx, "api:443", time.Now().Add(2*time.Second), limiter.SharedRate{}))
	got, err := b.Allow(ctx, "api:443", limiter.SharedRate{})
	require.NoError(t, err)
	assert.Equal(t, refresh, got.Wait, "a request held by the gate asks again every refresh interval")
	assert.True(t, got.Again)
	got, err = b.Allow(ctx, "other:443", limiter.SharedRate{})
	require.NoError(t, err)
	assert.Zero(t, got.Wait)
}

func TestSharedGateIsPushedToTheOtherWorkersBeforeTheirRefresh(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	got, err := b.Allow(ctx, "api:443", limiter.SharedRate{})
	require.NoError(t, err)
	require.Zero(t, got.Wait)
	// b's view is fresh (its clock stands still): only the push tells it.
	until := now.Add(time.Second)
	require.NoError(t, a.Gate(ctx, "api:443", until, limiter.SharedRate{}))
	assert.Eventually(t, func() bool {
		got, err := b.Allow(ctx, "api:443", limiter.SharedRate{})
		return err == nil && got.Again && got.Gate.Equal(time.UnixMilli(until.Add(time.Millisecond-1).UnixMilli()))
	}, 5*time.Second, 5*time.Millisecond)
}

func TestAGateIsNeverToldToAnotherWorkerEarlierThanItIs(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	allowed(t, b, limiter.SharedRate{})
	// A Retry-After read 0.9 ms into a millisecond: the gate is carried in
	// whole milliseconds, and a request the other worker holds for it must
	// not go before it (it would reach the server inside the wait).
	until := now.Add(time.Second + 900*time.Microsecond)
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{}))
	var pushed time.Time
	require.Eventually(t, func() bool {
		pushed = allowed(t, b, limiter.SharedRate{}).Gate
		return !pushed.IsZero()
	}, 5*time.Second, 5*time.Millisecond, "the push reaches b")
	assert.False(t, pushed.Before(until), "the pushed gate %v is before the gate %v", pushed, until)
	// A worker that reads the gate at its refresh reads it the same way.
	c := clocked(t, srv.URL(), "c", &now)
	read := allowed(t, c, limiter.SharedRate{}).Gate
	assert.False(t, read.Before(until), "the gate read %v is before the gate %v", read, until)
}

func TestAGatePushedByAnotherWorkerHoldsARequestWhosePermitWasTakenBefore(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := NewShared(open(t, srv.URL(), fpA, "a"))
	lim, err := limiter.New(limiter.Config{}, limiter.WithShared(NewShared(open(t, srv.URL(), fpA, "b"))))
	require.NoError(t, err)
	h := lim.Host("api:443")
	// b's request has its permit (the store let it go) and waits for its
	// connection when a's 429 closes the gate.
	p, err := h.Acquire(ctx)
	require.NoError(t, err)
	defer p.Release(limiter.Ignored)
	require.NoError(t, a.Gate(ctx, "api:443", time.Now().Add(2*time.Second), limiter.SharedRate{}))
	// The push closes b's own gate, which the transport reads last before
	// it writes the request (AwaitGate), while b asks the store nothing.
	require.Eventually(t, func() bool { return !h.Snapshot().GateUntil.IsZero() }, 5*time.Second, 5*time.Millisecond,
		"the gate pushed reaches the host without a request asking the store")
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	waited, err := h.AwaitGate(wctx)
	assert.True(t, waited, "the request waits for the gate before it is written")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestSharedRateHoldsAllWorkersTogether(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	ws := []*Shared{NewShared(open(t, srv.URL(), fpA, "a")), NewShared(open(t, srv.URL(), fpA, "b"))}
	r := limiter.SharedRate{Ceiling: 10, Burst: 1}
	// Twenty requests from two workers at 10/s: each books its own place,
	// 0.1 s after the one before, whoever asks.
	var waits []time.Duration
	for range 10 {
		for _, w := range ws {
			got, err := w.Allow(ctx, "api:443", r)
			require.NoError(t, err)
			require.False(t, got.Again)
			waits = append(waits, got.Wait)
		}
	}
	assert.Zero(t, waits[0])
	last := waits[len(waits)-1]
	assert.InDelta(t, 1.9, last.Seconds(), 0.1, "the 20th request waits for its place at 10/s")
}

func TestSharedRateSavesNoBurstWhileTheGateIsClosed(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	r := limiter.SharedRate{Ceiling: 1, Burst: 5}
	got, err := a.Allow(ctx, "h", r)
	require.NoError(t, err)
	require.Zero(t, got.Wait)
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), r))
	// The GCRA (on Redis's own clock) holds four of its five places when
	// the gate opens: the first request after it gets one, the next waits
	// its place at the rate, whichever worker asks.
	now = now.Add(time.Second)
	got, err = b.Allow(ctx, "h", r)
	require.NoError(t, err)
	assert.Zero(t, got.Wait)
	got, err = a.Allow(ctx, "h", r)
	require.NoError(t, err)
	assert.InDelta(t, 1, got.Wait.Seconds(), 0.1, "no burst saved up while the gate was closed")
}

func TestAnAnnouncedQuotaReplacesTheLearntRateAndKeepsNoBurst(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	_, err := a.Allow(ctx, "h", limiter.SharedRate{})
	require.NoError(t, err)
	// An episode of a second with five successes, ended by a throttle:
	// the workers learn about 4.5/s.
	now = now.Add(time.Second)
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Successes: 5}))
	now = now.Add(time.Second)
	got, err := a.Allow(ctx, "h", limiter.SharedRate{Successes: 5, Throttles: 1})
	require.NoError(t, err)
	require.InDelta(t, learntCut*5/(1+serverBurst.Seconds()), got.Learnt, 0.01)

	// The server's headers announce 10/s, and the process would keep a
	// burst of five: six requests from two workers are paced at 10/s one
	// place after another, the sixth 0.5 s after the first (the learnt
	// rate with that burst would let it go 0.22 s after, the quota with it
	// 0.1 s after).
	r := limiter.SharedRate{Quota: 10, Burst: 5, Successes: 5}
	var waits []time.Duration
	for i := range 6 {
		got, err := []*Shared{a, b}[i%2].Allow(ctx, "h", r)
		require.NoError(t, err)
		require.False(t, got.Again)
		waits = append(waits, got.Wait)
	}
	assert.InDelta(t, 0.5, (waits[5] - waits[0]).Seconds(), 0.1)
}

func TestEachWorkerIsToldTheOthersRequestsToAHostThatAnnouncesAQuota(t *testing.T) {
	srv := redistest.Start(t, false)
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	allow := func(s *Shared, r limiter.SharedRate) limiter.SharedAnswer {
		t.Helper()
		got := allowed(t, s, r)
		require.Zero(t, got.Wait)
		return got
	}
	// No quota announced yet: nothing is counted.
	assert.Zero(t, allow(a, limiter.SharedRate{}).Others)
	assert.Zero(t, allow(b, limiter.SharedRate{}).Others)
	// Once a quota is announced, every request let go counts.
	r := limiter.SharedRate{Quota: 1e6, Burst: 1}
	assert.Zero(t, allow(a, r).Others)
	assert.Zero(t, allow(a, r).Others)
	assert.EqualValues(t, 2, allow(b, r).Others)
	assert.EqualValues(t, 1, allow(a, limiter.SharedRate{Booked: true}).Others, "a booked request counts when it is let go")
	assert.EqualValues(t, 3, allow(b, limiter.SharedRate{}).Others, "still counted while the quota reads inactive")
}

// allowed is s.Allow for host "h", which must not fail.
func allowed(t *testing.T, s *Shared, r limiter.SharedRate) limiter.SharedAnswer {
	t.Helper()
	got, err := s.Allow(context.Background(), "h", r)
	require.NoError(t, err)
	return got
}

// clocked returns a Shared of worker whose clock reads *now.
func clocked(t *testing.T, url, worker string, now *time.Time) *Shared {
	s := NewShared(open(t, url, fpA, worker))
	s.now = func() time.Time { return *now }
	return s
}

func TestSharedRateIsLearntFromEveryWorkersSuccesses(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	allowed(t, a, limiter.SharedRate{})
	allowed(t, b, limiter.SharedRate{})
	// Two seconds at 100/s between them; then a's request is refused with
	// a gate of one second, and b learns of the gate.
	now = now.Add(2 * time.Second)
	allowed(t, b, limiter.SharedRate{Successes: 90})
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Successes: 110}))
	now = now.Add(refresh)
	assert.True(t, allowed(t, b, limiter.SharedRate{Successes: 90}).Again)

	// The gate opens: b, first, closes the episode, but nobody has reported
	// the throttle yet; a does, and learns for both.
	now = now.Add(time.Second - refresh)
	assert.Zero(t, allowed(t, b, limiter.SharedRate{Successes: 90}).Learnt)
	learnt := allowed(t, a, limiter.SharedRate{Successes: 110, Throttles: 1}).Learnt
	assert.InDelta(t, learntCut*200/(2+serverBurst.Seconds()), learnt, 0.01)
	now = now.Add(refresh)
	assert.InDelta(t, learnt*(1+probeUnconfirmed*refresh.Seconds()), allowed(t, b, limiter.SharedRate{Successes: 90}).Learnt, 0.01)

	st, err := a.c.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.Hosts, 1)
	assert.InDelta(t, learnt, st.Hosts[0].Rate, 1, "status shows the rate in force")
}

func TestSuccessesReportedAfterTheGateOpensCountInTheEpisodeTheyCameIn(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b, c := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now), clocked(t, srv.URL(), "c", &now)
	for _, w := range []*Shared{a, b, c} {
		allowed(t, w, limiter.SharedRate{})
	}
	// 20 ms into the crawl a's request is refused with a gate of one
	// second; b and c learn of it before their next refresh and their
	// requests wait for it.
	now = now.Add(20 * time.Millisecond)
	until := now.Add(time.Second)
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{Successes: 2}))
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{Successes: 2, Throttles: 1}))

	// The gate opens: c's refresh closes the episode with a's successes and
	// its own; b's, a moment later, adds the episode's most.
	now = until
	low := allowed(t, c, limiter.SharedRate{Successes: 1}).Learnt
	assert.InDelta(t, learntCut*3/(0.02+serverBurst.Seconds()), low, 0.01)
	got := allowed(t, b, limiter.SharedRate{Successes: 10}).Learnt
	assert.InDelta(t, learntCut*13/(0.02+serverBurst.Seconds()), got, 0.01, "b's successes came before the gate")
	now = now.Add(refresh)
	assert.InDelta(t, got*(1+probeUnconfirmed*refresh.Seconds()), allowed(t, c, limiter.SharedRate{Successes: 1}).Learnt, 0.01)

	// b's successes are not the next episode's: a second's 60 successes
	// paced at got, refused, learn 60 a second (above the floor of got).
	now = now.Add(time.Second - refresh)
	until = now.Add(time.Second)
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{Successes: 62, Throttles: 2}))
	now = until
	paced := got * (1 + probeUnconfirmed)
	want := learntCut * min(max(60/(1+serverBurst.Seconds()), learntFloor*paced), paced)
	assert.InDelta(t, want, allowed(t, a, limiter.SharedRate{Successes: 62, Throttles: 2}).Learnt, 0.01)
}

func TestSharedRateLearntIsNeverAboveTheRateThatWasRefused(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a := clocked(t, srv.URL(), "a", &now)
	episode := func(successes int64, gate time.Duration) float64 {
		t.Helper()
		require.NoError(t, a.Gate(ctx, "h", now.Add(gate), limiter.SharedRate{Successes: successes}))
		now = now.Add(gate)
		got, err := a.Allow(ctx, "h", limiter.SharedRate{Successes: successes, Throttles: successes})
		require.NoError(t, err)
		return got.Learnt
	}
	_, err := a.Allow(ctx, "h", limiter.SharedRate{})
	require.NoError(t, err)
	now = now.Add(time.Second)
	first := episode(100, time.Second)
	// Paced at first, refused after 10 ms with more successes than that
	// rate allows: the rate goes below first, whatever the estimate.
	now = now.Add(10 * time.Millisecond)
	second := episode(300, time.Second)
	assert.Less(t, second, first)
	assert.InDelta(t, learntCut*first, second, 0.5)
	// Paced at second and refused after ten seconds with few successes: the
	// workers sent less than the rate, which says little of the server's.
	now = now.Add(10 * time.Second)
	third := episode(310, time.Second)
	paced := second * (1 + probeConfirmed*10)
	assert.InDelta(t, learntCut*learntFloor*paced, third, 0.5)
}

func TestSharedGateWithoutAThrottleTeachesNothing(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a := clocked(t, srv.URL(), "a", &now)
	_, err := a.Allow(ctx, "h", limiter.SharedRate{})
	require.NoError(t, err)
	now = now.Add(time.Second)
	// A 503 with a Retry-After: the gate closes, but no throttle follows.
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Successes: 50}))
	now = now.Add(time.Second)
	got, err := a.Allow(ctx, "h", limiter.SharedRate{Successes: 50})
	require.NoError(t, err)
	assert.Zero(t, got.Learnt)
	// The next episode starts when that gate opened: a throttle after it
	// learns from its successes alone.
	now = now.Add(time.Second)
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Successes: 80}))
	now = now.Add(time.Second)
	got, err = a.Allow(ctx, "h", limiter.SharedRate{Successes: 80, Throttles: 1})
	require.NoError(t, err)
	assert.InDelta(t, learntCut*30/(1+serverBurst.Seconds()), got.Learnt, 0.01)
}

func TestWorkersRefusedWithAGateShareTheLevelTheyWereRefusedAt(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b, c := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now), clocked(t, srv.URL(), "c", &now)
	for _, w := range []struct {
		s     *Shared
		limit int
	}{{a, 8}, {b, 7}, {c, 6}} {
		got, err := w.s.Allow(ctx, "h", limiter.SharedRate{Limit: w.limit})
		require.NoError(t, err)
		assert.Zero(t, got.Cap, "no gate yet: each worker judges its own limit")
	}
	// a is refused with a gate (a 503 + Retry-After) at 8 + 7 + 6 = 21.
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Limit: 8}))
	now = now.Add(time.Second)
	got, err := b.Allow(ctx, "h", limiter.SharedRate{Limit: 7})
	require.NoError(t, err)
	assert.Equal(t, 7-1, got.Cap, "8 + 7 + 6 is 3 past one less than the level refused less a tenth (21 - 2): b gives back its third")

	// Refused again at or below that level: the level is one lower.
	require.NoError(t, c.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Limit: 6}))
	now = now.Add(time.Second)
	got, err = b.Allow(ctx, "h", limiter.SharedRate{Limit: 6})
	require.NoError(t, err)
	assert.Equal(t, 6-1, got.Cap, "8 + 6 + 6 is 3 past 17")
}

func TestWorkersUnderTheLevelShareTheRoomLeft(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	_, err := b.Allow(ctx, "h", limiter.SharedRate{Limit: 8})
	require.NoError(t, err)
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Limit: 8}))
	now = now.Add(time.Second)
	// The gate cut both to 5, under one less than the level (16 - 1 - 1).
	allowed(t, b, limiter.SharedRate{Limit: 5})
	assert.Equal(t, 5+2, allowed(t, a, limiter.SharedRate{Limit: 5}).Cap)
	now = now.Add(refresh)
	assert.Equal(t, 5+2, allowed(t, b, limiter.SharedRate{Limit: 5}).Cap,
		"each takes half the room of 4: both grown to their caps, they stay under the level")
}

func TestAWorkerThatStoppedSendingHoldsNoShare(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	_, err := b.Allow(ctx, "h", limiter.SharedRate{Limit: 9})
	require.NoError(t, err)
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Limit: 9}))
	now = now.Add(time.Second)
	got, err := a.Allow(ctx, "h", limiter.SharedRate{Limit: 8})
	require.NoError(t, err)
	assert.Equal(t, 18-1-1-9, got.Cap, "b sent before the gate: its limit counts after it (the level a tenth below 18)")
	// b has no more items: its share is freed once its report is old.
	now = now.Add(limitsLive + refresh)
	got, err = a.Allow(ctx, "h", limiter.SharedRate{Limit: 8})
	require.NoError(t, err)
	assert.Zero(t, got.Cap)
}

func TestARateRefusalSetsNoConcurrencyLevel(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	_, err := b.Allow(ctx, "h", limiter.SharedRate{Limit: 5})
	require.NoError(t, err)
	until := now.Add(time.Second)
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{Limit: 5}))
	// The gate was a 429's: a reports the throttle once it is counted.
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{Limit: 5, Throttles: 1}))
	now = now.Add(time.Second)
	got, err := b.Allow(ctx, "h", limiter.SharedRate{Limit: 5})
	require.NoError(t, err)
	assert.Zero(t, got.Cap)
}

func TestNoWorkerReadsALevelBeforeItsGateOpens(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	allowed(t, b, limiter.SharedRate{Limit: 5})
	until := now.Add(time.Second)
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{Limit: 5}))
	// b refreshes before a has counted the throttle of the 429 that closed
	// the gate: were it told the level, it would cap its limit by it once
	// the gate opens, with a view no refresh has replaced yet.
	now = now.Add(refresh)
	assert.True(t, allowed(t, b, limiter.SharedRate{Limit: 5}).Again)
	v := b.view("h")
	v.mu.Lock()
	assert.Zero(t, v.level, "the gate is closed")
	v.mu.Unlock()
	require.NoError(t, a.Gate(ctx, "h", until, limiter.SharedRate{Limit: 5, Throttles: 1}))
	now = until
	assert.Zero(t, allowed(t, b, limiter.SharedRate{Limit: 5}).Cap)
}

func TestAWorkerAloneHasNoCap(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a := clocked(t, srv.URL(), "a", &now)
	require.NoError(t, a.Gate(ctx, "h", now.Add(time.Second), limiter.SharedRate{Limit: 12}))
	now = now.Add(time.Second)
	got, err := a.Allow(ctx, "h", limiter.SharedRate{Limit: 10})
	require.NoError(t, err)
	assert.Zero(t, got.Cap, "a worker alone judges its level itself")
}

func TestOneWorkerLeadsAColdStartForAll(t *testing.T) {
	srv := redistest.Start(t, false)
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b, c := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now), clocked(t, srv.URL(), "c", &now)
	starting := limiter.SharedRate{Limit: 4, Probing: true}
	// Each worker's robots.txt goes as it asks; the first to ask for work
	// in its slow start leads, and the others' work waits while its slow
	// start runs (their requests would reach the server while another
	// worker's refusal is on its way to them).
	for _, s := range []*Shared{a, b, c} {
		assert.Zero(t, allowed(t, s, limiter.SharedRate{Limit: 4, Probing: true, Auxiliary: true}).Wait)
	}
	assert.Zero(t, allowed(t, a, starting).Wait, "a leads")
	assert.True(t, allowed(t, b, starting).Again, "b's work waits")
	assert.True(t, allowed(t, c, starting).Again)
	now = now.Add(refresh)
	assert.Zero(t, allowed(t, a, limiter.SharedRate{Limit: 4, Probing: true, Full: true}).Cap, "a leads")
	assert.True(t, allowed(t, b, limiter.SharedRate{Limit: 5, Probing: true, Full: true}).Again)
	assert.Zero(t, allowed(t, b, limiter.SharedRate{Limit: 5, Probing: true, Auxiliary: true}).Wait, "b's robots.txt does not wait")

	// a's slow start ends at 10: b and c hold one request each, and a goes
	// on leading past probeMax, its limit at most its slow start's level.
	now = now.Add(refresh)
	assert.Equal(t, 10, allowed(t, a, limiter.SharedRate{Limit: 10}).Cap)
	now = now.Add(refresh)
	assert.Equal(t, 1, allowed(t, b, limiter.SharedRate{Limit: 5, Probing: true, Full: true}).Cap, "b holds one request")
	assert.Equal(t, 1, allowed(t, c, limiter.SharedRate{Limit: 4, Probing: true, Full: true}).Cap)
	now = now.Add(probeMax)
	assert.Equal(t, 10, allowed(t, a, limiter.SharedRate{Limit: 12}).Cap)
	assert.Equal(t, 1, allowed(t, b, limiter.SharedRate{Limit: 4, Probing: true, Full: true}).Cap)
	// a stops sending: its lead lapses with its report.
	now = now.Add(limitsLive + refresh)
	allowed(t, c, limiter.SharedRate{Limit: 4, Probing: true, Full: true})
	got := allowed(t, b, limiter.SharedRate{Limit: 4, Probing: true, Full: true})
	assert.Zero(t, got.Cap)
	assert.False(t, got.Again)
}

func TestAColdStartsLeaderCountsTheOthersInItsLimitUpToItsSlowStartsLevel(t *testing.T) {
	srv := redistest.Start(t, false)
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b, c := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now), clocked(t, srv.URL(), "c", &now)
	follow := limiter.SharedRate{Limit: 1, Probing: true, Full: true}
	assert.Zero(t, allowed(t, a, limiter.SharedRate{Limit: 4, Probing: true}).Wait, "a leads")
	assert.True(t, allowed(t, b, follow).Again)
	assert.True(t, allowed(t, c, follow).Again)
	now = now.Add(refresh)
	got := allowed(t, a, limiter.SharedRate{Limit: 19, Probing: true, Full: true})
	assert.Zero(t, got.Lead, "while a's slow start runs, the others' work waits")
	assert.Zero(t, got.Cap)

	// a's slow start ends: b and c send one request each, which a counts
	// in its limit, and a's limit (all of them) stays at or below the level
	// its slow start reached, as one process's would.
	now = now.Add(refresh)
	got = allowed(t, a, limiter.SharedRate{Limit: 17})
	assert.Equal(t, 2, got.Lead, "b's and c's requests")
	assert.Equal(t, 19, got.Cap, "the level a's slow start reached")
	assert.Equal(t, 1, allowed(t, b, follow).Cap)
	assert.Equal(t, 1, allowed(t, c, follow).Cap)
	now = now.Add(refresh)
	assert.Equal(t, 19, allowed(t, a, limiter.SharedRate{Limit: 21}).Cap)

	// Its slow start resumes: no cap while it runs, and the level it
	// reaches then caps it after.
	now = now.Add(refresh)
	allowed(t, b, follow)
	allowed(t, c, follow)
	got = allowed(t, a, limiter.SharedRate{Limit: 20, Probing: true, Full: true})
	assert.Zero(t, got.Cap)
	assert.Equal(t, 2, got.Lead)
	now = now.Add(refresh)
	assert.Equal(t, 20, allowed(t, a, limiter.SharedRate{Limit: 19}).Cap)
	assert.Zero(t, allowed(t, b, follow).Lead, "b does not lead")
}

func TestAColdStartsLeadEndsAtAGateAtTheLeadersMostOrAfterProbeMax(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond) // gates are carried in whole milliseconds, rounded up
	a, b := clocked(t, srv.URL(), "a", &now), clocked(t, srv.URL(), "b", &now)
	probing := limiter.SharedRate{Limit: 4, Probing: true, Full: true}
	// cap is b's cap on host, -1 while its work waits for a's lead.
	cap := func(host string, r limiter.SharedRate) int {
		t.Helper()
		got, err := b.Allow(ctx, host, r)
		require.NoError(t, err)
		if got.Again {
			return -1
		}
		return got.Cap
	}
	lead := func(host string) {
		t.Helper()
		_, err := a.Allow(ctx, host, probing)
		require.NoError(t, err)
		now = now.Add(refresh)
		require.Equal(t, -1, cap(host, probing), "a leads")
	}

	// a never ends its slow start: after probeMax, b is held no longer.
	lead("h")
	now = now.Add(probeMax)
	_, err := a.Allow(ctx, "h", probing)
	require.NoError(t, err)
	assert.Zero(t, cap("h", probing))

	// a's limit reaches its most: the host takes more than a sends.
	lead("m")
	_, err = a.Allow(ctx, "m", limiter.SharedRate{Limit: 64, Probing: true, Full: true, AtMost: true})
	require.NoError(t, err)
	now = now.Add(refresh)
	assert.Zero(t, cap("m", probing))

	// A gate closes during the lead: the gate's level takes over.
	lead("g")
	require.NoError(t, a.Gate(ctx, "g", now.Add(time.Second), limiter.SharedRate{Limit: 6}))
	now = now.Add(time.Second)
	assert.Equal(t, 4-1, cap("g", probing), "6 + 4 is 2 past one less than the level (10 - 1): b gives back its half")
}

func TestFinishAllStoresEachLineOnceInItsList(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	c := open(t, srv.URL(), fpA, "a")
	_, _, err := c.TakeLease(ctx)
	require.NoError(t, err)
	_, err = c.AddPage(ctx, "", "", true, [][]byte{[]byte("1"), []byte("2"), []byte("3")})
	require.NoError(t, err)
	got, err := c.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, got, 3)
	stored, err := c.FinishAll(ctx, []Line{{ID: got[0].ID, Line: []byte("ok1")}, {ID: got[1].ID, Line: []byte("bad2"), Failed: true}})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, stored)
	stored, err = c.FinishAll(ctx, []Line{{ID: got[0].ID, Line: []byte("ok1")}, {ID: got[2].ID, Line: []byte("ok3")}})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, stored, "an item finished already is not stored again")
	st, err := c.Status(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, st.Items.Done)
	assert.EqualValues(t, 1, st.Items.Failed)
	assert.True(t, st.Finished)
}

func TestNothingLeftOnceTheListingIsExhaustedAndEveryItemLeftIsThisWorkers(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := open(t, srv.URL(), fpA, "a")
	b := open(t, srv.URL(), fpA, "b")
	none := func(c *Crawl) bool {
		t.Helper()
		n, err := c.NothingLeft(ctx)
		require.NoError(t, err)
		return n
	}
	_, _, err := a.TakeLease(ctx)
	require.NoError(t, err)
	_, err = a.AddPage(ctx, "", "p2", false, [][]byte{[]byte("1"), []byte("2"), []byte("3")})
	require.NoError(t, err)
	mine, err := a.Read(ctx, 2, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, mine, 2)
	assert.False(t, none(a), "the listing goes on")

	require.NoError(t, a.Exhaust(ctx, "p2"))
	assert.False(t, none(a), "an item nobody took is left")
	theirs, err := b.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, theirs, 1)
	assert.False(t, none(a), "b's item is left")
	assert.False(t, none(b), "a's items are left")

	_, err = b.Finish(ctx, theirs[0].ID, []byte("3"), false)
	require.NoError(t, err)
	assert.True(t, none(a), "only a's own items are left")
	assert.False(t, none(b))

	_, err = a.FinishAll(ctx, []Line{{ID: mine[0].ID, Line: []byte("1")}, {ID: mine[1].ID, Line: []byte("2")}})
	require.NoError(t, err)
	assert.True(t, none(a))
	assert.True(t, none(b), "the crawl is finished")
}

func TestExhaustedTellsEveryWorkerTheListingHasEnded(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := open(t, srv.URL(), fpA, "a")
	b := open(t, srv.URL(), fpA, "b")
	ex, err := b.Exhausted(ctx)
	require.NoError(t, err)
	assert.False(t, ex, "nothing listed yet")
	_, _, err = a.TakeLease(ctx)
	require.NoError(t, err)
	_, err = a.AddPage(ctx, "", "p2", false, [][]byte{[]byte("1")})
	require.NoError(t, err)
	ex, err = b.Exhausted(ctx)
	require.NoError(t, err)
	assert.False(t, ex, "the listing goes on")
	require.NoError(t, a.Exhaust(ctx, "p2"))
	ex, err = b.Exhausted(ctx)
	require.NoError(t, err)
	assert.True(t, ex)
}

func TestFinishAllStoresAnItemTwiceInABatchOnceAndSkipsWhatAnotherWorkerFinished(t *testing.T) {
	srv := redistest.Start(t, false)
	ctx := context.Background()
	a := open(t, srv.URL(), fpA, "a")
	b := open(t, srv.URL(), fpA, "b")
	_, _, err := a.TakeLease(ctx)
	require.NoError(t, err)
	_, err = a.AddPage(ctx, "", "", true, [][]byte{[]byte("1"), []byte("2"), []byte("3"), []byte("4")})
	require.NoError(t, err)
	got, err := a.Read(ctx, 10, 10*time.Millisecond)
	require.NoError(t, err)
	require.Len(t, got, 4)
	// b took item 2 over (as after a visibility timeout) and finished it first.
	require.NoError(t, b.claim(ctx, []string{got[1].ID}, 0))
	stored, err := b.Finish(ctx, got[1].ID, []byte("b2"), false)
	require.NoError(t, err)
	require.True(t, stored)

	stored2, err := a.FinishAll(ctx, []Line{{ID: got[0].ID, Line: []byte("a1")}, {ID: got[1].ID, Line: []byte("a2")},
		{ID: got[0].ID, Line: []byte("a1 again")}, {ID: got[2].ID, Line: []byte("a3"), Failed: true}})
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, false, true}, stored2)
	all, err := a.FinishAll(ctx, []Line{{ID: got[3].ID, Line: []byte("a4")}})
	require.NoError(t, err)
	assert.Equal(t, []bool{true}, all)

	out, err := a.Client().LRange(ctx, a.key("out"), 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"b2", "a1", "a4"}, out)
	failed, err := a.Client().LRange(ctx, a.key("failed"), 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"a3"}, failed)
	st, err := a.Status(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, st.Items.Done)
	assert.EqualValues(t, 1, st.Items.Failed)
	assert.True(t, st.Finished)
}
