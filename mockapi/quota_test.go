package mockapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuotaAnswers429WithRetryAfterAndHeadersOnEveryResponse(t *testing.T) {
	clk := newFakeClock()
	// 2 req/s, burst 2: announced as a 1 s window refilling 2, Limit 2+2.
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 2, Burst: 2}}})
	c := newClient(t, 10*time.Second)

	steps := []struct {
		name       string
		advance    time.Duration
		path       string
		status     int
		remaining  string // tokens left + the 2 that refill in the next second
		retryAfter string
	}{
		{"first token", 0, "/items/1", 200, "3", ""},
		{"last token", 0, "/items/2", 200, "2", ""},
		{"robots.txt only reads the bucket", 0, "/robots.txt", 200, "2", ""},
		{"bucket empty", 0, "/items/3", 429, "0", "1"},
		{"half a second refills one token", 500 * time.Millisecond, "/items/3", 200, "2", ""},
		{"empty again, told to wait", 0, "/items/4", 429, "0", "1"},
		{"a 404 carries the headers too", 2 * time.Second, "/nowhere", 404, "3", ""},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		r := get(t, c, s.URL()+st.path)
		assert.Equal(t, st.status, r.status, st.name)
		assert.Equal(t, st.retryAfter, r.header.Get("Retry-After"), st.name)
		for _, family := range []string{"RateLimit-", "X-RateLimit-"} {
			assert.Equal(t, "4", r.header.Get(family+"Limit"), st.name)
			assert.Equal(t, st.remaining, r.header.Get(family+"Remaining"), st.name)
			assert.Equal(t, "1", r.header.Get(family+"Reset"), "%s: the window, or the Retry-After on a 429", st.name)
		}
		assert.Equal(t, `"bucket";q=2;w=1`, r.header.Get("RateLimit-Policy"), st.name)
		assert.Equal(t, `"bucket";r=`+st.remaining+";t=1", r.header.Get("RateLimit"), st.name)
	}

	stats := s.Stats()
	assert.Equal(t, map[int]int64{200: 4, 429: 2, 404: 1}, stats.ByStatus)
	assert.Equal(t, int64(2), stats.Throttled())
	// Both requests at 0.5 s came inside the first 429's Retry-After of 1 s
	// (the 200 among them too); the 404 at 2.5 s came after the second's ended.
	assert.Equal(t, int64(2), stats.EarlyRequests)
}

func TestQuotaHeaderFamiliesAreConfigurable(t *testing.T) {
	ietf := []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "RateLimit"}
	x := []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
	tests := []struct {
		name       string
		headers    QuotaHeaders
		sent, none []string
	}{
		{"both by default", QuotaHeadersBoth, append(ietf, x...), nil},
		{"IETF only", QuotaHeadersIETF, ietf, x},
		{"X only", QuotaHeadersX, x, ietf},
		{"none", QuotaHeadersNone, nil, append(ietf, x...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Quota: Quota{Rate: 100, Burst: 5, Headers: tt.headers}}})
			r := get(t, newClient(t, 10*time.Second), s.URL()+"/items")
			require.Equal(t, http.StatusOK, r.status)
			for _, h := range tt.sent {
				assert.NotEmpty(t, r.header.Get(h), h)
			}
			for _, h := range tt.none {
				assert.Empty(t, r.header.Get(h), h)
			}
		})
	}
}

