package mockapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEveryFaultKindThenTheRetrySucceeds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		faults  Faults
		timeout time.Duration // the client's
		// check looks at the first attempt: its response or error, and how long it took.
		check  func(t *testing.T, resp *http.Response, body []byte, err error, took time.Duration)
		fault  Fault
		status int // as recorded by the server
	}{
		{
			name: "500", faults: Faults{Error500: 1}, fault: Fault500, status: 500,
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
				assert.Contains(t, decode[map[string]string](t, body)["error"], "injected fault")
			},
		},
		{
			name: "connection reset", faults: Faults{Reset: 1}, fault: FaultReset, status: 0,
			check: func(t *testing.T, _ *http.Response, _ []byte, err error, _ time.Duration) {
				assert.Error(t, err)
			},
		},
		{
			name: "hang bounded by the server", faults: Faults{Hang: 1, HangMax: 200 * time.Millisecond},
			fault: FaultHang, status: 504,
			check: func(t *testing.T, resp *http.Response, _ []byte, err error, took time.Duration) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)
				// Held for HangMax, less what the mock sets its timers early
				// by to make up for their lateness (see timerLag).
				assert.GreaterOrEqual(t, took, 200*time.Millisecond-lagMax)
			},
		},
		{
			name: "hang bounded by the client", faults: Faults{Hang: 1}, timeout: 200 * time.Millisecond,
			fault: FaultHang, status: statusClientGone,
			check: func(t *testing.T, _ *http.Response, _ []byte, err error, took time.Duration) {
				assert.Error(t, err)
				assert.Less(t, took, 10*time.Second, "far below the 30 s HangMax")
			},
		},
		{
			name: "malformed JSON", faults: Faults{Malformed: 1}, fault: FaultMalformed, status: 200,
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Error(t, json.Unmarshal(body, new(detail)))
			},
		},
		{
			name: "slow body", faults: Faults{SlowBody: 1, SlowBodyDuration: 300 * time.Millisecond},
			fault: FaultSlowBody, status: 200,
			check: func(t *testing.T, resp *http.Response, body []byte, err error, took time.Duration) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, 7, decode[detail](t, body).ID)
				assert.GreaterOrEqual(t, took, 270*time.Millisecond, "nine pauses of 30 ms")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.faults.TransientAttempts = 1
			s := startServer(t, Config{Scenario: Scenario{Faults: tt.faults}})
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			c := newClient(t, timeout)
			u := s.URL() + "/items/7"

			start := time.Now()
			resp, err := c.Get(u)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			tt.check(t, resp, body, err, time.Since(start))

			require.Eventually(t, func() bool { return s.Stats().InFlight == 0 }, 5*time.Second, time.Millisecond)
			stats := s.Stats()
			assert.Equal(t, map[Fault]int64{tt.fault: 1}, stats.Faults)
			assert.Equal(t, map[int]int64{tt.status: 1}, stats.ByStatus)
			if tt.fault == FaultSlowBody {
				assert.Equal(t, map[int]int{7: 1}, stats.DetailOK, "a slow body that arrives whole counts")
			} else {
				assert.Empty(t, stats.DetailOK)
			}

			r := get(t, newClient(t, 10*time.Second), u)
			assert.Equal(t, http.StatusOK, r.status, "the second attempt is past TransientAttempts")
			assert.Equal(t, 7, decode[detail](t, r.body).ID)
			assert.Equal(t, 2, s.Stats().DetailRequests[7])
		})
	}
}

