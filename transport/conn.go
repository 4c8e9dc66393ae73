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
// it a connection and when it writes the request on an HTTP/1 connection,
// the last moments before the request goes on the wire.
//
// A request may wait for its connection (a new one's handshakes, or an idle
// one to come back) after its permit was taken, and a Retry-After from
// another answer of its host may close the gate meanwhile: the request then
// waits for the gate there, so the host receives nothing before the time it
// asked for. On a loaded client a request may also be written milliseconds
// after it got its connection, so the gate is checked again when net/http
// has put its first header into the connection's write buffer, before any
// byte of it is sent; not on an HTTP/2 connection, whose other streams that
// wait would hold. A timed permit's wait for its connection, these waits
// included, is measured so that it is left out of the latency sample: it is
// not the host's work, and the first requests of every new connection would
// otherwise look like a queue forming at the server.
type connWatch struct {
	h        *limiter.Host
	ctx      context.Context
	clock    clockwork.Clock
	trace    httptrace.ClientTrace
	timed    bool
	get, got atomic.Int64             // UnixNano of GetConn and GotConn, timed only; 0 until called
	held     atomic.Bool              // it waited for the gate once it had its connection
	conn     atomic.Pointer[net.Conn] // the HTTP/1 connection it got; nil until then, and for HTTP/2
	written  atomic.Bool              // the write's first header on that connection was seen
}

// watchConn returns req with a connWatch of h in its trace, under the
// context sendCtx makes of that (see WithSendContext) when it is not nil;
// timed measures the connection's setup.
func watchConn(req *http.Request, h *limiter.Host, timed bool, clock clockwork.Clock,
	sendCtx func(*http.Request, context.Context) context.Context) (*http.Request, *connWatch) {
	w := &connWatch{h: h, ctx: req.Context(), clock: clock, timed: timed}
	if timed {
		w.trace.GetConn = func(string) { w.get.Store(w.clock.Now().UnixNano()) }
	}
	w.trace.GotConn = w.gotConn
	w.trace.WroteHeaderField = w.wroteHeaderField
	ctx := httptrace.WithClientTrace(req.Context(), &w.trace)
	if sendCtx != nil {
		ctx = sendCtx(req, ctx)
	}
	return req.WithContext(ctx), w
}

func (w *connWatch) gotConn(info httptrace.GotConnInfo) {
	if info.Conn != nil && !multiplexed(info.Conn) {
		w.conn.Store(&info.Conn)
	} else {
		w.conn.Store(nil)
	}
	w.written.Store(false) // net/http may retry the request on a new connection
	w.awaitGate(true)
}

// wroteHeaderField is called as net/http writes each header of the request;
// the first (Host) is in the connection's write buffer, not yet sent.
func (w *connWatch) wroteHeaderField(string, []string) {
	if w.written.Swap(true) {
		return
	}
	if w.conn.Load() != nil {
		w.awaitGate(false)
	}
}

// awaitGate waits while the host's gate is closed. A timed permit's setup
// is measured to its end when it waited, or when got says the connection
// was just got.
func (w *connWatch) awaitGate(got bool) {
	waited, err := w.h.AwaitGate(w.ctx)
	if waited {
		w.held.Store(true)
		if c := w.conn.Load(); err != nil && c != nil {
			// The caller gave up while the gate was closed, and net/http
			// would still write the request: closing its connection
			// keeps it from the host.
			_ = (*c).Close()
		}
	}
	if w.timed && (waited || got) {
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
