package mockapi

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fire sends n GETs to base+/items/{first..} at once and returns their replies in order.
func fire(t *testing.T, c *http.Client, base string, first, n int) []reply {
	t.Helper()
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := c.Get(base + "/items/" + strconv.Itoa(first+i))
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			replies[i] = reply{status: resp.StatusCode, header: resp.Header}
		})
	}
	wg.Wait()
	return replies
}

// inFlight waits until the server holds n requests.
func inFlight(t *testing.T, s *Server, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.Stats().InFlight == n }, 5*time.Second, time.Millisecond,
		"waiting for %d requests in flight", n)
}

// admitted waits until the capacity holds n requests, in its slots and its
// queue: a request counts as in flight when it arrives, before the capacity
// takes it, so inFlight alone lets a later request take its place in the queue.
func admitted(t *testing.T, s *Server, n int) {
	t.Helper()
	sl := s.h.slots
	require.Eventually(t, func() bool {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		return sl.inUse+len(sl.waiters) == n
	}, 5*time.Second, time.Millisecond, "waiting for %d requests in the slots and the queue", n)
}

func statuses(rs []reply) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.status]++
	}
	return m
}

func TestCapacityQueuesThenAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	const latency = time.Second
	s := startServer(t, Config{Scenario: Scenario{
		Latency:  latency,
		Capacity: Capacity{Slots: 2, Queue: 2, RetryAfter: 1500 * time.Millisecond},
	}})
	c := newClient(t, 10*time.Second)

	start := time.Now()
	var served []reply
	done := make(chan struct{})
	go func() {
		defer close(done)
		served = fire(t, c, s.URL(), 1, 4) // 2 in slots, 2 queued
	}()
	admitted(t, s, 4)
	fired := time.Now()
	rejected := fire(t, c, s.URL(), 5, 2)
	rejectedAfter := time.Since(fired)
	<-done
	servedAfter := time.Since(start)

	for _, r := range rejected {
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Equal(t, "2", r.header.Get("Retry-After"), "1.5 s rounds up to 2")
	}
	assert.Less(t, rejectedAfter, latency, "a full queue is answered at once, not after a service time")
	assert.Equal(t, map[int]int{200: 4}, statuses(served))
	assert.GreaterOrEqual(t, servedAfter, 2*latency, "the queued pair waits for a slot, then is served")

	stats := s.Stats()
	assert.Equal(t, map[int]int64{200: 4, 503: 2}, stats.ByStatus)
	assert.GreaterOrEqual(t, stats.MaxInFlight, 4)
	assert.Equal(t, int64(2), stats.Throttled())
}

func TestCapacityScheduleStepsDownAndUp(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
		Latency: time.Second, // the held request's: the others arrive while it is served
		Capacity: Capacity{Slots: 1, Schedule: []Step{
			{At: 10 * time.Second, Slots: 3},
			{At: 20 * time.Second, Slots: 1},
		}},
	}})
	c := newClient(t, 10*time.Second)

	// hold starts one request, waits until the capacity holds it, then sends
	// n more at once and returns their statuses and the held one's.
	hold := func(first, n int) (held reply, more map[int]int) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			held = fire(t, c, s.URL(), first, 1)[0]
		}()
		admitted(t, s, 1) // in its slot: arrived alone, a later one could take it first
		more = statuses(fire(t, c, s.URL(), first+1, n))
		<-done
		return held, more
	}

	held, more := hold(1, 2)
	assert.Equal(t, http.StatusOK, held.status)
	assert.Equal(t, map[int]int{503: 2}, more, "1 slot, no queue")

	clk.Advance(10 * time.Second)
	held, more = hold(10, 2)
	assert.Equal(t, http.StatusOK, held.status)
	assert.Equal(t, map[int]int{200: 2}, more, "stepped up to 3 slots")

	clk.Advance(10 * time.Second)
	held, more = hold(20, 2)
	assert.Equal(t, http.StatusOK, held.status)
	assert.Equal(t, map[int]int{503: 2}, more, "stepped down to 1 slot")
}

