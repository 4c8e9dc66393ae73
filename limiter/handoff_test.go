package limiter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandoffGivesItsPermitToTheFirstTakerOfItsHostOnly(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Initial: 2, Algorithm: Fixed})
	a, b := l.Host("a:80"), l.Host("b:80")
	p, err := a.Acquire(context.Background())
	require.NoError(t, err)
	ho := NewHandoff(context.Background(), p)

	_, ok := TakePermit(ho, b)
	assert.False(t, ok, "another host's request acquires its own permit")
	got, ok := TakePermit(context.WithValue(ho, struct{}{}, 1), a)
	require.True(t, ok, "a derived context carries the handoff")
	_, ok = TakePermit(ho, a)
	assert.False(t, ok, "the permit is taken once")
	_, ok = ho.Reclaim()
	assert.False(t, ok, "a taken permit is released by its taker")
	got.Release(Success)
	assert.Equal(t, 0, a.Snapshot().InFlight)
}

func TestHandoffReclaimedIsNotTakenAnyMore(t *testing.T) {
	l, _ := newTestLimiter(t, Config{})
	h := l.Host("a:80")
	p, _, ok := h.TryAcquire()
	require.True(t, ok)
	ho := NewHandoff(context.Background(), p)
	back, ok := ho.Reclaim()
	require.True(t, ok)
	_, ok = TakePermit(ho, h)
	assert.False(t, ok)
	back.Release(Ignored)
	assert.Equal(t, 0, h.Snapshot().InFlight)
}

func TestTakePermitWithoutHandoff(t *testing.T) {
	l, _ := newTestLimiter(t, Config{})
	_, ok := TakePermit(context.Background(), l.Host("a:80"))
	assert.False(t, ok)
}

func TestSecondReleaseOfAPermitPanicsNamingTheHost(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Initial: 2, Algorithm: Fixed})
	h := l.Host("api.example.com:443")
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	q, err := h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	assert.PanicsWithValue(t, "limiter: a Permit of host api.example.com:443 was released twice", func() { p.Release(Success) })
	assert.Equal(t, 1, h.Snapshot().InFlight, "the second release freed nothing")
	// A new permit reuses p's slot: p's copy is still caught.
	r, err := h.Acquire(context.Background())
	require.NoError(t, err)
	assert.Panics(t, func() { p.ReleaseAt(epoch, Dropped) })
	q.Release(Success)
	r.Release(Success)
	assert.Equal(t, 0, h.Snapshot().InFlight)
}

func TestTryAcquireWaitsBehindAcquiresWaiters(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Initial: 1, Algorithm: Fixed})
	h := l.Host("a:80")
	p, _, ok := h.TryAcquire()
	require.True(t, ok)
	_, at, ok := h.TryAcquire()
	assert.False(t, ok)
	assert.True(t, at.IsZero(), "at its limit: try again after a release")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Permit)
	go func() {
		w, err := h.Acquire(ctx)
		if err == nil {
			got <- w
		}
	}()
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.waiters) == 1
	}, 5*time.Second, time.Millisecond)
	p.Release(Success)
	w := <-got
	_, _, ok = h.TryAcquire()
	assert.False(t, ok)
	w.Release(Success)
	q, _, ok := h.TryAcquire()
	require.True(t, ok)
	q.Release(Success)
}

func TestTryAcquireSaysWhenTheGateOpens(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	h := l.Host("a:80")
	until := clk.Now().Add(3e9)
	h.Gate(until)
	_, at, ok := h.TryAcquire()
	assert.False(t, ok)
	assert.Equal(t, until, at)
	clk.Advance(3e9)
	p, _, ok := h.TryAcquire()
	require.True(t, ok)
	p.Release(Success)
}

