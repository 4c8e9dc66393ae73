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
	idle := &conn{accepted: clk.Now(), used: true, answered: clk.Now()}
	answered := &conn{accepted: clk.Now(), used: true, answered: clk.Now()}
	clk.Advance(time.Millisecond)
	arrive := func(cn *conn) { r.arrive("c", cn, false, ClassDetail, "/items/1", 1, false) }
	arrive(answered)
	r.tellWait("c", answered, clk.Now().Add(time.Second))
	r.finish("c", answered, 429, "", 1, false)

	arrive(idle)     // on its way: within a round trip of the answer, on another connection
	arrive(answered) // after the answer on its own connection: the client had read it
	clk.Advance(2 * inFlightSlack)
	arrive(opened)                     // the first request on a connection opened before the answer
	arrive(&conn{accepted: clk.Now()}) // a connection opened after it
	arrive(idle)                       // a round trip after the answer, but after an answer from before it
	arrive(nil)                        // outside Start's server every request in the wait counts
	assert.EqualValues(t, 3, r.snapshot().EarlyRequests)
	clk.Advance(time.Second)
	arrive(opened)
	assert.EqualValues(t, 3, r.snapshot().EarlyRequests, "after the wait")
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

// A request on another connection than the answer's counts only if the
// client had read something the server wrote inFlightSlack or more after the
// answer: the answer before it on its connection, or (the first on it) the
// connection's accept. However late it reached the handler, a request the
// client sent after an answer written before, or about with, the one that
// told it to wait may have been sent before it read that one (a trace of a
// loaded crawl: two requests sent 0.1 ms before the client read a 503,
// after answers written 1.8 ms after it, reached the handler 5.9 ms after
// the 503; another, sent 38 ms before the 503 was written, 55 ms after it).
func TestEarlyRequestsCountThoseSentAfterTheClientCouldHaveReadTheAnswer(t *testing.T) {
	clk := newFakeClock()
	r := newRecorder(&Scenario{}, "remote-ip", clk.Now(), clk.Now)
	arrive := func(cn *conn) { r.arrive("c", cn, false, ClassDetail, "/items/1", 1, false) }
	answer := func(cn *conn) { arrive(cn); r.finish("c", cn, 200, "", 1, true) }
	before, with, after := &conn{accepted: clk.Now()}, &conn{accepted: clk.Now()}, &conn{accepted: clk.Now()}
	answer(before)
	clk.Advance(time.Millisecond)
	told := &conn{accepted: clk.Now()}
	arrive(told)
	r.tellWait("c", told, clk.Now().Add(time.Second))
	clk.Advance(2 * inFlightSlack) // a loaded server writes the 503 late
	pending := &conn{accepted: clk.Now()}
	answer(pending)
	r.finish("c", told, 503, "", 1, false)
	clk.Advance(inFlightSlack - time.Millisecond)
	answer(with)
	opened := &conn{accepted: clk.Now()}
	clk.Advance(time.Millisecond)
	answer(after) // its answer is written a slack after the 503
	assert.EqualValues(t, 0, r.snapshot().EarlyRequests, "each was sent before the client could have read the 503")

	clk.Advance(5 * inFlightSlack) // the handler reads them late
	arrive(before)
	arrive(pending)
	arrive(with)
	arrive(opened)
	assert.EqualValues(t, 0, r.snapshot().EarlyRequests, "sent after answers written before the 503 was, or within a slack of it")
	arrive(after)
	assert.EqualValues(t, 1, r.snapshot().EarlyRequests, "sent after an answer written a slack after the 503")
	arrive(&conn{accepted: clk.Now()})
	assert.EqualValues(t, 2, r.snapshot().EarlyRequests, "the first on a connection opened a slack after the 503")
}

// Through Start's server: a request the handler reads long after an answer
// told its client to wait is not early when its connection's answer before
// it was written before that one.
func TestEarlyRequestsLeaveOutThoseTheServerReadLate(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 1, Burst: 2}}})
	one := func() *http.Client { return oneConnClient(t) }
	a, b := one(), one()
	assert.Equal(t, 200, get(t, b, s.URL()+"/items/1").status)
	assert.Equal(t, 200, get(t, a, s.URL()+"/items/2").status)
	assert.Equal(t, 429, get(t, a, s.URL()+"/items/3").status, "told to wait")
	clk.Advance(5 * inFlightSlack)
	assert.Equal(t, 429, get(t, b, s.URL()+"/items/4").status, "sent after an answer from before the wait, read late")
	assert.EqualValues(t, 0, s.Stats().EarlyRequests)
	assert.Equal(t, 429, get(t, b, s.URL()+"/items/5").status, "after the answer on its own connection")
	assert.EqualValues(t, 1, s.Stats().EarlyRequests)
	assert.Equal(t, 429, get(t, one(), s.URL()+"/items/6").status, "a connection opened well after the answer")
	assert.EqualValues(t, 2, s.Stats().EarlyRequests)
}

// A client that ignores a wait is counted from its first request on each
// connection it kept open: past readSlack after the answer that told it to
// wait, a request counts whatever it followed on its connection (a client
// that read an answer written before the wait and sends only a second
// later has read the wait too).
func TestEarlyRequestsCountARequestLongAfterTheAnswerWhateverItFollowed(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 1, Burst: 2}}})
	one := func() *http.Client { return oneConnClient(t) }
	a, b := one(), one()
	assert.Equal(t, 200, get(t, b, s.URL()+"/items/1").status)
	assert.Equal(t, 200, get(t, a, s.URL()+"/items/2").status)
	assert.Equal(t, 429, get(t, a, s.URL()+"/items/3").status, "told to wait")
	clk.Advance(readSlack)
	assert.Equal(t, 429, get(t, b, s.URL()+"/items/4").status, "on a connection last read before the wait, long after it")
	assert.EqualValues(t, 1, s.Stats().EarlyRequests)
}

// oneConnClient returns a client that keeps one connection alive.
func oneConnClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
