package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/limiter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a limiter, a Transport and a client sharing one fake clock.
type rig struct {
	fc     *clockwork.FakeClock
	lim    *limiter.Limiter
	tr     *Transport
	client *http.Client
}

func newRig(t *testing.T, cfg limiter.Config, opts ...Option) *rig {
	t.Helper()
	fc := clockwork.NewFakeClockAt(now)
	lim, err := limiter.New(cfg, limiter.WithClock(fc))
	require.NoError(t, err)
	tr := New(lim, append([]Option{WithClock(fc)}, opts...)...)
	t.Cleanup(tr.CloseIdleConnections)
	return &rig{fc: fc, lim: lim, tr: tr, client: &http.Client{Transport: tr}}
}

// server starts a 127.0.0.1 server whose Date header follows the fake clock,
// so that absolute times it sends are on the same timeline as the client's.
func (r *rig) server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Date", r.fc.Now().UTC().Format(http.TimeFormat))
		h(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (r *rig) snapshot(t *testing.T, srv *httptest.Server) limiter.Snapshot {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return r.lim.Host(u.Host).Snapshot()
}

// get sends a GET and reads and closes the body; it returns the status code.
func (r *rig) get(rawURL string) (int, error) {
	resp, err := r.client.Get(rawURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// drive runs fn and advances the fake clock by step each time something
// waits on it, until fn returns.
func drive(fc *clockwork.FakeClock, step time.Duration, fn func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		fn()
	}()
	for fc.BlockUntilContext(ctx, 1) == nil {
		fc.Advance(step)
	}
	<-done
}

func TestHostKey(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://API.Example.com/v1", "api.example.com:443"},
		{"http://example.com/", "example.com:80"},
		{"http://example.com:8080/", "example.com:8080"},
		{"https://example.com./x", "example.com:443"},
		{"https://user:secret@example.com/", "example.com:443"},
		{"http://[::1]:9000/", "[::1]:9000"},
		{"https://[2001:db8::1]/", "[2001:db8::1]:443"},
		{"wss://example.com/socket", "example.com:443"},
		{"ftp://example.com/file", "example.com"},
		{"/relative", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, HostKey(req))
		})
	}
}

// FuzzHostKeyIsBuiltHostKey checks that HostKey, which takes a plain Host as
// it is, gives for every Host and scheme the key built from the URL's
// hostname and port.
func FuzzHostKeyIsBuiltHostKey(f *testing.F) {
	for _, h := range []string{"127.0.0.1:8080", "api.example.com:443", "API.example.com:443", "example.com.:80",
		"[::1]:9000", "[2001:DB8::1]:443", "[::1]", "::1:80", "[abc]:80", "[]:80", ":80", "example.com:", "example.com",
		"a[b:80", "[a:b]]:80", "x:0080", "x:8a", "caf\u00e9.example:80", "ex\xc3\xa9.example:80", "[fe80::1%25en0]:80", ""} {
		f.Add("http", h)
	}
	f.Add("https", "example.com")
	f.Add("wss", "Example.com.")
	f.Add("ftp", "example.com:21")
	f.Fuzz(func(t *testing.T, scheme, host string) {
		u := &url.URL{Scheme: scheme, Host: host}
		assert.Equal(t, builtHostKey(u), HostKey(&http.Request{URL: u}), "scheme %q, host %q", scheme, host)
	})
}

// builtHostKey is HostKey as its documentation says it, built from the URL's
// parts for every URL.
func builtHostKey(u *url.URL) string {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https", "wss":
			port = "443"
		case "http", "ws":
			port = "80"
		default:
			return host
		}
	}
	return net.JoinHostPort(host, port)
}

func TestNewPanicsOnNilLimiter(t *testing.T) {
	assert.PanicsWithValue(t, "transport.New: nil *limiter.Limiter", func() { New(nil) })
}

