package mockapi

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// conn is what the server knows of a connection, for Stats.EarlyRequests;
// the recorder's lock guards it.
type conn struct {
	accepted time.Time // when the server accepted it
	used     bool      // a request came on it
	until    time.Time // an answer sent on it told its client not to send before until
	answered time.Time // when the last answer on it was written (the handler returned)
	// multiplexed is set once a request came on it over HTTP/2: its
	// requests are streams that run at once, so one that arrives after an
	// answer on it may have been sent before the client read that answer.
	multiplexed bool

	requests atomic.Int64 // requests that came on it, for KeepAliveRequests (no lock needed)
}

type connKey struct{}

// connContext notes when the server accepted a connection (http.Server.ConnContext).
func (h *Handler) connContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &conn{accepted: h.now()})
}

// connOf returns r's connection, or nil when the handler is served by a
// server other than Start's.
func connOf(r *http.Request) *conn {
	c, _ := r.Context().Value(connKey{}).(*conn)
	return c
}

// multiplexed reports whether r came as a stream of an HTTP/2 connection.
func multiplexed(r *http.Request) bool { return r.ProtoMajor == 2 }
