package limiter

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedStore is an in-memory Shared: a gate per key, a scripted list of
// waits that Allow returns in turn, and a learnt rate.
type sharedStore struct {
	clk    clockwork.Clock
	mu     sync.Mutex
	gates  map[string]time.Time
	waits  []time.Duration
	rates  []SharedRate
	learnt float64
	cap    int
	lead   int
	others uint64
	err    error
}

func (s *sharedStore) Allow(_ context.Context, key string, r SharedRate) (SharedAnswer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates = append(s.rates, r)
	if s.err != nil {
		return SharedAnswer{}, s.err
	}
	if g := s.gates[key]; g.After(s.clk.Now()) {
		return SharedAnswer{Wait: g.Sub(s.clk.Now()), Again: true, Learnt: s.learnt, Gate: g}, nil
	}
	if len(s.waits) > 0 && !r.Booked {
		w := s.waits[0]
		s.waits = s.waits[1:]
		return SharedAnswer{Wait: w, Learnt: s.learnt}, nil
	}
	return SharedAnswer{Learnt: s.learnt, Cap: s.cap, Lead: s.lead, Others: s.others}, nil
}

func (s *sharedStore) Gate(_ context.Context, key string, until time.Time, r SharedRate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates = append(s.rates, r)
	if s.err != nil {
		return s.err
	}
	if s.gates == nil {
		s.gates = map[string]time.Time{}
	}
	if until.After(s.gates[key]) {
		s.gates[key] = until
	}
	return nil
}

func newSharedLimiter(t *testing.T, cfg Config) (*Limiter, *clockwork.FakeClock, *sharedStore) {
	t.Helper()
	clk := clockwork.NewFakeClockAt(epoch)
	s := &sharedStore{clk: clk}
	l, err := New(cfg, WithClock(clk), WithShared(s))
	require.NoError(t, err)
	return l, clk, s
}

func TestSharedGateHoldsAcquireUntilItOpens(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	require.NoError(t, s.Gate(context.Background(), "h", clk.Now().Add(3*time.Second), SharedRate{}))
	got := make(chan error, 1)
	go func() {
		p, err := l.Acquire(context.Background(), "h")
		p.Release(Success)
		got <- err
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	select {
	case <-got:
		t.Fatal("Acquire returned while the shared gate was closed")
	default:
	}
	clk.Advance(3 * time.Second)
	require.NoError(t, <-got)
}

func TestAnotherProcesssSharedGateCutsTheLimitAndHoldsTheSlot(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Initial: 10})
	h := l.Host("h")
	until := clk.Now().Add(time.Second)
	require.NoError(t, s.Gate(context.Background(), "h", until, SharedRate{}))
	got := make(chan error, 1)
	go func() {
		p, err := h.Acquire(context.Background())
		p.Release(Success)
		got <- err
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	snap := h.Snapshot()
	assert.Less(t, snap.Limit, 10, "the processes together sent more than the server takes: this one's share is cut")
	assert.Equal(t, until, snap.GateUntil, "the host's own gate holds the request")
	assert.Zero(t, snap.InFlight, "a request held by the gate holds no slot")
	clk.Advance(time.Second)
	require.NoError(t, <-got)
	assert.Equal(t, snap.Limit, h.Snapshot().Limit, "one gate, one cut")
}

// pushingStore is a sharedStore that pushes the gates other processes
// close (SharedGates).
type pushingStore struct {
	sharedStore
	apply func(key string, until time.Time)
}

func (s *pushingStore) OnGate(apply func(key string, until time.Time)) { s.apply = apply }

func TestAPushedGateHoldsARequestWhosePermitWasTakenBefore(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch)
	s := &pushingStore{sharedStore: sharedStore{clk: clk}}
	l, err := New(Config{Initial: 10}, WithClock(clk), WithShared(s))
	require.NoError(t, err)
	require.NotNil(t, s.apply, "New listens to the gates the store pushes")
	h := l.Host("h")
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	until := clk.Now().Add(time.Second)
	s.apply("h", until)
	s.apply("other", until)
	snap := h.Snapshot()
	assert.Equal(t, until, snap.GateUntil, "the host's own gate closes at once")
	assert.Less(t, snap.Limit, 10, "as a gate read from the store does, it cuts this process's share")
	assert.Len(t, l.Snapshots(), 1, "a host this process has not made is not made for a gate")
	// The request not written yet waits for the gate (the transport's
	// last check before it writes).
	got := make(chan bool, 1)
	go func() {
		waited, _ := h.AwaitGate(context.Background())
		got <- waited
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	clk.Advance(time.Second)
	assert.True(t, <-got)
	p.Release(Success)
}

