package transport

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

func TestAuxiliaryRequestsAreNotLatencySamples(t *testing.T) {
	r := newRig(t, limiter.Config{})
	p, _, ok := r.lim.Host("a:80").TryAcquireAt(r.fc.Now())
	require.True(t, ok)
	require.True(t, p.Sampled())
	req, err := http.NewRequestWithContext(Auxiliary(context.Background()), http.MethodGet, "http://a/robots.txt", nil)
	require.NoError(t, err)

	p = sampleOnly(auxKind(req.Context()), p)
	assert.False(t, p.Sampled(), "robots.txt and listing pages do not feed the RTT baseline")
	p.Release(limiter.Success)
	assert.Equal(t, int64(1), r.lim.Host("a:80").Snapshot().Successes, "but count as requests")
}

func TestConnectionSetupIsLeftOutOfTheSample(t *testing.T) {
	r := newRig(t, limiter.Config{})
	p, _, ok := r.lim.Host("a:80").TryAcquireAt(r.fc.Now())
	require.True(t, ok)
	req, err := http.NewRequest(http.MethodGet, "http://a/items/1", nil)
	require.NoError(t, err)

	p = sampleOnly(auxKind(req.Context()), p)
	sent, setup := watchConn(req, r.lim.Host("a:80"), p.Sampled(), r.fc, nil)
	assert.Zero(t, setup.took(), "no connection asked for yet")
	trace := httptrace.ContextClientTrace(sent.Context())
	require.NotNil(t, trace)
	trace.GetConn("a:80")
	r.fc.Advance(30 * time.Millisecond) // DNS, TCP and TLS handshakes
	trace.GotConn(httptrace.GotConnInfo{})
	assert.Equal(t, 30*time.Millisecond, setup.took())
	assert.True(t, p.Excluding(setup.took()).Sampled())
	p.Release(limiter.Success)
}

func TestUntimedPermitsAreNotTimed(t *testing.T) {
	r := newRig(t, limiter.Config{})
	p, _, ok := r.lim.Host("a:80").TryAcquireAt(r.fc.Now())
	require.True(t, ok)
	req, err := http.NewRequest(http.MethodGet, "http://a/items/1", nil)
	require.NoError(t, err)
	sent, setup := watchConn(req, r.lim.Host("a:80"), p.Unsampled().Sampled(), r.fc, nil)
	trace := httptrace.ContextClientTrace(sent.Context())
	require.NotNil(t, trace)
	assert.Nil(t, trace.GetConn, "an untimed permit reads no clock for its connection")
	trace.GotConn(httptrace.GotConnInfo{})
	assert.Zero(t, setup.took())
	p.Release(limiter.Success)
}

func TestRedirectsAreNotLatencySamples(t *testing.T) {
	r := newRig(t, limiter.Config{})
	h := r.lim.Host("a:80")
	for _, tc := range []struct {
		code    int
		sampled bool
	}{
		{http.StatusOK, true},
		{http.StatusNotModified, true},
		{http.StatusMovedPermanently, false},
		{http.StatusFound, false},
		{http.StatusSeeOther, false},
		{http.StatusTemporaryRedirect, false},
		{http.StatusPermanentRedirect, false},
	} {
		p, _, ok := h.TryAcquireAt(r.fc.Now())
		require.True(t, ok)
		require.True(t, p.Sampled())
		p = sampleAnswer(tc.code, p)
		assert.Equal(t, tc.sampled, p.Sampled(), "status %d", tc.code)
		p.Release(limiter.Success)
	}
	assert.Equal(t, int64(7), h.Snapshot().Successes, "a redirect still counts as a request served")
}

// A redirect followed by the client is two requests through the Transport,
// both successes: leaving the first hop's latency out of the samples changes
// neither its outcome nor Check's verdict.
func TestRedirectHopsThroughTheTransportAreSuccesses(t *testing.T) {
	var got []Exchange
	var mu sync.Mutex
	r := newRig(t, limiter.Config{}, WithObserver(func(e Exchange) { mu.Lock(); got = append(got, e); mu.Unlock() }))
	srv := r.server(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/old" {
			http.Redirect(w, req, "/new", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	code, err := r.get(srv.URL + "/old")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2)
	assert.Equal(t, http.StatusFound, got[0].Status)
	assert.Equal(t, limiter.Success, got[0].Outcome)
	assert.Equal(t, http.StatusOK, got[1].Status)
	assert.Equal(t, int64(2), r.snapshot(t, srv).Successes)
	assert.NoError(t, Check(&http.Response{StatusCode: http.StatusFound, Header: http.Header{}}), "Check still takes a redirect for a success")
}

func TestAPacedApartThrottleClosesTheGateButTeachesTheHostNothing(t *testing.T) {
	apart := func(ctx context.Context) context.Context { return PacedApart(ctx, func() bool { return true }) }
	shared := func(ctx context.Context) context.Context { return PacedApart(ctx, func() bool { return false }) }
	for _, tc := range []struct {
		name      string
		ctx       func(context.Context) context.Context
		throttled int64
		rate      bool // the answer's quota paces the host
	}{
		{"a listing limited apart", apart, 0, false},
		{"a listing not known to be limited apart", shared, 1, true},
		{"an auxiliary request", Auxiliary, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []Exchange
			var mu sync.Mutex
			r := newRig(t, limiter.Config{}, WithObserver(func(e Exchange) { mu.Lock(); seen = append(seen, e); mu.Unlock() }))
			srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "30")
				w.Header().Set("X-RateLimit-Limit", "60")
				w.Header().Set("X-RateLimit-Remaining", "40")
				w.Header().Set("X-RateLimit-Reset", "60")
				w.WriteHeader(http.StatusTooManyRequests)
			})
			req, err := http.NewRequestWithContext(tc.ctx(context.Background()), http.MethodGet, srv.URL+"/items?page=2", nil)
			require.NoError(t, err)
			resp, err := r.client.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			var rae *limiter.RetryAfterError
			require.ErrorAs(t, Check(resp), &rae, "the caller still waits for the Retry-After")

			s := r.snapshot(t, srv)
			assert.Equal(t, now.Add(30*time.Second), s.GateUntil, "the server asked the client to wait: the host's gate closes")
			assert.Equal(t, tc.throttled, s.Throttled)
			assert.Equal(t, tc.rate, s.Rate > 0, "the quota headers pace the host: %g/s", s.Rate)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, seen, 1)
			assert.True(t, seen[0].Throttled, "it counts as throttled")
		})
	}
}
