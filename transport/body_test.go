package transport

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/internal/refusing"
	"github.com/politely/politely/limiter"
)

// oneSlot is a limiter configuration with a single fixed concurrency slot.
var oneSlot = limiter.Config{Algorithm: limiter.Fixed, Initial: 1}

func TestPermitHeldUntilBodyClosed(t *testing.T) {
	r := newRig(t, oneSlot)
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })

	resp, err := r.client.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, 1, r.snapshot(t, srv).InFlight, "the body is still open")
	require.NoError(t, resp.Body.Close())
	s := r.snapshot(t, srv)
	assert.Equal(t, 0, s.InFlight)
	assert.Equal(t, int64(1), s.Successes)

	require.NoError(t, resp.Body.Close(), "a second Close")
	assert.Equal(t, int64(1), r.snapshot(t, srv).Successes, "released exactly once")
}

func TestPermitReleasedWhenBodyReadToEOF(t *testing.T) {
	r := newRig(t, oneSlot)
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })

	resp, err := r.client.Get(srv.URL)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	assert.Equal(t, 0, r.snapshot(t, srv).InFlight, "released at EOF, before Close")

	// The slot is free: a second request runs although the first body is not closed yet.
	code, err := r.get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	require.NoError(t, resp.Body.Close())
	s := r.snapshot(t, srv)
	assert.Equal(t, int64(2), s.Successes)
	assert.Equal(t, 1, s.MaxInFlight)
}

func TestPermitReleasedAtOnceWithoutBody(t *testing.T) {
	r := newRig(t, oneSlot)
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

	resp, err := r.client.Get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, http.NoBody, resp.Body)
	assert.Equal(t, 0, r.snapshot(t, srv).InFlight)
	assert.Equal(t, int64(1), r.snapshot(t, srv).Successes)

	resp, err = r.client.Head(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, int64(2), r.snapshot(t, srv).Successes)
}

func TestOutcomesReachTheLimiter(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		headers []string
		want    limiter.Outcome
		gate    time.Duration
	}{
		{name: "200", code: 200, want: limiter.Success},
		{name: "302 not followed", code: 302, headers: []string{"Location", "/elsewhere"}, want: limiter.Success},
		{name: "404", code: 404, want: limiter.Ignored},
		{name: "500", code: 500, want: limiter.Ignored},
		{name: "501", code: 501, want: limiter.Ignored},
		// A 502, 503 or 504 without Retry-After to a request alone pauses its
		// host for 100 ms (doubling while nothing succeeds).
		{name: "502", code: 502, want: limiter.Dropped, gate: 100 * time.Millisecond},
		{name: "503", code: 503, want: limiter.Dropped, gate: 100 * time.Millisecond},
		{name: "503 with Retry-After", code: 503, headers: []string{"Retry-After", "7"}, want: limiter.Dropped, gate: 7 * time.Second},
		{name: "504", code: 504, want: limiter.Dropped, gate: 100 * time.Millisecond},
		{name: "429", code: 429, want: limiter.Throttled},
		{name: "429 with Retry-After", code: 429, headers: []string{"Retry-After", "3"}, want: limiter.Throttled, gate: 3 * time.Second},
		{name: "429 with a Retry-After of a year is capped by the limiter", code: 429,
			headers: []string{"Retry-After", "31536000"}, want: limiter.Throttled, gate: limiter.DefaultRetryAfterMax},
		{name: "403", code: 403, want: limiter.Ignored},
		{name: "403 with an exhausted quota", code: 403,
			headers: []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "90"}, want: limiter.Throttled, gate: 90 * time.Second},
		{name: "200 with an exhausted quota closes the gate before any refusal", code: 200,
			headers: []string{"RateLimit-Remaining", "0", "RateLimit-Reset", "4"}, want: limiter.Success, gate: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, limiter.Config{})
			r.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
				for i := 0; i < len(tt.headers); i += 2 {
					w.Header().Set(tt.headers[i], tt.headers[i+1])
				}
				w.WriteHeader(tt.code)
				_, _ = io.WriteString(w, "body")
			})
			code, err := r.get(srv.URL)
			require.NoError(t, err)
			require.Equal(t, tt.code, code)
			s := r.snapshot(t, srv)
			assert.Equal(t, 0, s.InFlight)
			counts := map[limiter.Outcome]int64{
				limiter.Success: s.Successes, limiter.Ignored: s.Ignored, limiter.Dropped: s.Dropped, limiter.Throttled: s.Throttled,
			}
			for o, n := range counts {
				if o == tt.want {
					assert.Equal(t, int64(1), n, "%v count", o)
				} else {
					assert.Zero(t, n, "%v count", o)
				}
			}
			if tt.gate == 0 {
				assert.True(t, s.GateUntil.IsZero(), "gate closed until %v", s.GateUntil)
			} else {
				assert.Equal(t, now.Add(tt.gate), s.GateUntil)
			}
		})
	}
}