func TestSlotsSizeFollowsSchedule(t *testing.T) {
	t0 := newFakeClock().Now()
	s := newSlots(Capacity{Slots: 4, Schedule: []Step{{At: 5 * time.Second, Slots: 2}, {At: 8 * time.Second, Slots: 6}}}, t0, nil)
	tests := []struct {
		at   time.Duration
		want int
	}{
		{0, 4}, {5*time.Second - 1, 4}, {5 * time.Second, 2}, {7 * time.Second, 2}, {8 * time.Second, 6}, {time.Hour, 6},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s.size(t0.Add(tt.at)), "at %v", tt.at)
	}
}

func TestSlotsGrantWaitersInArrivalOrder(t *testing.T) {
	clk := newFakeClock()
	s := newSlots(Capacity{Slots: 1, Queue: 3, Schedule: []Step{{At: 10 * time.Second, Slots: 2}}}, clk.Now(), clk.Now)
	never := make(chan struct{})
	_, ok := s.acquire(never, never)
	require.True(t, ok)

	granted := make(chan int, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if _, ok := s.acquire(never, never); ok {
				granted <- i
			}
		})
		require.Eventually(t, func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.waiters) == i+1
		}, 5*time.Second, time.Millisecond)
	}
	_, ok = s.acquire(never, never)
	assert.False(t, ok, "queue full")

	s.release()
	assert.Equal(t, 0, <-granted)
	s.release()
	assert.Equal(t, 1, <-granted)

	// A step up frees a slot at the next acquire, with no release needed; that
	// acquire then finds every slot busy and leaves the queue as its client left.
	clk.Advance(10 * time.Second)
	gone := make(chan struct{})
	close(gone)
	_, ok = s.acquire(gone, never)
	assert.False(t, ok)
	assert.Equal(t, 2, <-granted)
	wg.Wait()
	s.release()
	s.release()
	assert.Equal(t, 0, s.inUse)
}

func TestSlotsWaiterThatLeavesGivesUpItsPlace(t *testing.T) {
	s := newSlots(Capacity{Slots: 1, Queue: 1}, time.Time{}, time.Now)
	never := make(chan struct{})
	_, ok := s.acquire(never, never)
	require.True(t, ok)
	gone := make(chan struct{})
	result := make(chan bool)
	go func() {
		_, ok := s.acquire(gone, never)
		result <- ok
	}()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.waiters) == 1
	}, 5*time.Second, time.Millisecond)
	close(gone)
	assert.False(t, <-result)
	s.release()
	assert.Equal(t, 0, s.inUse)
	assert.Empty(t, s.waiters)
}

func TestCloseReleasesServedAndQueuedRequests(t *testing.T) {
	t.Parallel()
	s, err := Start(Config{Scenario: Scenario{Latency: time.Minute, Capacity: Capacity{Slots: 1, Queue: 1}}})
	require.NoError(t, err)
	c := newClient(t, 2*time.Minute)
	done := make(chan []reply)
	go func() { done <- fire(t, c, s.URL(), 1, 2) }()
	inFlight(t, s, 2)

	start := time.Now()
	require.NoError(t, s.Close())
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, map[int]int{503: 2}, statuses(<-done))
}

func TestRefuseShareRefusesItsShareOfDetailsWhateverTheLoad(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Scenario: Scenario{Items: 400, RefuseShare: 0.25,
		Capacity: Capacity{Status: http.StatusTooManyRequests, RetryAfter: time.Second}}})
	c := newClient(t, 10*time.Second)
	refused := 0
	for id := 1; id <= 400; id++ { // one at a time: the server is never busy
		r := get(t, c, s.URL()+"/items/"+strconv.Itoa(id))
		if r.status == http.StatusTooManyRequests {
			refused++
			assert.Equal(t, "1", r.header.Get("Retry-After"), "refused as the capacity refuses")
			continue
		}
		require.Equal(t, http.StatusOK, r.status)
	}
	assert.InDelta(t, 100, refused, 30, "about a quarter refused")
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items").status, "the listing is never refused")
	_, err := NewHandler(Config{Scenario: Scenario{RefuseShare: 1.5}})
	assert.ErrorContains(t, err, "RefuseShare")
}