func TestTheProcessesShareCapsTheLimitAndHoldsARequestPastIt(t *testing.T) {
	l, _, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 6, Max: 10})
	h := l.Host("h")
	var held []Permit
	for range 4 {
		p, err := h.Acquire(context.Background())
		require.NoError(t, err)
		held = append(held, p)
	}
	s.mu.Lock()
	s.cap = 3
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := h.Acquire(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a fifth request waits: the share is 3")
	assert.Equal(t, 3, h.Snapshot().Limit)
	assert.Equal(t, 4, h.Snapshot().InFlight, "the request past the share gave its slot back")
	for _, p := range held {
		p.Release(Success)
	}
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	last := s.rates[len(s.rates)-1]
	assert.Equal(t, 3, last.Limit, "the limit is told to the others")
}

func TestAProcessLeadingAHostCountsTheOthersRequestsInItsLimit(t *testing.T) {
	l, _, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 6, Max: 10})
	h := l.Host("h")
	var held []Permit
	for range 4 {
		p, err := h.Acquire(context.Background())
		require.NoError(t, err)
		held = append(held, p)
	}
	// Two other processes send one request each under this one's lead:
	// its limit of 6 bounds all of them, as one process's would.
	s.mu.Lock()
	s.lead = 2
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := h.Acquire(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a fifth request waits: 4 + 2 fill the limit")
	assert.Equal(t, 6, h.Snapshot().Limit)
	assert.Equal(t, 4, h.Snapshot().InFlight, "the request past the room gave its slot back; the others' are not this process's")
	held[0].Release(Success)
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	held[0] = p
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = h.Acquire(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// The lead ends: the room is this process's again.
	s.mu.Lock()
	s.lead = 0
	s.mu.Unlock()
	held[0].Release(Success)
	for range 3 {
		p, err := h.Acquire(context.Background())
		require.NoError(t, err)
		held = append(held, p)
	}
	assert.Equal(t, 6, h.Snapshot().InFlight)
	for _, p := range held[1:] {
		p.Release(Success)
	}
	assert.Zero(t, h.Snapshot().InFlight)
}

// The others' requests a leader counts never hold its own last one: with
// none of its own in flight, nothing of its own would answer to lower that
// count or to close a host a run of errors opened, and the crawl would
// stall (seen with three workers whose leader's limit fell to the others'
// count after its items' errors).
func TestALeadersCountOfTheOthersNeverHoldsItsOwnOnlyRequest(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 2, Max: 4})
	h := l.Host("h")
	s.mu.Lock()
	s.lead = 2
	s.mu.Unlock()
	acquire := func() (Permit, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return h.Acquire(ctx)
	}
	p, err := acquire()
	require.NoError(t, err, "2 others fill a limit of 2: one request of its own still goes")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = h.Acquire(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a second waits for the room")
	assert.Equal(t, 1, h.Snapshot().InFlight)
	p.Release(Success)

	// The store fails: this process runs alone, its whole limit its own.
	s.mu.Lock()
	s.err = errors.New("store down")
	s.mu.Unlock()
	p, err = acquire()
	require.NoError(t, err)
	p2, err := acquire()
	require.NoError(t, err, "the others' count went with the store")
	p.Release(Success)
	p2.Release(Success)

	// A run of server errors opens a host: after its pause, one request
	// of its own goes although the others' count is in flight.
	l, clk, s = newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	h = l.Host("h")
	s.mu.Lock()
	s.lead = 2
	s.mu.Unlock()
	p, err = acquire()
	require.NoError(t, err)
	p.Release(Errored)
	for range errorRun - 1 {
		p, err = acquire()
		require.NoError(t, err)
		p.Release(Errored)
	}
	gate := h.Snapshot().GateUntil
	require.False(t, gate.IsZero(), "the run opened the host")
	clk.Advance(gate.Sub(clk.Now()))
	p, err = acquire()
	require.NoError(t, err, "the probe after the pause")
	p.Release(Success)
	assert.Zero(t, h.Snapshot().InFlight)
}

func TestAThrottleIsToldToTheSharedStoreBeforeItsGateOpens(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	h := l.Host("h")
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	h.Gate(clk.Now().Add(time.Second)) // a 429's Retry-After, told before its permit is released
	p.Release(Throttled)
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.EqualValues(t, 1, s.rates[len(s.rates)-1].Throttles, "the others learn it was a refusal for rate")
}

func TestOwnGateReadBackFromTheStoreCutsNothingMore(t *testing.T) {
	l, clk, _ := newSharedLimiter(t, Config{Initial: 10})
	h := l.Host("h")
	h.Gate(clk.Now().Add(time.Second))
	limit := h.Snapshot().Limit
	got := make(chan error, 1)
	go func() {
		p, err := h.Acquire(context.Background())
		p.Release(Success)
		got <- err
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	assert.Equal(t, limit, h.Snapshot().Limit)
	clk.Advance(time.Second)
	require.NoError(t, <-got)
}

func TestGateClosesTheSharedGate(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed})
	until := clk.Now().Add(2 * time.Second)
	l.Host("h").Gate(until)
	assert.Equal(t, until, s.gates["h"])
}