func TestRoundTripRejectsARequestWithoutHostAndClosesItsBody(t *testing.T) {
	r := newRig(t, limiter.Config{})
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/x"}, Body: body, Header: http.Header{}}
	_, err := r.tr.RoundTrip(req)
	require.EqualError(t, err, "transport: request URL has no host")
	assert.True(t, body.closed.Load())

	body = &closeRecorder{Reader: strings.NewReader("payload")}
	_, err = r.tr.RoundTrip(&http.Request{Method: http.MethodPost, Body: body})
	require.EqualError(t, err, "transport: request has no URL")
	assert.True(t, body.closed.Load())
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// TestWithSendContextSendsUnderItsContext checks that the base
// RoundTripper gets the request under the context WithSendContext's
// function makes, once the request holds its permit, with the caller's
// values and the Transport's trace under it.
func TestWithSendContextSendsUnderItsContext(t *testing.T) {
	type callerKey struct{}
	type sendKey struct{}
	var inFlight atomic.Int64
	base := roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		ctx := req.Context()
		assert.Equal(t, "caller", ctx.Value(callerKey{}), "the caller's values")
		assert.Equal(t, "send", ctx.Value(sendKey{}), "the function's context")
		assert.NotNil(t, httptrace.ContextClientTrace(ctx), "the Transport's trace")
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
	})
	var lim *limiter.Limiter
	sendCtx := func(req *http.Request, ctx context.Context) context.Context {
		inFlight.Store(int64(lim.Host(HostKey(req)).Snapshot().InFlight))
		return context.WithValue(ctx, sendKey{}, "send")
	}
	r := newRig(t, limiter.Config{}, WithBase(base), WithSendContext(sendCtx))
	lim = r.lim
	req, err := http.NewRequestWithContext(context.WithValue(context.Background(), callerKey{}, "caller"), http.MethodGet, "http://a/x", nil)
	require.NoError(t, err)
	resp, err := r.tr.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, int64(1), inFlight.Load(), "called once the request holds its permit")
}

func TestGateHoldsRequestsUntilRetryAfter(t *testing.T) {
	r := newRig(t, limiter.Config{})
	var hits atomic.Int32
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "10")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	start := r.fc.Now()

	code, err := r.get(srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, code)
	s := r.snapshot(t, srv)
	assert.True(t, s.GateUntil.Equal(start.Add(10*time.Second)), "gate until %v", s.GateUntil)
	assert.Equal(t, int64(1), s.Throttled)

	type result struct {
		code int
		err  error
		at   time.Time
	}
	done := make(chan result, 1)
	go func() {
		code, err := r.get(srv.URL)
		done <- result{code, err, r.fc.Now()}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.fc.BlockUntilContext(ctx, 1), "the second request should wait on the gate")
	r.fc.Advance(9 * time.Second)
	require.NoError(t, r.fc.BlockUntilContext(ctx, 1), "still gated after 9 s")
	assert.Equal(t, int32(1), hits.Load(), "a request reached the server before Retry-After")
	r.fc.Advance(time.Second)
	res := <-done
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.code)
	assert.False(t, res.at.Before(start.Add(10*time.Second)))
	assert.Equal(t, int32(2), hits.Load())
}

