package transport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/politely/politely/limiter"
)

// connWatch is what a request's trace does when the base RoundTripper gets
// it a connection, the last moment before the request goes on the wire.
//
// A request may wait for its connection (a new one's handshakes, or an idle
// one to come back) after its permit was taken, and a Retry-After from
// another answer of its host may close the gate meanwhile: the request then
// waits for the gate there, so the host receives nothing before the time it
// asked for. A timed permit's wait for its connection, that wait included,
// is measured so that it is left out of the latency sample: it is not the
// host's work, and the first requests of every new connection would
// otherwise look like a queue forming at the server.
type connWatch struct {
	h        *limiter.Host
	ctx      context.Context
	clock    clockwork.Clock
	trace    httptrace.ClientTrace
	timed    bool
	get, got atomic.Int64 // UnixNano of GetConn and GotConn, timed only; 0 until called
	held     atomic.Bool  // it waited for the gate once it had its connection
}

// watchConn returns req with a connWatch of h in its trace; timed measures
// the connection's setup.
func watchConn(req *http.Request, h *limiter.Host, timed bool, clock clockwork.Clock) (*http.Request, *connWatch) {
	w := &connWatch{h: h, ctx: req.Context(), clock: clock, timed: timed}
	if timed {
		w.trace.GetConn = func(string) { w.get.Store(w.clock.Now().UnixNano()) }
	}
	w.trace.GotConn = w.gotConn
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &w.trace)), w
}

func (w *connWatch) gotConn(info httptrace.GotConnInfo) {
	if waited, err := w.h.AwaitGate(w.ctx); waited {
		w.held.Store(true)
		if err != nil && info.Conn != nil && !multiplexed(info.Conn) {
			// The caller gave up while the gate was closed, and net/http
			// would still write the request: closing its connection
			// keeps it from the host.
			_ = info.Conn.Close()
		}
	}
	if w.timed {
		w.got.Store(w.clock.Now().UnixNano())
	}
}

// multiplexed reports whether c carries other requests' streams (HTTP/2),
// which closing it would end too.
func multiplexed(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	return ok && tc.ConnectionState().NegotiatedProtocol == "h2"
}

// took is the setup time measured, or 0 when the base RoundTripper did not
// report getting a connection or the permit is not timed.
func (w *connWatch) took() time.Duration {
	get, got := w.get.Load(), w.got.Load()
	if get == 0 || got < get {
		return 0
	}
	return time.Duration(got - get)
}
