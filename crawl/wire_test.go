package crawl

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// TestWireCountsOnlyTheRequestsTheServerGets sends one request that is
// answered and one whose context ended before it was sent (a crawl
// interrupted after the request took its permit), then one to a closed port:
// the summary's requests are the server's, and a failed attempt counts.
func TestWireCountsOnlyTheRequestsTheServerGets(t *testing.T) {
	srv, served, base := countingServer(t)
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

// countingServer starts a server answering "ok" that counts the requests it
// gets, and a transport of its own for the test; both stop with the test.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64, *http.Transport) {
	t.Helper()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	return srv, &served, base
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRequestsMetricCountsWhatTheSummaryCounts sends, through the crawl's
// stack (transport over wire), one request that is answered, one whose
// caller cancelled it after it took its permit and before it was sent, and
// one to a closed port: politely_requests_total counts the answered one and
// the refused one, as the summary's requests do, and not the cancelled one.
func TestRequestsMetricCountsWhatTheSummaryCounts(t *testing.T) {
	srv, served, base := countingServer(t)
	lim, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	m := &meter{}
	m.prom, err = registerMetrics(reg, lim)
	require.NoError(t, err)
	var cancelFirst atomic.Pointer[context.CancelFunc]
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if c := cancelFirst.Load(); c != nil {
			(*c)() // the caller gives up after the permit, before the request is sent
		}
		return base.RoundTrip(r)
	})
	client := &http.Client{Transport: transport.New(lim,
		transport.WithBase(&wire{next: next, timeout: 10 * time.Second, meter: m}),
		transport.WithObserver(m.observe))}
	get := func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}

	require.NoError(t, get(context.Background(), srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	cancelFirst.Store(&cancel)
	require.ErrorIs(t, get(ctx, srv.URL), context.Canceled)
	cancelFirst.Store(nil)
	srv.Close()
	require.Error(t, get(context.Background(), srv.URL), "connection refused")

	host := transport.HostKey(httptest.NewRequest(http.MethodGet, srv.URL, nil))
	assert.Equal(t, int64(1), served.Load())
	assert.Equal(t, int64(2), m.requests.Load(), "the summary: the answered and the refused request")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	byCode := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "politely_requests_total" {
			continue
		}
		for _, c := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range c.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			assert.Equal(t, host, labels["host"])
			byCode[labels["code"]] += c.GetCounter().GetValue()
		}
	}
	assert.Equal(t, map[string]float64{"200": 1, "error": 1}, byCode, "the answered and the refused request, not the cancelled one")
	assert.Equal(t, int64(0), m.inFlight.Load(), "every exchange observed")
}
