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

	p = sampleOnly(req, p)
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

	p = sampleOnly(req, p)
	sent, setup := watchConn(req, r.lim.Host("a:80"), p.Sampled(), r.fc)
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
	sent, setup := watchConn(req, r.lim.Host("a:80"), p.Unsampled().Sampled(), r.fc)
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
