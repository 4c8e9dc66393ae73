package mockapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatsCountRequestsByClassStatusSecondAndItem(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Name: "counting", Items: 3}})
	c := newClient(t, 10*time.Second)

	for _, p := range []string{"/items", "/items/1", "/items/1", "/items/99", "/items/x", "/robots.txt", "/nowhere"} {
		get(t, c, s.URL()+p)
	}
	resp, err := c.Post(s.URL()+"/items", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	clk.Advance(1500 * time.Millisecond)
	get(t, c, s.URL()+"/items/2")

	r := get(t, c, s.URL()+"/__stats")
	require.Equal(t, http.StatusOK, r.status)
	served := decode[Stats](t, r.body)
	stats := s.Stats()
	assert.Equal(t, stats.Requests, served.Requests, "/__stats serves Stats and is not counted")
	assert.Equal(t, stats.ByStatus, served.ByStatus)
	assert.Equal(t, stats.DetailRequests, served.DetailRequests)
	assert.Equal(t, stats.PerSecond, served.PerSecond)

	assert.Equal(t, "counting", stats.Scenario)
	assert.Equal(t, "remote-ip", stats.ClientKey)
	assert.Equal(t, int64(9), stats.Requests)
	assert.Equal(t, map[Class]int64{ClassListing: 2, ClassDetail: 5, ClassRobots: 1, ClassOther: 1}, stats.ByClass)
	assert.Equal(t, map[int]int64{200: 5, 404: 3, 405: 1}, stats.ByStatus)
	assert.Equal(t, map[int]int{1: 2, 2: 1}, stats.DetailRequests, "unknown ids are not items")
	assert.Equal(t, map[int]int{1: 2, 2: 1}, stats.DetailOK)
	assert.Equal(t, []int{3}, stats.Unfetched())
	assert.Equal(t, []Second{
		{Requests: 8, OK: 4, Errors: 4, MaxInFlight: 1},
		{Requests: 1, OK: 1, MaxInFlight: 1},
	}, stats.PerSecond)
	assert.Equal(t, 0, stats.InFlight)
	assert.Equal(t, 1, stats.MaxInFlight)
	assert.Equal(t, clk.Now().Add(-1500*time.Millisecond), stats.Started)
}

func TestStatsTimeTheFirstDetailRequestAndTheLastDetailOK(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Name: "timing", Items: 3}})
	c := newClient(t, 10*time.Second)

	get(t, c, s.URL()+"/items")
	assert.True(t, s.Stats().FirstDetail.IsZero(), "a listing page is not a detail")
	assert.True(t, s.Stats().LastDetailOK.IsZero())
	clk.Advance(200 * time.Millisecond)
	first := clk.Now()
	get(t, c, s.URL()+"/items/1")
	clk.Advance(300 * time.Millisecond)
	last := clk.Now()
	get(t, c, s.URL()+"/items/2")
	clk.Advance(400 * time.Millisecond)
	get(t, c, s.URL()+"/items/99") // 404: not an answer that counts
	get(t, c, s.URL()+"/items")

	stats := s.Stats()
	assert.Equal(t, first, stats.FirstDetail)
	assert.Equal(t, last, stats.LastDetailOK)
	served := decode[Stats](t, get(t, c, s.URL()+"/__stats").body)
	assert.True(t, served.LastDetailOK.Equal(last), "/__stats carries them")
}

func TestStatsMaxInFlight(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Scenario: Scenario{Latency: time.Second}})
	statuses := statuses(fire(t, newClient(t, 10*time.Second), s.URL(), 1, 5))
	assert.Equal(t, map[int]int{200: 5}, statuses)
	stats := s.Stats()
	// All five overlap unless the machine took a second to send them.
	assert.Equal(t, 5, stats.MaxInFlight)
	assert.Equal(t, 5, stats.PerSecond[0].MaxInFlight)
}

func TestEarlyRequestsAreKeyedByClientHeader(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, ClientHeader: "X-Client-ID", Scenario: Scenario{Quota: Quota{Rate: 1, Burst: 1}}})
	c := newClient(t, 10*time.Second)
	send := func(client string) int {
		req, err := http.NewRequest(http.MethodGet, s.URL()+"/items/1", nil)
		require.NoError(t, err)
		req.Header.Set("X-Client-ID", client)
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, send("a"))
	assert.Equal(t, 429, send("a"), "a is told to wait")
	assert.Equal(t, 429, send("b"), "the bucket is shared; b had not been told")
	clk.Advance(inFlightSlack) // later than a request on its way when the answer left
	assert.Equal(t, 429, send("a"), "a comes back too early")
	clk.Advance(time.Second)
	assert.Equal(t, 200, send("b"), "Retry-After has passed")

	stats := s.Stats()
	assert.Equal(t, "header:X-Client-Id", stats.ClientKey)
	assert.Equal(t, int64(1), stats.EarlyRequests)
}

// A request that reached the server after an answer told its client to wait,
// but that the client sent before it got the answer, is not early: the cold
// start of a crawl sends a few requests at once, and one the server refuses
// first can tell the client to wait while the others are on their way (a
// trace of a crawl of 5 req/s, burst 2: two requests sent 0.7 and 1.2 ms
// before the 429 was written reached the handler 0.1 and 0.3 ms after it).
func TestEarlyRequestsLeaveOutThoseOnTheirWayWhenTheAnswerLeft(t *testing.T) {
	clk := newFakeClock()
	r := newRecorder(&Scenario{}, "remote-ip", clk.Now(), clk.Now)
	opened := &conn{accepted: clk.Now()} // opened for a request of the cold start
	idle := &conn{accepted: clk.Now(), used: true}
	answered := &conn{accepted: clk.Now(), used: true}
	clk.Advance(time.Millisecond)
	r.tellWait("c", answered, clk.Now().Add(time.Second))

	arrive := func(cn *conn) { r.arrive("c", cn, ClassDetail, "/items/1", 1, false) }
	arrive(idle)     // on its way: within a round trip of the answer, on another connection
	arrive(answered) // after the answer on its own connection: the client had read it
	clk.Advance(10 * time.Millisecond)
	arrive(opened)                     // the first request on a connection opened before the answer
	arrive(&conn{accepted: clk.Now()}) // a connection opened after it
	arrive(idle)                       // a round trip after the answer
	arrive(nil)                        // outside Start's server every request in the wait counts
	assert.EqualValues(t, 4, r.snapshot().EarlyRequests)
	clk.Advance(time.Second)
	arrive(opened)
	assert.EqualValues(t, 4, r.snapshot().EarlyRequests, "after the wait")
}

// Start's server tells connections apart: a request on the connection that
// carried the answer, after it, is early at once; one on another connection
// within a round trip of the answer may have been on its way.
func TestEarlyRequestsOnTheAnswersConnectionCountAtOnce(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 1, Burst: 1}}})
	one := func() *http.Client { // one connection, kept alive: the next request waits for it
		tr := &http.Transport{MaxConnsPerHost: 1}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	c, other := one(), one()
	assert.Equal(t, 200, get(t, c, s.URL()+"/items/1").status)
	assert.Equal(t, 429, get(t, c, s.URL()+"/items/2").status, "told to wait")
	assert.Equal(t, 429, get(t, other, s.URL()+"/items/2").status, "another connection, at once")
	assert.EqualValues(t, 0, s.Stats().EarlyRequests)
	assert.Equal(t, 429, get(t, c, s.URL()+"/items/2").status, "the answer's connection, at once")
	assert.EqualValues(t, 1, s.Stats().EarlyRequests)
}
