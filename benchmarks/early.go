package benchmarks

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/politely/politely/transport"
)

// waits counts, as the client sees it, the requests sent while an answer it
// had already received told it to wait: before a Retry-After's time, or
// before the X-RateLimit-Reset (a Unix time) of an answer that said
// X-RateLimit-Remaining: 0. A request already on its way when the answer
// arrived is not early: the client could not know (the server, which cannot
// see when a request was sent, tells such requests apart only roughly).
// It is an upper bound of what the limiter let through: "sent" is when a
// request reaches this RoundTripper, the lowest layer, and a request the
// limiter let go before the answer came, but that got here only after it (a
// loaded machine can hold a goroutine between the two for milliseconds),
// counts as early too.
type waits struct {
	until atomic.Int64 // UnixNano before which no request should be sent
	early atomic.Int64
}

// send notes a request sent at t.
func (w *waits) send(t time.Time) {
	if t.UnixNano() < w.until.Load() {
		w.early.Add(1)
	}
}

// answer notes what an answer received at t tells the client.
func (w *waits) answer(t time.Time, h http.Header) {
	var until time.Time
	if v := h.Get("Retry-After"); v != "" {
		if at, err := transport.ParseRetryAfter(v, t); err == nil {
			until = at
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 1e9 {
			if at := time.Unix(s, 0); at.After(until) {
				until = at
			}
		}
	}
	if until.IsZero() {
		return
	}
	for n := until.UnixNano(); ; {
		old := w.until.Load()
		if n <= old || w.until.CompareAndSwap(old, n) {
			return
		}
	}
}