// quotaServer allows quota requests per window of the fake clock and answers
// 429 beyond; headers says how it announces what remains.
func quotaServer(r *rig, quota int, window time.Duration, headers func(h http.Header, remaining int, reset time.Time)) (http.HandlerFunc, *atomic.Int32) {
	start := r.fc.Now()
	var refused atomic.Int32
	var count atomic.Int64 // window index << 32 | used
	return func(w http.ResponseWriter, _ *http.Request) {
		now := r.fc.Now()
		win := int64(now.Sub(start) / window)
		reset := start.Add(time.Duration(win+1) * window)
		for {
			old := count.Load()
			used := old & 0xffffffff
			if old>>32 != win {
				used = 0
			}
			if used >= int64(quota) {
				refused.Add(1)
				headers(w.Header(), 0, reset)
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			if count.CompareAndSwap(old, win<<32|(used+1)) {
				headers(w.Header(), quota-int(used)-1, reset)
				w.WriteHeader(http.StatusOK)
				return
			}
		}
	}, &refused
}

func TestQuotaHeadersPreventRefusals(t *testing.T) {
	ceilSeconds := func(d time.Duration) string {
		return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
	}
	tests := []struct {
		name    string
		headers func(r *rig) func(h http.Header, remaining int, reset time.Time)
	}{
		{name: "RateLimit-Remaining and delta RateLimit-Reset", headers: func(r *rig) func(http.Header, int, time.Time) {
			return func(h http.Header, remaining int, reset time.Time) {
				h.Set("RateLimit-Limit", "3")
				h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
				h.Set("RateLimit-Reset", ceilSeconds(reset.Sub(r.fc.Now())))
			}
		}},
		{name: "X-RateLimit with an epoch reset", headers: func(r *rig) func(http.Header, int, time.Time) {
			return func(h http.Header, remaining int, reset time.Time) {
				h.Set("X-RateLimit-Limit", "3")
				h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
				h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			}
		}},
		{name: "RateLimit and RateLimit-Policy structured fields", headers: func(r *rig) func(http.Header, int, time.Time) {
			return func(h http.Header, remaining int, reset time.Time) {
				h.Set("RateLimit-Policy", `"default";q=3;w=10`)
				h.Set("RateLimit", `"default";r=`+strconv.Itoa(remaining)+`;t=`+ceilSeconds(reset.Sub(r.fc.Now())))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, limiter.Config{})
			handler, refused := quotaServer(r, 3, 10*time.Second, tt.headers(r))
			srv := r.server(t, handler)
			start := r.fc.Now()
			var codes []int
			var errs []error
			drive(r.fc, 250*time.Millisecond, func() {
				for range 10 {
					code, err := r.get(srv.URL)
					codes = append(codes, code)
					errs = append(errs, err)
				}
			})
			for i := range codes {
				require.NoError(t, errs[i])
				assert.Equal(t, http.StatusOK, codes[i], "request %d", i+1)
			}
			assert.Zero(t, refused.Load(), "the server refused requests the quota announced")
			elapsed := r.fc.Since(start)
			t.Logf("10 requests in %v of fake time", elapsed)
			// 10 requests at 3 per 10 s need the fourth window: at least 30 s.
			assert.GreaterOrEqual(t, elapsed, 30*time.Second)
			assert.Less(t, elapsed, 60*time.Second, "the quota was spent far too slowly")
		})
	}
}

// TestWithoutQuotaHeadersTheServerRefuses is the control of
// TestQuotaHeadersPreventRefusals: the same server, announcing nothing.
func TestWithoutQuotaHeadersTheServerRefuses(t *testing.T) {
	r := newRig(t, limiter.Config{})
	handler, refused := quotaServer(r, 3, 10*time.Second, func(http.Header, int, time.Time) {})
	srv := r.server(t, handler)
	drive(r.fc, 250*time.Millisecond, func() {
		for range 10 {
			_, err := r.get(srv.URL)
			assert.NoError(t, err)
		}
	})
	assert.Positive(t, refused.Load())
}

func TestOtherHostsAreUnaffected(t *testing.T) {
	r := newRig(t, limiter.Config{})
	var aHits atomic.Int32
	a := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		if aHits.Add(1) == 1 {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	b := r.server(t, func(w http.ResponseWriter, _ *http.Request) {})

	code, err := r.get(a.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, code)

	aDone := make(chan error, 1)
	go func() {
		_, err := r.get(a.URL)
		aDone <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, r.fc.BlockUntilContext(ctx, 1), "the second request to a should wait on its gate")
	for range 5 { // no clock advance: host b must not wait
		code, err := r.get(b.URL)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, int32(1), aHits.Load(), "host a is gated")
	assert.True(t, r.snapshot(t, b).GateUntil.IsZero())
	r.fc.Advance(60 * time.Second)
	require.NoError(t, <-aDone)
	assert.Equal(t, int32(2), aHits.Load())
}

func TestA503WithoutAWaitAtOneRequestAtATimeClosesAPauseButARefusedConnectionDoesNot(t *testing.T) {
	// A server that is down and answers at once with a bare 503 (or one
	// whose Retry-After is 0) would get the next request as soon as the
	// last came back: thousands a second from one request at a time.
	for _, retryAfter := range []string{"", "0"} {
		r := newRig(t, limiter.Config{Initial: 1, Max: 1})
		srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		code, err := r.get(srv.URL)
		require.NoError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, code)
		until := r.snapshot(t, srv).GateUntil
		assert.True(t, until.After(r.fc.Now()), "Retry-After %q: a pause of its own", retryAfter)
		assert.False(t, until.After(r.fc.Now().Add(time.Second)), "Retry-After %q: a short one at first", retryAfter)
	}

	r := newRig(t, limiter.Config{Initial: 1, Max: 1})
	srv := r.server(t, func(http.ResponseWriter, *http.Request) {})
	srv.Close() // its port now refuses connections
	_, err := r.get(srv.URL)
	require.Error(t, err)
	assert.Zero(t, r.snapshot(t, srv).GateUntil, "a refused connection: the crawl's rule for unresponsive hosts paces it")
}

// TestARetryAfterOnAServerErrorHoldsTheHost: a 500, or a proxy's 408 or
// 425 whose backend is stuck, that says when to come back is obeyed as a
// 503's is; without one it closes no gate.
func TestARetryAfterOnAServerErrorHoldsTheHost(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusRequestTimeout, http.StatusTooEarly} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			r := newRig(t, limiter.Config{})
			var hits atomic.Int32
			srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
				if hits.Add(1) == 1 {
					w.Header().Set("Retry-After", "10")
				}
				w.WriteHeader(code)
			})
			start := r.fc.Now()
			got, err := r.get(srv.URL)
			require.NoError(t, err)
			require.Equal(t, code, got)
			assert.True(t, r.snapshot(t, srv).GateUntil.Equal(start.Add(10*time.Second)), "gate until the Retry-After")

			r = newRig(t, limiter.Config{})
			srv = r.server(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) })
			_, err = r.get(srv.URL)
			require.NoError(t, err)
			assert.True(t, r.snapshot(t, srv).GateUntil.IsZero(), "one error alone: no gate")
		})
	}
}

// roundTripperFunc is an http.RoundTripper of a function.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