func TestBucketRefillsAtRateUpToBurst(t *testing.T) {
	t0 := newFakeClock().Now()
	b := newBucket(Quota{Rate: 10, Burst: 3}, t0)
	steps := []struct {
		at        time.Duration
		ok        bool
		wait      time.Duration
		remaining string
	}{
		{0, true, 0, "12"},
		{0, true, 0, "11"},
		{0, true, 0, "10"},
		{0, false, 100 * time.Millisecond, "0"},
		{50 * time.Millisecond, false, 50 * time.Millisecond, "0"},
		{100 * time.Millisecond, true, 0, "10"},
		{time.Hour, true, 0, "12"}, // refills to the burst only
	}
	for i, st := range steps {
		h := http.Header{}
		ok, wait := b.take(t0.Add(st.at), true, h)
		assert.Equal(t, st.ok, ok, "step %d", i)
		assert.InDelta(t, st.wait.Seconds(), wait.Seconds(), 1e-9, "step %d", i)
		assert.Equal(t, st.remaining, h.Get("RateLimit-Remaining"), "step %d", i)
		assert.Equal(t, "1", h.Get("RateLimit-Reset"), "step %d", i)
	}
	h := http.Header{}
	ok, _ := b.take(t0.Add(time.Hour), false, h)
	assert.True(t, ok)
	assert.Equal(t, "12", h.Get("RateLimit-Remaining"), "reading does not spend")
	assert.Equal(t, "13", h.Get("RateLimit-Limit"))
}

