package transport

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/internal/refusing"
	"github.com/politely/politely/limiter"
)

// exchanges records what an observer is told.
type exchanges struct {
	mu   sync.Mutex
	seen []Exchange
}

func (e *exchanges) observe(x Exchange) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, x)
}

func (e *exchanges) all() []Exchange {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Exchange(nil), e.seen...)
}

func TestObserverSeesOneVerdictPerExchange(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		headers   []string
		outcome   limiter.Outcome
		throttled bool
	}{
		{name: "200", code: 200, outcome: limiter.Success},
		{name: "404", code: 404, outcome: limiter.Ignored},
		{name: "500", code: 500, outcome: limiter.Errored},
		{name: "501", code: 501, outcome: limiter.Ignored},
		{name: "520", code: 520, outcome: limiter.Errored},
		{name: "408", code: 408, outcome: limiter.Errored},
		{name: "425", code: 425, outcome: limiter.Errored},
		{name: "429", code: 429, outcome: limiter.Throttled, throttled: true},
		{name: "503 without a quota or a Retry-After", code: 503, outcome: limiter.Dropped, throttled: true},
		{name: "503 with a Retry-After", code: 503, headers: []string{"Retry-After", "2"}, outcome: limiter.Dropped, throttled: true},
		{name: "502", code: 502, outcome: limiter.Dropped},
		{name: "504", code: 504, outcome: limiter.Dropped},
		{name: "403 without a quota", code: 403, outcome: limiter.Ignored},
		{name: "403 with a quota left", code: 403,
			headers: []string{"X-RateLimit-Remaining", "5", "X-RateLimit-Reset", "90"}, outcome: limiter.Ignored},
		{name: "403 with an exhausted quota", code: 403,
			headers: []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "90"}, outcome: limiter.Throttled, throttled: true},
		{name: "403 with a Retry-After", code: 403, headers: []string{"Retry-After", "60"}, outcome: limiter.Throttled, throttled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen exchanges
			r := newRig(t, limiter.Config{}, WithObserver(seen.observe))
			srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
				for i := 0; i < len(tt.headers); i += 2 {
					w.Header().Set(tt.headers[i], tt.headers[i+1])
				}
				r.fc.Advance(40 * time.Millisecond) // the server's time to answer
				w.WriteHeader(tt.code)
				_, _ = io.WriteString(w, "body")
			})
			resp, err := r.client.Get(srv.URL)
			require.NoError(t, err)
			assert.Empty(t, seen.all(), "reported when the permit is released, not before")
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, resp.Body.Close())

			want := Exchange{Host: srv.Listener.Addr().String(), Status: tt.code, Outcome: tt.outcome,
				Throttled: tt.throttled, Latency: 40 * time.Millisecond}
			assert.Equal(t, []Exchange{want}, seen.all(), "once, whether read to the end or closed (twice)")
			s := r.snapshot(t, srv)
			assert.Equal(t, int64(1), s.Successes+s.Ignored+s.Dropped+s.Throttled, "the permit's release")
		})
	}
}

func TestObserverSeesEachRedirectHop(t *testing.T) {
	var seen exchanges
	r := newRig(t, limiter.Config{}, WithObserver(seen.observe))
	srv := r.server(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/old" {
			http.Redirect(w, req, "/new", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "here")
	})
	code, err := r.get(srv.URL + "/old")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	host := srv.Listener.Addr().String()
	assert.Equal(t, []Exchange{
		{Host: host, Status: http.StatusFound, Outcome: limiter.Success},
		{Host: host, Status: http.StatusOK, Outcome: limiter.Success},
	}, seen.all())
}

func TestObserverSeesAnExchangeWithoutAnswer(t *testing.T) {
	var seen exchanges
	r := newRig(t, limiter.Config{}, WithObserver(seen.observe))
	_, err := r.client.Get("http://" + refusing.Addr(t))
	require.Error(t, err)
	require.Len(t, seen.all(), 1)
	x := seen.all()[0]
	assert.Equal(t, 0, x.Status, "no answer")
	assert.Equal(t, limiter.Dropped, x.Outcome)
	assert.False(t, x.Throttled)
}

func TestCheckTakesTheTransportsVerdict(t *testing.T) {
	r := newRig(t, limiter.Config{})
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "30")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "quota exhausted")
	})
	resp, err := r.client.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	resp.Header = http.Header{} // what the Transport judged stays judged

	var ra *limiter.RetryAfterError
	require.ErrorAs(t, CheckAt(resp, now), &ra)
	assert.Equal(t, now.Add(30*time.Second), ra.Until)
}
