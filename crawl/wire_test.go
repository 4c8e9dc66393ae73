package crawl

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWireCountsOnlyTheRequestsTheServerGets sends one request that is
// answered and one whose context ended before it was sent (a crawl
// interrupted after the request took its permit), then one to a closed port:
// the summary's requests are the server's, and a failed attempt counts.
func TestWireCountsOnlyTheRequestsTheServerGets(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	m := &meter{}
	w := &wire{next: base, timeout: 10 * time.Second, meter: m}

	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := w.RoundTrip(req)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = w.RoundTrip(req.WithContext(ctx))
	require.ErrorIs(t, err, context.Canceled)

	assert.Equal(t, int64(1), served.Load())
	assert.Equal(t, served.Load(), m.requests.Load(), "a request cancelled before it was sent is not counted")

	srv.Close()
	_, err = w.RoundTrip(req)
	require.Error(t, err, "connection refused")
	assert.Equal(t, int64(2), m.requests.Load(), "an attempt the network failed is counted")
	assert.Equal(t, int64(3), m.inFlight.Load(), "each held its permit past the transport until observed")
}