func TestAdmitWaitsForAGateClosedAfterThePermitWasTaken(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	h := l.Host("a:80")
	p, _, ok := h.TryAcquire()
	require.True(t, ok)
	until := clk.Now().Add(2 * time.Second)
	h.Gate(until)
	admitted := make(chan time.Time)
	go func() {
		q, err := h.Admit(context.Background(), p)
		if err == nil {
			admitted <- clk.Now()
			q.Release(Success)
		}
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	clk.Advance(2 * time.Second)
	assert.False(t, (<-admitted).Before(until), "no request before the Retry-After")
}

func TestAdmitSpacesPermitsAGateHeldByTheHostsRate(t *testing.T) {
	// Two permits taken at 10 a second before a Retry-After closed the
	// gate: when it opens they go a tenth of a second apart, as paced,
	// not together (a bucket of one token would refuse the second).
	l, clk := newTestLimiter(t, Config{Rate: 10, Burst: 2})
	h := l.Host("a:80")
	var ps []Permit
	for range 2 {
		p, _, ok := h.TryAcquire()
		require.True(t, ok)
		ps = append(ps, p)
	}
	open := clk.Now().Add(time.Second)
	h.Gate(open)
	admitted := make(chan time.Time, 2)
	for _, p := range ps {
		go func() {
			q, err := h.Admit(context.Background(), p)
			if err == nil {
				admitted <- clk.Now()
				q.Release(Success)
			}
		}()
	}
	require.NoError(t, clk.BlockUntilContext(context.Background(), 2))
	clk.Advance(time.Second)
	first := <-admitted
	assert.False(t, first.Before(open), "no request before the Retry-After")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, clk.BlockUntilContext(ctx, 1), "the second waits for a token, not both going as the gate opened")
	clk.Advance(100 * time.Millisecond)
	assert.Equal(t, 100*time.Millisecond, (<-admitted).Sub(open), "the next a tenth of a second later")
}

func TestAdmitReleasesThePermitWhenTheContextEnds(t *testing.T) {
	l, clk := newTestLimiter(t, Config{})
	h := l.Host("a:80")
	p, _, ok := h.TryAcquire()
	require.True(t, ok)
	h.Gate(clk.Now().Add(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.Admit(ctx, p)
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, h.Snapshot().InFlight)
}

func TestAdmitPassesAPermitOfAnOpenHost(t *testing.T) {
	l, _ := newTestLimiter(t, Config{})
	h := l.Host("a:80")
	p, _, ok := h.TryAcquire()
	require.True(t, ok)
	q, err := h.Admit(context.Background(), p)
	require.NoError(t, err)
	q.Release(Success)
	assert.Zero(t, h.Snapshot().InFlight)
}

func TestAcquireAuxiliaryNeedsNoSlotButWaitsForTheGate(t *testing.T) {
	l, clk := newTestLimiter(t, Config{Initial: 1, Algorithm: Fixed})
	h := l.Host("a:80")
	p, _, ok := h.TryAcquire()
	require.True(t, ok, "the only slot is taken")
	aux, err := h.AcquireAuxiliary(context.Background())
	require.NoError(t, err, "a robots.txt needs no slot")
	assert.Equal(t, 2, h.Snapshot().InFlight)
	aux.Release(Success)
	p.Release(Success)

	until := clk.Now().Add(time.Second)
	h.Gate(until)
	got := make(chan time.Time)
	go func() {
		q, err := h.AcquireAuxiliary(context.Background())
		if err == nil {
			got <- clk.Now()
			q.Release(Success)
		}
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	clk.Advance(time.Second)
	assert.False(t, (<-got).Before(until))
}

func TestHandoffsMakeADistinctHandoffPerCall(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Initial: 4, Algorithm: Fixed})
	h := l.Host("a:80")
	var hs Handoffs
	var old *Handoff
	for i := range 2*handoffBatch + 1 { // crosses two batches
		p, _, ok := h.TryAcquire()
		require.True(t, ok)
		ho := hs.New(context.Background(), p)
		require.NotSame(t, old, ho)
		if old != nil {
			_, ok := TakePermit(old, h)
			require.False(t, ok, "call %d: a context kept from the call before does not take this call's permit", i)
		}
		got, ok := TakePermit(ho, h)
		require.True(t, ok)
		got.Release(Success)
		_, ok = ho.Reclaim()
		require.False(t, ok)
		old = ho
	}
	assert.Equal(t, 0, h.Snapshot().InFlight)
}