func TestHangIsReleasedOnClose(t *testing.T) {
	t.Parallel()
	s, err := Start(Config{Scenario: Scenario{Faults: Faults{Hang: 1, HangMax: time.Minute}}})
	require.NoError(t, err)
	c := newClient(t, time.Minute)
	done := make(chan reply)
	go func() {
		resp, err := c.Get(s.URL() + "/items/1")
		if !assert.NoError(t, err) {
			close(done)
			return
		}
		defer resp.Body.Close()
		done <- reply{status: resp.StatusCode}
	}()
	inFlight(t, s, 1)

	start := time.Now()
	require.NoError(t, s.Close())
	assert.Less(t, time.Since(start), 3*time.Second, "Close does not wait out a hang")
	assert.Equal(t, http.StatusServiceUnavailable, (<-done).status)
	assert.Equal(t, int64(1), s.Stats().Faults[FaultHang])
	require.NoError(t, s.Close(), "a second Close is harmless")
}

func TestPermanentlyBrokenItemsAlwaysAnswer500(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 200, Faults: Faults{Seed: 3, Permanent: 0.1}}})
	c := newClient(t, 10*time.Second)
	broken := s.Stats().BrokenItems
	require.NotEmpty(t, broken)
	assert.InDelta(t, 20, len(broken), 12, "about 10%% of 200")

	isBroken := map[int]bool{}
	for _, id := range broken {
		isBroken[id] = true
		for range 4 {
			assert.Equal(t, http.StatusInternalServerError, get(t, c, s.URL()+"/items/"+strconv.Itoa(id)).status, "item %d", id)
		}
	}
	for id := 1; id <= 200; id++ {
		if !isBroken[id] {
			assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/"+strconv.Itoa(id)).status, "item %d", id)
		}
	}
	stats := s.Stats()
	assert.Equal(t, int64(4*len(broken)), stats.Faults[FaultBroken])
	assert.Equal(t, broken, stats.Unfetched())
}

// outcomes fetches items 1..n, attempts times each, and describes each answer.
func outcomes(t *testing.T, sc Scenario, n, attempts int) []string {
	t.Helper()
	s := startServer(t, Config{Scenario: sc})
	c := newClient(t, 10*time.Second)
	var out []string
	for id := 1; id <= n; id++ {
		for a := 1; a <= attempts; a++ {
			r := get(t, c, s.URL()+"/items/"+strconv.Itoa(id))
			valid := json.Valid(r.body)
			out = append(out, fmt.Sprintf("%d/%d:%d:%v", id, a, r.status, valid))
		}
	}
	return out
}

func TestFaultsAreDeterministicForASeed(t *testing.T) {
	sc := Scenario{Items: 60, Faults: Faults{Seed: 7, Error500: 0.3, Malformed: 0.2, Permanent: 0.05, TransientAttempts: 2}}
	first := outcomes(t, sc, 60, 3)
	again := outcomes(t, sc, 60, 3)
	assert.Equal(t, first, again, "same seed, same faults")

	other := sc
	other.Faults.Seed = 8
	assert.NotEqual(t, first, outcomes(t, other, 60, 3), "another seed, other faults")

	var faulty, thirdFailed int
	for i, o := range first {
		if !strings.HasSuffix(o, ":200:true") {
			faulty++
			if i%3 == 2 {
				thirdFailed++
			}
		}
	}
	assert.Greater(t, faulty, 10, "rates of 0.5 on two attempts of 60 items")
	// Only broken items fail a third time: faults are transient otherwise.
	assert.Equal(t, thirdFailed, len(sc.brokenItems()))
}

func TestFaultDecisionsFollowTheRates(t *testing.T) {
	f := Faults{Seed: 11, Error500: 0.10, Reset: 0.05, Hang: 0.02, Malformed: 0.08, SlowBody: 0.05, TransientAttempts: 2}
	const n = 20000
	counts := map[Fault]int{}
	for i := range n {
		counts[f.decide("/items/"+strconv.Itoa(i), 1)]++
		assert.Equal(t, Fault(""), f.decide("/items/"+strconv.Itoa(i), 3), "past TransientAttempts")
	}
	want := map[Fault]float64{"": 0.70, Fault500: 0.10, FaultReset: 0.05, FaultHang: 0.02, FaultMalformed: 0.08, FaultSlowBody: 0.05}
	for k, p := range want {
		assert.InDelta(t, p, float64(counts[k])/n, 0.01, "fault %q", k)
	}
}