func TestBodyCutShortIsDropped(t *testing.T) {
	r := newRig(t, limiter.Config{})
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "only ten b")
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	_, err := r.get(srv.URL)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	s := r.snapshot(t, srv)
	assert.Equal(t, 0, s.InFlight)
	assert.Equal(t, int64(1), s.Dropped)
	assert.Zero(t, s.Successes)
}

func TestTransportErrorReleasesAtOnce(t *testing.T) {
	r := newRig(t, limiter.Config{})
	addr := refusing.Addr(t)
	_, err := r.client.Get("http://" + addr)
	require.Error(t, err)
	s := r.lim.Host(addr).Snapshot()
	assert.Equal(t, 0, s.InFlight)
	assert.Equal(t, int64(1), s.Dropped)
}

func TestRequestCancelledByItsCallerIsIgnored(t *testing.T) {
	r := newRig(t, limiter.Config{})
	started := make(chan struct{})
	srv := r.server(t, func(w http.ResponseWriter, req *http.Request) {
		close(started)
		<-req.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err == nil {
			_, err = r.client.Do(req)
		}
		errc <- err
	}()
	<-started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	s := r.snapshot(t, srv)
	assert.Equal(t, 0, s.InFlight)
	assert.Equal(t, int64(1), s.Ignored)
	assert.Zero(t, s.Dropped)
}

func TestWaitEndsWithTheRequestContext(t *testing.T) {
	r := newRig(t, limiter.Config{})
	var hits atomic.Int32
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	_, err := r.get(srv.URL)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, body)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := r.client.Do(req)
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	require.NoError(t, r.fc.BlockUntilContext(wctx, 1), "the request waits on the gate")
	cancel()
	err = <-errc
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "transport: limiter: acquire")
	assert.True(t, body.closed.Load(), "the request body is closed")
	assert.Equal(t, int32(1), hits.Load(), "the cancelled request never reached the server")
	assert.Equal(t, 0, r.snapshot(t, srv).InFlight)
}

func TestSwitchingProtocolsReleasesAtOnceAndKeepsTheConnection(t *testing.T) {
	r := newRig(t, oneSlot)
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = rw.Flush()
		_, _ = io.Copy(conn, rw) // echo until the client closes
	})
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	s := r.snapshot(t, srv)
	assert.Equal(t, 0, s.InFlight, "the exchange is over once the protocol switched")
	assert.Equal(t, int64(1), s.Successes)

	rwc, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "the body is still the connection")
	_, err = io.WriteString(rwc, "ping")
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(rwc, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
	require.NoError(t, rwc.Close())
}

func TestARunOfServerErrorsPausesTheHost(t *testing.T) {
	r := newRig(t, limiter.Config{Algorithm: limiter.Fixed, Initial: 1, Max: 1})
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "body")
	})
	for range 3 {
		code, err := r.get(srv.URL)
		require.NoError(t, err)
		require.Equal(t, http.StatusInternalServerError, code)
	}
	s := r.snapshot(t, srv)
	assert.Equal(t, int64(3), s.Ignored, "three errors in a row: not yet a run")
	assert.Zero(t, s.GateUntil)
	code, err := r.get(srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, code)
	s = r.snapshot(t, srv)
	assert.Equal(t, int64(1), s.Dropped, "the fourth makes a run: overload")
	assert.True(t, s.GateUntil.After(r.fc.Now()), "one request at a time: the host pauses, as for a 503 without Retry-After")
}
