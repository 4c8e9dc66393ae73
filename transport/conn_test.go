package transport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

// gatedWhileConnecting is a host whose first request holds the only
// connection until it answers 503 with Retry-After: 1, and a second request
// to it, sent under ctx, that took its permit and waits for that connection
// when the answer comes; seconds counts the second requests the host got.
type gatedWhileConnecting struct {
	r       *rig
	srv     *httptest.Server
	gated   time.Time // the Retry-After's end
	seconds atomic.Int32
	second  chan result
}

type result struct {
	code int
	err  error
}

func newGatedWhileConnecting(t *testing.T, ctx context.Context) *gatedWhileConnecting {
	t.Helper()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxConnsPerHost = 1 // the second request waits for the first one's connection
	g := &gatedWhileConnecting{r: newRig(t, limiter.Config{Algorithm: limiter.Fixed, Initial: 2}, WithBase(base)),
		second: make(chan result, 1)}
	t.Cleanup(base.CloseIdleConnections)
	arrived, release := make(chan struct{}), make(chan struct{})
	g.srv = g.r.server(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/first" {
			close(arrived)
			<-release
			w.Header().Set("Retry-After", "1")
			// With a body, the connection comes free only when the client
			// has read the answer (an answer without one frees it in
			// net/http's read loop, which may hand it to the waiting
			// request before RoundTrip returns and the gate closes).
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		g.seconds.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	g.gated = g.r.fc.Now().Add(time.Second)

	first := make(chan result, 1)
	go g.get(context.Background(), "/first", first)
	<-arrived
	waiting := make(chan struct{})
	var once sync.Once // net/http asks again for a connection when it retries a request on a new one
	go g.get(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { once.Do(func() { close(waiting) }) },
	}), "/second", g.second)
	<-waiting // its permit is taken; it waits for the only connection
	require.Equal(t, 2, g.r.snapshot(t, g.srv).InFlight)

	close(release)
	res := <-first
	require.NoError(t, res.err)
	require.Equal(t, http.StatusServiceUnavailable, res.code)
	require.True(t, g.r.snapshot(t, g.srv).GateUntil.Equal(g.gated))
	return g
}

func (g *gatedWhileConnecting) get(ctx context.Context, path string, done chan<- result) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.srv.URL+path, nil)
	if err != nil {
		done <- result{err: err}
		return
	}
	resp, err := g.r.client.Do(req)
	if err != nil {
		done <- result{err: err}
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	done <- result{resp.StatusCode, err}
}

// A request whose permit was taken before a Retry-After came, and that was
// still waiting for its connection when it came, is not sent before the
// Retry-After's end.
func TestARequestWaitingForItsConnectionWhenAGateClosesWaitsForTheGate(t *testing.T) {
	g := newGatedWhileConnecting(t, context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	assert.NoError(t, g.r.fc.BlockUntilContext(ctx, 1), "the second request should wait for the gate with its connection")
	assert.Zero(t, g.seconds.Load(), "a request reached the host before its Retry-After")

	g.r.fc.Advance(time.Second)
	res := <-g.second
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.code)
	assert.Equal(t, int32(1), g.seconds.Load())
}

// Its caller giving up while it waits for the gate with its connection ends
// it at once, and it never reaches the host, nor counts against it.
func TestARequestCancelledWhileItWaitsForTheGateWithItsConnectionIsNotSent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := newGatedWhileConnecting(t, ctx)
	wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	require.NoError(t, g.r.fc.BlockUntilContext(wait, 1))

	cancel()
	res := <-g.second
	// Cancelled in the gate's wait: the caller gets its context's error at
	// once (net/http's write loop may see the connection closed for it
	// first: the error is still the context's), and nothing is sent.
	require.ErrorIs(t, res.err, context.Canceled)
	g.r.fc.Advance(time.Second)
	s := g.r.snapshot(t, g.srv)
	assert.Zero(t, s.InFlight, "its permit is released")
	assert.Equal(t, int64(1), s.Dropped, "the first request's 503 only")
	assert.Equal(t, int64(1), s.Ignored, "the cancelled request")
	code, err := g.r.get(g.srv.URL + "/third")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, int32(1), g.seconds.Load(), "the cancelled request never reached the host")
}

// A request that got its connection before a Retry-After closed its host's
// gate, and that net/http writes after it (on a loaded client, milliseconds
// later), is not sent before the Retry-After's end.
func TestARequestWrittenAfterAGateClosesWaitsForTheGateThoughItHadItsConnection(t *testing.T) {
	r := newRig(t, limiter.Config{Algorithm: limiter.Fixed, Initial: 2})
	var seconds atomic.Int32
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := r.server(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/first" {
			close(arrived)
			<-release
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		seconds.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	first := make(chan result, 1)
	go func() {
		code, err := r.get(srv.URL + "/first")
		first <- result{code, err}
	}()
	<-arrived

	// The second request gets its own connection while the gate is open;
	// its trace (called after the transport's) then holds it, as a loaded
	// client's scheduler would, until the first one's 503 has closed it.
	gotConn, gated := make(chan struct{}), make(chan struct{})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { close(gotConn); <-gated },
	})
	second := make(chan result, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/second", nil)
		if err != nil {
			second <- result{err: err}
			return
		}
		resp, err := r.client.Do(req)
		if err != nil {
			second <- result{err: err}
			return
		}
		_ = resp.Body.Close()
		second <- result{code: resp.StatusCode}
	}()
	<-gotConn
	close(release)
	res := <-first
	require.NoError(t, res.err)
	require.Equal(t, http.StatusServiceUnavailable, res.code)
	require.True(t, r.snapshot(t, srv).GateUntil.After(r.fc.Now()), "the 503 closed the gate")
	close(gated)

	wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	assert.NoError(t, r.fc.BlockUntilContext(wait, 1), "the second request should wait for the gate as it is written")
	assert.Zero(t, seconds.Load(), "a request reached the host before its Retry-After")

	r.fc.Advance(time.Second)
	res = <-second
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.code)
	assert.Equal(t, int32(1), seconds.Load())
}