func TestListingPagesFaultOnlyWhenAsked(t *testing.T) {
	tests := []struct {
		name   string
		pages  bool
		status int
	}{
		{"details only by default", false, http.StatusOK},
		{"pages too", true, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Faults: Faults{Error500: 1, Pages: tt.pages}}})
			assert.Equal(t, tt.status, get(t, newClient(t, 10*time.Second), s.URL()+"/items?page=2").status)
		})
	}
}

func TestRobotsTxtFaultsOnlyWhenAsked(t *testing.T) {
	tests := []struct {
		name   string
		robots bool
		status int
	}{
		{"never by default", false, http.StatusOK},
		{"when asked", true, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Faults: Faults{Error500: 1, Robots: tt.robots}}})
			assert.Equal(t, tt.status, get(t, newClient(t, 10*time.Second), s.URL()+"/robots.txt").status)
		})
	}
}

func TestJitterIsBoundedAndRepeatsForASeed(t *testing.T) {
	sc := Scenario{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Faults: Faults{Seed: 5}}
	seen := map[time.Duration]bool{}
	for i := range 1000 {
		key := "/items/" + strconv.Itoa(i)
		d := sc.latency(key, 1, 0)
		assert.GreaterOrEqual(t, d, 15*time.Millisecond)
		assert.LessOrEqual(t, d, 25*time.Millisecond)
		assert.Equal(t, d, sc.latency(key, 1, 0), "same seed, key and attempt")
		seen[d] = true
	}
	assert.Greater(t, len(seen), 900, "spread, not constant")
	fixed := Scenario{Latency: 20 * time.Millisecond}
	assert.Equal(t, 20*time.Millisecond, fixed.latency("/items/1", 1, 0), "no jitter")
}

func TestLatencyDriftsWithTimeAndASlowShareIsSlowerByItsFactor(t *testing.T) {
	drift := Scenario{Latency: 20 * time.Millisecond, LatencyDrift: time.Millisecond}
	assert.Equal(t, 20*time.Millisecond, drift.latency("/items/1", 1, 0))
	assert.Equal(t, 80*time.Millisecond, drift.latency("/items/1", 1, time.Minute), "1 ms more each second")
	faster := Scenario{Latency: 20 * time.Millisecond, LatencyDrift: -time.Millisecond}
	assert.Equal(t, 10*time.Millisecond, faster.latency("/items/1", 1, 10*time.Second))
	assert.Zero(t, faster.latency("/items/1", 1, time.Minute), "never below zero")

	bimodal := Scenario{Latency: 20 * time.Millisecond, SlowShare: 0.1, Faults: Faults{Seed: 3}}.withDefaults()
	slow := 0
	for i := range 10_000 {
		key := "/items/" + strconv.Itoa(i)
		d := bimodal.latency(key, 1, 0)
		require.Contains(t, []time.Duration{20 * time.Millisecond, 200 * time.Millisecond}, d, key)
		assert.Equal(t, d, bimodal.latency(key, 1, 0), "same seed, key and attempt")
		if d > 20*time.Millisecond {
			slow++
		}
	}
	assert.InDelta(t, 1000, slow, 100, "a tenth of the requests, 10x slower")
}

func TestListingLatencyServesPagesAtTheirOwnPace(t *testing.T) {
	h, err := NewHandler(Config{Scenario: Scenario{Latency: 5 * time.Millisecond, ListingLatency: time.Second}})
	require.NoError(t, err)
	defer h.Close()
	assert.Equal(t, time.Second, h.serviceTime(request{class: ClassListing, key: "/items?page=1", attempt: 1}))
	assert.Equal(t, 5*time.Millisecond, h.serviceTime(request{class: ClassDetail, key: "/items/1", attempt: 1}))
}
