package transport

import (
	"context"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/politely/politely/limiter"
)

type auxiliaryKey struct{}

// Auxiliary returns a context whose requests are not like their host's work
// (a robots.txt, a listing page of the items to fetch): they take permits,
// wait for gates and tokens and report throttles, drops and quota headers
// like any request, but their latency is not a sample for the host's
// concurrency limit, so a robots.txt answered at once or a slow listing page
// does not mislead its RTT baseline and slow start; and they never take a
// permit handed off through the context (limiter.Handoff): that one is the
// task's.
func Auxiliary(ctx context.Context) context.Context {
	return context.WithValue(ctx, auxiliaryKey{}, auxiliary)
}

// Prerequisite returns a context whose requests are auxiliary (see
// Auxiliary) and are what other requests to their host wait for (a
// robots.txt): they wait for the gate and a token but for no concurrency
// slot (limiter.Host.AcquireAuxiliary), so that tasks holding every slot of
// a host while they wait for its robots.txt do not deadlock.
func Prerequisite(ctx context.Context) context.Context {
	return context.WithValue(ctx, auxiliaryKey{}, prerequisite)
}

// The kinds of auxiliary requests.
const (
	auxiliary    = 1
	prerequisite = 2
)

func isAuxiliary(ctx context.Context) bool {
	aux, _ := ctx.Value(auxiliaryKey{}).(int)
	return aux != 0
}

func isPrerequisite(ctx context.Context) bool {
	aux, _ := ctx.Value(auxiliaryKey{}).(int)
	return aux == prerequisite
}

// connSetup measures how long a request waited for its connection: the
// handshakes of a new one (DNS, TCP, TLS), or a wait for an idle one. That
// time is not the host's work, and the first requests of every new
// connection would otherwise look like a queue forming at the server.
type connSetup struct {
	clock    clockwork.Clock
	trace    httptrace.ClientTrace
	get, got atomic.Int64 // UnixNano of GetConn and GotConn; 0 until called
}

// traceSetup returns req with a trace that measures its connection setup.
func traceSetup(req *http.Request, clock clockwork.Clock) (*http.Request, *connSetup) {
	s := &connSetup{clock: clock}
	s.trace.GetConn = func(string) { s.get.Store(s.clock.Now().UnixNano()) }
	s.trace.GotConn = func(httptrace.GotConnInfo) { s.got.Store(s.clock.Now().UnixNano()) }
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &s.trace)), s
}

// took is the setup time measured, or 0 when the base RoundTripper did not
// report getting a connection.
func (s *connSetup) took() time.Duration {
	get, got := s.get.Load(), s.got.Load()
	if get == 0 || got < get {
		return 0
	}
	return time.Duration(got - get)
}

// sampleOnly adjusts permit so its latency sample covers only the host's
// work on req; it returns the request to send and, when a trace was added,
// what it measures.
func sampleOnly(req *http.Request, permit limiter.Permit, clock clockwork.Clock) (*http.Request, limiter.Permit, *connSetup) {
	switch {
	case isAuxiliary(req.Context()):
		return req, permit.Unsampled(), nil
	case permit.Sampled():
		req, setup := traceSetup(req, clock)
		return req, permit, setup
	}
	return req, permit, nil
}
