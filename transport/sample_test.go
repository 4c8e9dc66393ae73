package transport

import (
	"context"
	"net/http"
	"net/http/httptrace"
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
