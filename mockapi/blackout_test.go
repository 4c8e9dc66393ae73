package mockapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInFlightCapAnswers429WithoutRetryAfter(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Scenario: Scenario{
		Latency:  time.Second,
		Capacity: Capacity{Slots: 1, Status: http.StatusTooManyRequests, NoRetryAfter: true},
	}})
	c := newClient(t, 10*time.Second)
	done := make(chan []reply)
	go func() { done <- fire(t, c, s.URL(), 1, 1) }()
	admitted(t, s, 1)
	rejected := fire(t, c, s.URL(), 2, 2)
	for _, r := range rejected {
		assert.Equal(t, http.StatusTooManyRequests, r.status)
		assert.Empty(t, r.header.Get("Retry-After"))
	}
	assert.Equal(t, map[int]int{200: 1}, statuses(<-done))
	assert.Zero(t, s.Stats().EarlyRequests, "without a Retry-After no request is early")
}

func TestBlackoutAnswers503WithRetryAfterUntilItEnds(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Blackout: Blackout{At: time.Second, For: 2500 * time.Millisecond}}})
	c := newClient(t, 10*time.Second)

	steps := []struct {
		name       string
		advance    time.Duration
		path       string
		status     int
		retryAfter string
	}{
		{"before the window", 0, "/items/1", 200, ""},
		{"at its start, the whole 2.5 s rounded up", time.Second, "/items?page=1", 503, "3"},
		{"robots.txt too", 0, "/robots.txt", 503, "3"},
		{"later in the window", 1500 * time.Millisecond, "/items/2", 503, "1"},
		{"after it and after the Retry-After", 1500 * time.Millisecond, "/items/2", 200, ""},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		r := get(t, c, s.URL()+st.path)
		require.Equal(t, st.status, r.status, st.name)
		assert.Equal(t, st.retryAfter, r.header.Get("Retry-After"), st.name)
	}
	stats := s.Stats()
	assert.EqualValues(t, 2, stats.EarlyRequests, "the requests sent before the Retry-After they were given")
	assert.Zero(t, Scenario{Blackout: Blackout{At: time.Second, For: time.Second}}.OptimumAt(1500*time.Millisecond))
}

func TestBlackoutAsAStormOf500sWithoutRetryAfter(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Blackout: Blackout{
		At: time.Second, For: 2 * time.Second, Status: http.StatusInternalServerError, NoRetryAfter: true,
	}}})
	c := newClient(t, 10*time.Second)

	steps := []struct {
		name    string
		advance time.Duration
		status  int
	}{
		{"before the window", 0, 200},
		{"at its start", time.Second, 500},
		{"again at once: nothing told it to wait", 0, 500},
		{"after it", 2 * time.Second, 200},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		r := get(t, c, s.URL()+"/items/1")
		require.Equal(t, st.status, r.status, st.name)
		assert.Empty(t, r.header.Get("Retry-After"), st.name)
	}
	stats := s.Stats()
	assert.Zero(t, stats.EarlyRequests, "without a Retry-After no request is early")
	assert.EqualValues(t, 2, stats.ByStatus[500])
	assert.Zero(t, stats.Throttled(), "a 500 is not a throttle")

	_, err := NewHandler(Config{Scenario: Scenario{Blackout: Blackout{For: time.Second, Status: 404}}})
	assert.ErrorContains(t, err, "Blackout.Status")
}

func TestBlackoutMayAnswer403Or408Or425WithItsRetryAfter(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusRequestTimeout, http.StatusTooEarly} {
		clk := newFakeClock()
		s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Blackout: Blackout{For: 2 * time.Second, Status: status}}})
		c := newClient(t, 10*time.Second)
		r := get(t, c, s.URL()+"/items/1")
		require.Equal(t, status, r.status)
		assert.Equal(t, "2", r.header.Get("Retry-After"))
		clk.Advance(2 * time.Second)
		assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status, "after the window")
	}
}

func TestCapacityStatusMustBe503Or429(t *testing.T) {
	_, err := NewHandler(Config{Scenario: Scenario{Capacity: Capacity{Slots: 1, Status: 500}}})
	assert.ErrorContains(t, err, "Capacity.Status")
	_, err = NewHandler(Config{Scenario: Scenario{Blackout: Blackout{At: -time.Second, For: time.Second}}})
	assert.ErrorContains(t, err, "Blackout")
}