func TestQuotaPolicyStatesTheSustainedRate(t *testing.T) {
	tests := []struct {
		name  string
		quota Quota
		want  string
	}{
		{"fast", Quota{Rate: 100, Burst: 10}, `"bucket";q=100;w=1`},
		{"burst longer than a second", Quota{Rate: 2, Burst: 5}, `"bucket";q=6;w=3`},
		{"slower than one a second", Quota{Rate: 0.5, Burst: 1}, `"bucket";q=1;w=2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, newBucket(tt.quota, time.Time{}).policy)
		})
	}
}

func TestHeaderQuotaAnswers403WhenTheWindowIsUsedUp(t *testing.T) {
	clk := newFakeClock() // on a whole minute, so on a 10 s window boundary
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{HeaderQuota: HeaderQuota{Limit: 3, Window: 10 * time.Second}}})
	c := newClient(t, 10*time.Second)
	windowEnd := strconv.FormatInt(clk.Now().Add(10*time.Second).Unix(), 10)

	steps := []struct {
		name            string
		advance         time.Duration
		path            string
		status          int
		remaining, used string
		reset           string
	}{
		{"first", 0, "/items/1", 200, "2", "1", windowEnd},
		{"robots.txt is not counted", time.Second, "/robots.txt", 200, "2", "1", windowEnd},
		{"second", 0, "/items/2", 200, "1", "2", windowEnd},
		{"last of the window", 0, "/items", 200, "0", "3", windowEnd},
		{"used up", 8 * time.Second, "/items/3", 403, "0", "3", windowEnd},
		{"next window", time.Second, "/items/3", 200, "2", "1",
			strconv.FormatInt(clk.Now().Add(20*time.Second).Unix(), 10)},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		r := get(t, c, s.URL()+st.path)
		assert.Equal(t, st.status, r.status, st.name)
		assert.Equal(t, "3", r.header.Get("X-RateLimit-Limit"), st.name)
		assert.Equal(t, st.remaining, r.header.Get("X-RateLimit-Remaining"), st.name)
		assert.Equal(t, st.used, r.header.Get("X-RateLimit-Used"), st.name)
		assert.Equal(t, st.reset, r.header.Get("X-RateLimit-Reset"), st.name)
		assert.Empty(t, r.header.Get("RateLimit-Remaining"), "only X-RateLimit-* announce a header quota")
		assert.Empty(t, r.header.Get("Retry-After"), st.name)
		if st.status == http.StatusForbidden {
			msg := decode[map[string]string](t, r.body)
			assert.Contains(t, msg["message"], "API rate limit exceeded")
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
		}
	}
	stats := s.Stats()
	assert.Equal(t, int64(1), stats.ByStatus[403])
	assert.Equal(t, int64(1), stats.EarlyRequests, "the 403 came after the client was told Remaining: 0")
}

func TestSlidingHeaderQuotaCountsThePreviousWindowsWeightedShare(t *testing.T) {
	clk := newFakeClock() // on a whole minute, so on a 10 s window boundary
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{HeaderQuota: HeaderQuota{Limit: 4, Window: 10 * time.Second, Kind: HeaderQuotaSliding}}})
	c := newClient(t, 10*time.Second)
	end := func(w int) string {
		return strconv.FormatInt(clk.Now().Add(time.Duration(w)*10*time.Second).Unix(), 10)
	}
	firstEnd, secondEnd := end(1), end(2)

	steps := []struct {
		name       string
		advance    time.Duration
		path       string
		status     int
		remaining  string
		reset      string
		retryAfter string
	}{
		{"first", 0, "/items/1", 200, "3", firstEnd, ""},
		{"robots.txt is not counted", 0, "/robots.txt", 200, "3", firstEnd, ""},
		{"second", 0, "/items/2", 200, "2", firstEnd, ""},
		{"third", 0, "/items/3", 200, "1", firstEnd, ""},
		{"fourth", 0, "/items/4", 200, "0", firstEnd, ""},
		{"over the limit", time.Second, "/items/5", 429, "0", firstEnd, "10"},
		// At 12.5 s the first window's 4 requests still weigh 4 × 0.75 = 3.
		{"the previous window still counts", 11500 * time.Millisecond, "/items/5", 200, "0", secondEnd, ""},
		{"and refuses the next", 0, "/items/6", 429, "0", secondEnd, "10"},
		// At 17.5 s the weight is 0.25: 1 + 1 = 2 counted.
		{"its weight falls during the window", 5 * time.Second, "/items/6", 200, "1", secondEnd, ""},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		r := get(t, c, s.URL()+st.path)
		assert.Equal(t, st.status, r.status, st.name)
		assert.Equal(t, "4", r.header.Get("X-RateLimit-Limit"), st.name)
		assert.Equal(t, st.remaining, r.header.Get("X-RateLimit-Remaining"), st.name)
		assert.Equal(t, st.reset, r.header.Get("X-RateLimit-Reset"), st.name)
		assert.Equal(t, st.retryAfter, r.header.Get("Retry-After"), st.name)
	}
	stats := s.Stats()
	assert.Equal(t, int64(2), stats.ByStatus[429])
	assert.Equal(t, int64(1), stats.EarlyRequests, "the request at 17.5 s came within the Retry-After of the 429 at 12.5 s")
}

func TestTokenBucketHeaderQuotaAnnouncesTokensAndTimeUntilFull(t *testing.T) {
	clk := newFakeClock()
	// 10 per second, burst 2.
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{HeaderQuota: HeaderQuota{Limit: 10, Window: time.Second, Kind: HeaderQuotaTokenBucket, Burst: 2}}})
	c := newClient(t, 10*time.Second)

	steps := []struct {
		name             string
		advance          time.Duration
		status           int
		remaining, reset string
		retryAfter       string
	}{
		{"first token", 0, 200, "1", "1", ""},
		{"last token", 0, 200, "0", "1", ""},
		{"empty: a token in 100 ms, said in whole seconds", 0, 429, "0", "1", "1"},
		{"100 ms refills one", 100 * time.Millisecond, 200, "0", "1", ""},
		{"a second refills to the burst only", time.Second, 200, "1", "1", ""},
		{"full again", time.Second, 200, "1", "1", ""},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		r := get(t, c, s.URL()+"/items/"+strconv.Itoa(i+1))
		assert.Equal(t, st.status, r.status, st.name)
		assert.Equal(t, "10", r.header.Get("X-RateLimit-Limit"), st.name)
		assert.Equal(t, st.remaining, r.header.Get("X-RateLimit-Remaining"), st.name)
		assert.Equal(t, st.reset, r.header.Get("X-RateLimit-Reset"), st.name)
		assert.Equal(t, st.retryAfter, r.header.Get("Retry-After"), st.name)
	}
	r := get(t, c, s.URL()+"/robots.txt")
	assert.Equal(t, "1", r.header.Get("X-RateLimit-Remaining"), "robots.txt only reads the bucket")
	assert.Equal(t, int64(1), s.Stats().ByStatus[429])
}

func TestQuotaWithoutRetryAfterAnswersABare429(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 2, Burst: 1, Headers: QuotaHeadersNone, NoRetryAfter: true}}})
	c := newClient(t, 10*time.Second)
	require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status)
	r := get(t, c, s.URL()+"/items/2")
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Empty(t, r.header.Get("Retry-After"))
	assert.Empty(t, r.header.Get("RateLimit"))
	clk.Advance(500 * time.Millisecond)
	r = get(t, c, s.URL()+"/items/2")
	assert.Equal(t, http.StatusOK, r.status, "half a second refills the token")
	assert.Zero(t, s.Stats().EarlyRequests, "no wait was asked, so none came early")
}

func TestQuotaWithAFixedRetryAfterAnnouncesItAndCountsEarlyAgainstIt(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 10, Burst: 1, Headers: QuotaHeadersNone, RetryAfter: 5 * time.Second}}})
	c := newClient(t, 10*time.Second)
	require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status)
	r := get(t, c, s.URL()+"/items/2")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "5", r.header.Get("Retry-After"), "the fixed penalty, not the 0.1 s until a token")
	clk.Advance(time.Second)
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/2").status, "the bucket itself has refilled")
	assert.EqualValues(t, 1, s.Stats().EarlyRequests, "a request 1 s after a Retry-After of 5 s is early")
	clk.Advance(5 * time.Second)
	get(t, c, s.URL()+"/items/3")
	assert.EqualValues(t, 1, s.Stats().EarlyRequests)
}

func TestRetryAfterDateSendsTheInstantAsAnHTTPDate(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
		RetryAfterDate: true,
		Quota:          Quota{Rate: 1, Burst: 1, Headers: QuotaHeadersNone},
		Blackout:       Blackout{At: 10 * time.Second, For: 2500 * time.Millisecond},
	}})
	c := newClient(t, 10*time.Second)
	require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status)

	r := get(t, c, s.URL()+"/items/2")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	at, err := http.ParseTime(r.header.Get("Retry-After"))
	require.NoError(t, err, "the quota's Retry-After is an HTTP-date")
	assert.Equal(t, clk.Now().Add(time.Second).Truncate(time.Second).Unix(), at.Unix())

	clk.Advance(10 * time.Second)
	r = get(t, c, s.URL()+"/items/3")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	at, err = http.ParseTime(r.header.Get("Retry-After"))
	require.NoError(t, err, "the blackout's Retry-After is an HTTP-date")
	assert.Equal(t, clk.Now().Add(3*time.Second).Truncate(time.Second).Unix(), at.Unix(), "the 2.5 s left, rounded up")
}

func TestRetryAfterDateCountsAsEarlyOnlyRequestsBeforeTheSecondItNames(t *testing.T) {
	clk := newFakeClock()
	clk.Advance(250 * time.Millisecond) // the token is due at 1.25 s; the date can only say 1 s
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
		RetryAfterDate: true,
		Quota:          Quota{Rate: 1, Burst: 1, Headers: QuotaHeadersNone},
	}})
	c := refusedWithADate(t, s, clk)

	clk.Advance(700 * time.Millisecond) // 0.95 s: before the date
	get(t, c, s.URL()+"/items/3")
	assert.Equal(t, int64(1), s.Stats().EarlyRequests)
	clk.Advance(100 * time.Millisecond) // 1.05 s: after the date, before the token
	get(t, c, s.URL()+"/items/4")
	assert.Equal(t, int64(1), s.Stats().EarlyRequests, "a client that waited for the date it was given is not early")
}

func TestRetryAfterDateAppliesToTheHeaderQuotasRefusal(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
		RetryAfterDate: true,
		HeaderQuota:    HeaderQuota{Limit: 1, Window: time.Second, Kind: HeaderQuotaTokenBucket},
	}})
	refusedWithADate(t, s, clk)
}

func TestClockOffsetPutsDateWindowsAndRetryAfterDatesOnTheServersClock(t *testing.T) {
	for _, off := range []time.Duration{7 * time.Second, -7 * time.Second} {
		t.Run(off.String(), func(t *testing.T) {
			clk := newFakeClock()
			clk.Advance(250 * time.Millisecond)
			s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
				ClockOffset:    off,
				RetryAfterDate: true,
				HeaderQuota:    HeaderQuota{Limit: 1, Window: 10 * time.Second, Kind: HeaderQuotaFixed},
				Blackout:       Blackout{At: 30 * time.Second, For: 2 * time.Second},
			}})
			c := newClient(t, 10*time.Second)
			server := clk.Now().Add(off)

			r := get(t, c, s.URL()+"/items/1")
			require.Equal(t, http.StatusOK, r.status)
			date, err := http.ParseTime(r.header.Get("Date"))
			require.NoError(t, err)
			assert.Equal(t, server.Truncate(time.Second).Unix(), date.Unix(), "Date is the server's clock")
			windowEnd := server.Truncate(10 * time.Second).Add(10 * time.Second)
			assert.Equal(t, strconv.FormatInt(windowEnd.Unix(), 10), r.header.Get("X-RateLimit-Reset"),
				"the fixed window is aligned to the epoch on the server's clock")

			clk.Advance(windowEnd.Sub(server) - time.Millisecond)
			require.Equal(t, http.StatusForbidden, get(t, c, s.URL()+"/items/2").status, "the window has not ended on the server's clock")
			assert.Equal(t, int64(1), s.Stats().EarlyRequests, "early by the server's clock")
			clk.Advance(time.Millisecond)
			require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/3").status)

			clk.Advance(server.Add(30 * time.Second).Sub(clk.Now().Add(off)))
			r = get(t, c, s.URL()+"/items/4")
			require.Equal(t, http.StatusServiceUnavailable, r.status)
			at, err := http.ParseTime(r.header.Get("Retry-After"))
			require.NoError(t, err)
			assert.Equal(t, server.Add(32*time.Second).Truncate(time.Second).Unix(), at.Unix(), "the Retry-After date is on the server's clock")
		})
	}
}

func TestHeaderQuotaIETFAnnouncesEachKindInRateLimitAndPolicy(t *testing.T) {
	for _, tt := range []struct {
		kind   HeaderQuotaKind
		policy string
		// after 3 requests 2.5 s into a 10 s window (the clock starts on a window's start)
		rateLimit string
		status    int // of the third request
	}{
		{HeaderQuotaFixed, `"window";q=2;w=10`, `"window";r=0;t=8`, http.StatusForbidden},
		{HeaderQuotaSliding, `"window";q=2;w=10`, `"window";r=0;t=8`, http.StatusTooManyRequests},
		// 2 tokens refilled at 0.2/s: 0.5 left after 2.5 s and two requests, full in 7.5 s
		{HeaderQuotaTokenBucket, `"window";q=2;w=10`, `"window";r=0;t=8`, http.StatusTooManyRequests},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			clk := newFakeClock()
			s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
				HeaderQuota: HeaderQuota{Limit: 2, Window: 10 * time.Second, Kind: tt.kind, IETF: true}}})
			c := newClient(t, 10*time.Second)
			r := get(t, c, s.URL()+"/items/1")
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, tt.policy, r.header.Get("RateLimit-Policy"))
			clk.Advance(2500 * time.Millisecond)
			require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/2").status)
			r = get(t, c, s.URL()+"/items/3")
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.policy, r.header.Get("RateLimit-Policy"))
			assert.Equal(t, tt.rateLimit, r.header.Get("RateLimit"))
			for _, x := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
				assert.Empty(t, r.header.Get(x), "IETF replaces %s", x)
			}
		})
	}
}

func TestHeaderQuotaRequestsAnnouncesEachKindAsInferenceAPIsDo(t *testing.T) {
	for _, tt := range []struct {
		kind   HeaderQuotaKind
		status int // of the third request, 2.5 s into a 10 s window (the clock starts on a window's start)
	}{
		{HeaderQuotaFixed, http.StatusForbidden},
		{HeaderQuotaSliding, http.StatusTooManyRequests},
		{HeaderQuotaTokenBucket, http.StatusTooManyRequests}, // 2 tokens at 0.2/s: 0.5 left, full in 7.5 s
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			clk := newFakeClock()
			s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
				HeaderQuota: HeaderQuota{Limit: 2, Window: 10 * time.Second, Kind: tt.kind, Requests: true}}})
			c := newClient(t, 10*time.Second)
			r := get(t, c, s.URL()+"/items/1")
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "2", r.header.Get("x-ratelimit-limit-requests"))
			assert.Equal(t, "1", r.header.Get("x-ratelimit-remaining-requests"))
			clk.Advance(2500 * time.Millisecond)
			require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/2").status)
			r = get(t, c, s.URL()+"/items/3")
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, "0", r.header.Get("x-ratelimit-remaining-requests"))
			assert.Equal(t, "7.5s", r.header.Get("x-ratelimit-reset-requests"))
			assert.Equal(t, "2000", r.header.Get("x-ratelimit-limit-tokens"))
			assert.Equal(t, "0", r.header.Get("x-ratelimit-remaining-tokens"))
			assert.Equal(t, "7.5s", r.header.Get("x-ratelimit-reset-tokens"))
			for _, x := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit"} {
				assert.Empty(t, r.header.Get(x), "the requests form replaces %s", x)
			}
		})
	}

	t.Run("minutes", func(t *testing.T) {
		clk := newFakeClock()
		s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
			HeaderQuota: HeaderQuota{Limit: 10, Window: 6 * time.Minute, Kind: HeaderQuotaTokenBucket, Requests: true}}})
		c := newClient(t, 10*time.Second)
		var r reply
		for i := 1; i <= 10; i++ {
			r = get(t, c, s.URL()+"/items/"+strconv.Itoa(i))
			require.Equal(t, http.StatusOK, r.status)
		}
		assert.Equal(t, "6m0s", r.header.Get("x-ratelimit-reset-requests"), "an empty bucket refills in the whole window")
		clk.Advance(54 * time.Second) // 1.5 tokens at one per 36 s
		r = get(t, c, s.URL()+"/items/11")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "5m42s", r.header.Get("x-ratelimit-reset-requests"), "9.5 tokens short after the 11th")
	})

	_, err := NewHandler(Config{Scenario: Scenario{HeaderQuota: HeaderQuota{Limit: 2, IETF: true, Requests: true}}})
	assert.Error(t, err, "one form of headers at a time")
}

func TestRetryAfterShiftSendsZeroOrADateInThePast(t *testing.T) {
	clk := newFakeClock()
	c := newClient(t, 10*time.Second)
	quota := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
		RetryAfterShift: -time.Second, Quota: Quota{Rate: 1, Burst: 1, Headers: QuotaHeadersNone},
	}})
	require.Equal(t, http.StatusOK, get(t, c, quota.URL()+"/items/1").status)
	r := get(t, c, quota.URL()+"/items/2")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.Equal(t, "0", r.header.Get("Retry-After"), "the quota's 1 s, a second sooner")
	get(t, c, quota.URL()+"/items/2")
	assert.Zero(t, quota.Stats().EarlyRequests, "a retry at once is what Retry-After: 0 allows")

	capacity := startServer(t, Config{Scenario: Scenario{
		RetryAfterShift: -time.Second,
		Latency:         time.Second, // the held request's, so that the next one is turned away
		Capacity:        Capacity{Slots: 1, RetryAfter: 3 * time.Second},
	}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		get(t, c, capacity.URL()+"/items/1")
	}()
	inFlight(t, capacity, 1)
	r = get(t, c, capacity.URL()+"/items/2")
	<-done
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "2", r.header.Get("Retry-After"), "the capacity's 3 s, a second sooner")

	past := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
		RetryAfterShift: -5 * time.Second, RetryAfterDate: true,
		HeaderQuota: HeaderQuota{Limit: 1, Window: time.Second, Kind: HeaderQuotaTokenBucket},
	}})
	require.Equal(t, http.StatusOK, get(t, c, past.URL()+"/items/1").status)
	r = get(t, c, past.URL()+"/items/2")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	at, err := http.ParseTime(r.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.Equal(t, clk.Now().Add(-4*time.Second).Truncate(time.Second).Unix(), at.Unix(), "1 s to a token, 5 s sooner: 4 s in the past")
	get(t, c, past.URL()+"/items/2")
	assert.Zero(t, past.Stats().EarlyRequests, "a date in the past asks for no wait")
}

func TestHeaderQuotaResetFormIsConfigurable(t *testing.T) {
	for _, tc := range []struct {
		kind  HeaderQuotaKind
		form  HeaderResetForm
		reset func(now time.Time) string // after 2.5 s of a 10 s window holding 2
	}{
		{HeaderQuotaFixed, "", func(now time.Time) string { return strconv.FormatInt(now.Add(7500*time.Millisecond).Unix(), 10) }},
		{HeaderQuotaFixed, HeaderResetDelta, func(time.Time) string { return "8" }},
		{HeaderQuotaSliding, HeaderResetDelta, func(time.Time) string { return "8" }},
		{HeaderQuotaTokenBucket, "", func(time.Time) string { return "5" }},
		{HeaderQuotaFixed, HeaderResetEpochMillis, func(now time.Time) string { return strconv.FormatInt(now.Add(7500*time.Millisecond).UnixMilli(), 10) }},
		{HeaderQuotaTokenBucket, HeaderResetEpoch, func(now time.Time) string { return strconv.FormatInt(now.Add(5*time.Second).Unix()+1, 10) }}, // 7.5 s into the minute, rounded up
	} {
		t.Run(string(tc.kind)+"-"+string(tc.form), func(t *testing.T) {
			clk := newFakeClock() // on a whole minute, so on a 10 s window boundary
			s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{HeaderQuota: HeaderQuota{
				Limit: 2, Window: 10 * time.Second, Kind: tc.kind, Burst: 2, Reset: tc.form}}})
			c := newClient(t, 10*time.Second)
			clk.Advance(2500 * time.Millisecond)
			r := get(t, c, s.URL()+"/items/1") // a token bucket of 2 per 10 s is full again 5 s later
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, tc.reset(clk.Now()), r.header.Get("X-RateLimit-Reset"))
		})
	}
	_, err := NewHandler(Config{Scenario: Scenario{HeaderQuota: HeaderQuota{Limit: 2, Window: time.Second, Reset: "unix"}}})
	assert.ErrorContains(t, err, "HeaderQuota.Reset")
}

// refusedWithADate sends s two requests, of which its one token lets the
// first through, and checks that the second is refused with a Retry-After
// HTTP-date: the second after the token is due, the date's own truncation.
// It returns the client for more requests.
func refusedWithADate(t *testing.T, s *Server, clk *fakeClock) *http.Client {
	t.Helper()
	c := newClient(t, 10*time.Second)
	require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status)
	r := get(t, c, s.URL()+"/items/2")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	at, err := http.ParseTime(r.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.Equal(t, clk.Now().Add(time.Second).Truncate(time.Second).Unix(), at.Unix())
	return c
}

func TestQuotaMayAnswer503WithoutRetryAfterAsNginxLimitReqDoes(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 1, Burst: 1, Status: http.StatusServiceUnavailable,
		NoRetryAfter: true, Headers: QuotaHeadersNone}}})
	c := newClient(t, 10*time.Second)
	require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status)
	r := get(t, c, s.URL()+"/items/1")
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "beyond the burst")
	assert.Empty(t, r.header.Get("Retry-After"))
	clk.Advance(time.Second)
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status, "a token later")

	_, err := NewHandler(Config{Scenario: Scenario{Quota: Quota{Rate: 1, Status: 500}}})
	assert.ErrorContains(t, err, "Quota.Status")
}

func TestListingQuotaLimitsTheListingApartFromTheDetails(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Items: 10,
		Quota:        Quota{Rate: 1, Burst: 2, Headers: QuotaHeadersNone},
		ListingQuota: Quota{Rate: 0.5, Burst: 1, Headers: QuotaHeadersNone}}})
	c := newClient(t, 10*time.Second)
	require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items").status)
	r := get(t, c, s.URL()+"/items")
	assert.Equal(t, http.StatusTooManyRequests, r.status, "the listing's own bucket is empty")
	assert.Equal(t, "2", r.header.Get("Retry-After"), "a token at 0.5/s")
	for i := 1; i <= 2; i++ {
		assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/"+strconv.Itoa(i)).status, "the details' burst is untouched by the listing")
	}
	assert.Equal(t, http.StatusTooManyRequests, get(t, c, s.URL()+"/items/3").status)
	clk.Advance(2 * time.Second)
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items").status)
	assert.Equal(t, int64(3), s.Stats().EarlyRequests, "a Retry-After holds for the client, whichever endpoint sent it: the three details came within the listing's")

	_, err := NewHandler(Config{Scenario: Scenario{ListingQuota: Quota{Rate: 1, Status: 500}}})
	assert.Error(t, err)
}

func TestHeaderQuotaHiddenSendsNoHeadersAndRefusesWith429AndRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		kind HeaderQuotaKind
		ra   string // Retry-After of the third request, 2.5 s into a 10 s window (the clock starts on a window's start)
	}{
		{HeaderQuotaFixed, "8"},       // until the window's end, rounded up
		{HeaderQuotaSliding, "10"},    // the window, as without Hidden
		{HeaderQuotaTokenBucket, "3"}, // 0.5 token short at 0.2/s: 2.5 s, rounded up
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			clk := newFakeClock()
			s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{
				HeaderQuota: HeaderQuota{Limit: 2, Window: 10 * time.Second, Kind: tt.kind, Hidden: true}}})
			c := newClient(t, 10*time.Second)
			require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status)
			clk.Advance(2500 * time.Millisecond)
			ok := get(t, c, s.URL()+"/items/2")
			require.Equal(t, http.StatusOK, ok.status)
			r := get(t, c, s.URL()+"/items/3")
			assert.Equal(t, http.StatusTooManyRequests, r.status)
			assert.Equal(t, tt.ra, r.header.Get("Retry-After"))
			for _, h := range []http.Header{ok.header, r.header} {
				for _, x := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit", "RateLimit-Policy", "x-ratelimit-remaining-requests"} {
					assert.Empty(t, h.Get(x), "no quota header: %s", x)
				}
			}
			require.Equal(t, http.StatusTooManyRequests, get(t, c, s.URL()+"/items/4").status)
			assert.EqualValues(t, 1, s.Stats().EarlyRequests, "a request inside the Retry-After it was given is early")
		})
	}

	_, err := NewHandler(Config{Scenario: Scenario{HeaderQuota: HeaderQuota{Limit: 2, Hidden: true, IETF: true}}})
	assert.Error(t, err, "hidden headers are no form of headers")
}