func TestSharedRateCarriesCeilingAndQuota(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Rate: 50})
	h := l.Host("h")
	h.SetQuota(Quota{Remaining: 10, Reset: clk.Now().Add(time.Second)})
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	require.Len(t, s.rates, 1)
	assert.Equal(t, 50.0, s.rates[0].Ceiling)
	assert.InDelta(t, 10.0, s.rates[0].Quota, 0.01)
}

func TestSharedRateCarriesTheAnswersToLearnFrom(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	h := l.Host("h")
	for _, o := range []Outcome{Success, Success, Throttled, Success} {
		p, err := h.Acquire(context.Background())
		require.NoError(t, err)
		p.Release(o)
	}
	h.Gate(clk.Now().Add(time.Second))
	last := s.rates[len(s.rates)-1]
	assert.EqualValues(t, 3, last.Successes)
	assert.EqualValues(t, 1, last.Throttles)
}

func TestTheSharedStoreIsToldWhichRequestsAreTheHostsWork(t *testing.T) {
	l, _, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	h := l.Host("h")
	p, err := h.AcquireAuxiliary(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	p, err = h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	require.Len(t, s.rates, 2)
	assert.True(t, s.rates[0].Auxiliary, "a robots.txt is not the host's work")
	assert.False(t, s.rates[1].Auxiliary)
}

func TestSharedLearntRatePacesTheHost(t *testing.T) {
	l, _, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	s.learnt = 40
	h := l.Host("h")
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	assert.InDelta(t, 40, h.Snapshot().Rate, 0.001, "the rate learnt together replaces this process's")
}

func TestAQuotasRefillIsReadWithTheOtherProcessesRequests(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 4})
	s.others = 7
	h := l.Host("h")
	p, err := h.Acquire(context.Background())
	require.NoError(t, err)
	p.Release(Success)
	h.mu.Lock()
	told := h.pace.others
	h.mu.Unlock()
	require.EqualValues(t, 7, told, "the store's count of the others' requests")
	// A token bucket that stays at 20 while the other processes send 300
	// a second (the store tells their count at each request): it refills
	// 300 a second, not the nothing this process sent.
	others := s.others
	for range 60 {
		clk.Advance(10 * time.Millisecond)
		others += 3
		h.useSharedOthers(others)
		h.SetQuota(Quota{Limit: 100, Remaining: 20, Reset: clk.Now().Add(800 * time.Millisecond)})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.InDelta(t, 300, h.pace.reader.rate, 30)
}

func TestSharedWaitIsNotCountedInTheLatency(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed})
	s.waits = []time.Duration{time.Second}
	got := make(chan Permit, 1)
	go func() {
		p, err := l.Acquire(context.Background(), "h")
		assert.NoError(t, err)
		got <- p
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	clk.Advance(time.Second)
	p := <-got
	if !p.start.IsZero() {
		assert.Equal(t, clk.Now(), p.start)
	}
	p.Release(Success)
	require.Len(t, s.rates, 2)
	assert.True(t, s.rates[1].Booked, "after a booked wait the request asks only for the gate")
}

func TestAGateClosedDuringABookedWaitHoldsTheRequest(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed})
	s.waits = []time.Duration{time.Second}
	got := make(chan error, 1)
	go func() {
		p, err := l.Acquire(context.Background(), "h")
		p.Release(Success)
		got <- err
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	// Another process closes the gate while the request waits for its place.
	s.mu.Lock()
	s.gates = map[string]time.Time{"h": clk.Now().Add(3 * time.Second)}
	s.mu.Unlock()
	clk.Advance(time.Second)
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	select {
	case <-got:
		t.Fatal("the request started while the shared gate was closed")
	default:
	}
	clk.Advance(2 * time.Second)
	require.NoError(t, <-got)
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.rates[len(s.rates)-1]
	assert.False(t, last.Booked, "after the gate the request books its place anew")
}

func TestSharedStoreDownGoesOnUnderOwnLimits(t *testing.T) {
	l, _, s := newSharedLimiter(t, Config{Algorithm: Fixed})
	s.err = errors.New("connection refused")
	p, err := l.Acquire(context.Background(), "h")
	require.NoError(t, err)
	p.Release(Success)
	assert.True(t, l.sharedErr.failing.Load())
	s.err = nil
	p, err = l.Acquire(context.Background(), "h")
	require.NoError(t, err)
	p.Release(Success)
	assert.False(t, l.sharedErr.failing.Load())
}

func TestSharedWaitEndsWithTheContext(t *testing.T) {
	l, clk, s := newSharedLimiter(t, Config{Algorithm: Fixed, Initial: 1, Max: 1})
	s.waits = []time.Duration{time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, "h")
		got <- err
	}()
	require.NoError(t, clk.BlockUntilContext(context.Background(), 1))
	cancel()
	require.ErrorIs(t, <-got, context.Canceled)
	// The permit taken before the wait was given back.
	assert.Equal(t, 0, l.Host("h").Snapshot().InFlight)
}
