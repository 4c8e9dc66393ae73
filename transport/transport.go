// Package transport is an http.RoundTripper that makes every request wait
// for its host's limiter and turns every answer into a signal for it.
//
// Wrap the client of any Go scraper and each request becomes polite: per-host
// rate and adaptive concurrency, Retry-After gates and announced quotas.
//
//	client := &http.Client{Transport: transport.New(lim)}
//
// With colly, pass the same Transport to Collector.WithTransport.
//
// # What an answer means
//
// Quota headers are read on every response (see ParseQuota) and applied with
// limiter.Host.SetQuota, so a quota that says nothing remains closes the
// host's gate before the server has to refuse. Then the answer is classified:
//
//	1xx, 2xx, 304                          Success: its latency is a sample
//	301, 302, 303, 307, 308                Success; no sample (a redirect points
//	                                         to the work without doing it)
//	other 3xx                              Success: its latency is a sample
//	429                                    Throttled; gate until Retry-After
//	403 with an exhausted quota or a       Throttled; gate until Retry-After
//	  Retry-After (GitHub's secondary          or the quota's reset
//	  limits)
//	502, 503, 504                          Dropped; gate until Retry-After if given;
//	                                         without one, at one request at a time,
//	                                         a pause of the host's own (Permit.Answered)
//	500 and other 5xx but 501 and 505,     Errored: alone says nothing about load;
//	  408, 425                               a run as long as the host's limit with
//	                                         no success between reads as overload
//	                                         (see limiter.Errored); gate until
//	                                         Retry-After if given
//	other 4xx, 501, 505                    Ignored: says nothing about load
//	timeout, connection refused or reset,  Dropped
//	  connection closed mid-answer
//	timeout of a request that a later one  Ignored: lost, not queued
//	  overtook (limiter.Permit.Overtaken),
//	  or that waited 8x the host's
//	  smoothed RTT (Permit.Outwaited)
//	request cancelled by its caller        Ignored
//	other transport errors (DNS, TLS)      Ignored
//
// A Retry-After that is unparsable or negative is ignored with a warning;
// one that is too long is capped by the limiter (Config.RetryAfterMax). The
// answer to a request made with a PacedApart context whose endpoint is
// limited apart from its host's others (paced by its caller) applies no
// quota to the host, and its throttle closes the gate but is released
// Ignored.
//
// This is the one place an answer is judged: WithObserver reports each
// exchange with its verdict, and Check reuses it. Exchange.Throttled marks
// the answers that refused for rate or load: 429, 503 and a throttling 403.
//
// # Permits and bodies
//
// The permit taken for a request is released once: when its body is read to
// the end, fails, or is closed, so a slow body counts as in flight and the
// latency sample covers the whole exchange; at once on a transport error or
// when there is no body. Close every response body, as net/http requires: an
// unclosed body holds its host's concurrency slot.
//
// # Latency samples
//
// A permit's latency is a sample for its host's concurrency limit, so it
// should time the host's work alone. Requests made with an Auxiliary
// context (a robots.txt, a listing page) are no samples, nor are redirects;
// the time a sampled request waits for its connection (a new one's DNS, TCP
// and TLS handshakes) is left out of its sample.
//
// # Retries
//
// The Transport never retries. Check turns a response into the error a
// handler returns: nil, a *limiter.RetryAfterError for a throttle, or a
// *StatusError that says whether it is Permanent.
//
// Nothing is logged per request above debug level, and no header value or
// URL is ever logged: only the host key, the status code and the outcome.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/politely/politely/limiter"
)

// Transport is an http.RoundTripper that applies a limiter per host. Create
// it with New; it is safe for concurrent use.
type Transport struct {
	lim   *limiter.Limiter
	base  http.RoundTripper
	log   *zap.Logger
	clock clockwork.Clock
	key   func(*http.Request) string

	observe func(Exchange)                                       // nil without WithObserver
	sendCtx func(*http.Request, context.Context) context.Context // nil without WithSendContext
	badHdr  headerWarnings
	clocks  serverClocks
}

// Option configures a Transport.
type Option func(*Transport)

// WithBase sets the RoundTripper that sends the requests; default a clone of
// http.DefaultTransport. nil keeps the default.
func WithBase(rt http.RoundTripper) Option {
	return func(t *Transport) {
		if rt != nil {
			t.base = rt
		}
	}
}

// WithLogger sets the logger; default zap.NewNop(). nil keeps the default.
func WithLogger(l *zap.Logger) Option {
	return func(t *Transport) {
		if l != nil {
			t.log = l
		}
	}
}

// WithClock sets the clock used to read relative times in headers
// (Retry-After: 120, reset in 30 s). Give it the limiter's clock; default
// clockwork.NewRealClock(). nil keeps the default.
func WithClock(c clockwork.Clock) Option {
	return func(t *Transport) {
		if c != nil {
			t.clock = c
		}
	}
}

// WithHostKey sets how a request is mapped to a limiter host; default
// HostKey. A key function may, for example, put every subdomain of a site
// under one key. A request whose key is "" fails.
func WithHostKey(key func(*http.Request) string) Option {
	return func(t *Transport) {
		if key != nil {
			t.key = key
		}
	}
}

// WithSendContext sets the context each request is sent with: once the
// request holds its permit, f gets it and ctx, the context the Transport
// would send it with (its caller's, with the Transport's own trace), and
// returns ctx or a context under it (with a deadline for the exchange
// alone, leaving out the wait for the permit, say), which the base
// RoundTripper gets the request with, in the one copy of the request the
// Transport makes anyway. The Transport's own waits and verdicts still
// follow the caller's context. Default: ctx. nil keeps the default.
func WithSendContext(f func(req *http.Request, ctx context.Context) context.Context) Option {
	return func(t *Transport) {
		if f != nil {
			t.sendCtx = f
		}
	}
}

// New returns a Transport that takes a permit from l for each request. It
// panics if l is nil, a programming error like http.Handle with a nil
// handler.
func New(l *limiter.Limiter, opts ...Option) *Transport {
	if l == nil {
		panic("transport.New: nil *limiter.Limiter")
	}
	t := &Transport{lim: l, log: zap.NewNop(), clock: clockwork.NewRealClock(), key: HostKey}
	for _, o := range opts {
		o(t)
	}
	if t.base == nil {
		t.base = defaultBase()
	}
	return t
}

func defaultBase() http.RoundTripper {
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		return dt.Clone()
	}
	return http.DefaultTransport
}

// HostKey is the default host key: the request URL's host in lower case,
// without a trailing dot, with its port, the scheme's default port (80 for
// http and ws, 443 for https and wss) when it has none, e.g.
// "api.example.com:443" or "[::1]:8080". It is "" when the URL has no host.
func HostKey(r *http.Request) string {
	if isHostKey(r.URL.Host) {
		return r.URL.Host
	}
	host := strings.TrimSuffix(strings.ToLower(r.URL.Hostname()), ".")
	if host == "" {
		return ""
	}
	port := r.URL.Port()
	if port == "" {
		switch strings.ToLower(r.URL.Scheme) {
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

// isHostKey reports whether a URL's Host is its own HostKey already, as the
// Host of most URLs is: a port of digits after an ASCII host in lower case
// without a trailing dot, bracketed if and only if it holds a colon (an IPv6
// address). HostKey then takes it as it is instead of building it again.
func isHostKey(h string) bool {
	colon := strings.LastIndexByte(h, ':')
	if colon <= 0 || colon == len(h)-1 {
		return false
	}
	for i := colon + 1; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return false
		}
	}
	host := h[:colon]
	bracketed := len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']'
	if bracketed {
		host = host[1 : len(host)-1]
	}
	if host == "" || host[len(host)-1] == '.' || strings.IndexByte(host, ':') >= 0 != bracketed {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// RoundTrip waits for a permit of the request's host (or for the request's
// context to end), or uses the one a limiter.Handoff in the request's context
// holds for that host (an engine run with Job.WithLimiter puts one in its
// handler's context, taken before the handler was called; it still waits for
// a gate closed since, see limiter.Host.Admit), sends the request with the base
// RoundTripper (a request that was still waiting for its connection when a
// Retry-After closed its host's gate waits for the gate before it is
// written), applies the answer's quota headers and gate to the host and
// releases the permit as the package documentation describes. An auxiliary
// request (see Auxiliary) takes no handed-off permit; a prerequisite (see
// Prerequisite) waits for no concurrency slot either, only for the gate and
// a token. It returns the base's response and error
// unchanged, except that the response body is wrapped.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeRequestBody(req)
		return nil, errors.New("transport: request has no URL")
	}
	key := t.key(req)
	if key == "" {
		closeRequestBody(req)
		return nil, errors.New("transport: request URL has no host")
	}
	h := t.lim.Host(key)
	aux := auxKind(req.Context())
	permit, err := acquire(req.Context(), h, aux)
	if err != nil {
		closeRequestBody(req)
		return nil, fmt.Errorf("transport: %w", err)
	}
	permit = sampleOnly(aux, permit)
	sent, watch := watchConn(req, h, permit.Sampled(), t.clock, t.sendCtx)
	ex := exchange{t: t, permit: permit, host: key, began: t.clock.Now()}
	resp, err := t.base.RoundTrip(sent)
	if watch.timed {
		ex.permit = ex.permit.Excluding(watch.took())
	}
	if err != nil {
		o := classifyFailure(req.Context(), err, ex.permit, t.clock.Since(ex.began))
		if watch.held.Load() {
			// It waited at the gate with its connection, and its caller
			// or its timeout gave up meanwhile: nothing the host did. The
			// error is the context's, as a wait for the permit's is, not
			// the connection's that closing it may have made (which a
			// caller would take for the host failing).
			o = limiter.Ignored
			if cerr := req.Context().Err(); cerr != nil && !errors.Is(err, cerr) {
				err = fmt.Errorf("transport: waiting for the host's gate with a connection: %w", cerr)
			}
		}
		ex.release(o)
		// The error itself is not logged: it may quote the server's bytes.
		t.log.Debug("transport: exchange failed", zap.String("host", key), zap.Stringer("outcome", o))
		return nil, err
	}
	now := t.clock.Now()
	r := read(resp.Header, now, clockRef{clocks: &t.clocks, host: key, h: resp.Header, now: now})
	if r.err != nil {
		t.badHdr.log(t.log, key, r.err)
	}
	ex.apart = aux != 0 && isApart(req.Context())
	if r.hasQuota && !ex.apart {
		h.SetQuota(r.quota)
	}
	ex.status, ex.v = resp.StatusCode, r.classify(resp.StatusCode)
	ex.permit = sampleAnswer(resp.StatusCode, ex.permit)
	if !ex.v.until.IsZero() {
		h.Gate(ex.v.until)
	} else if ex.v.outcome == limiter.Dropped {
		ex.permit = ex.permit.Answered()
	}
	if ex.v.outcome != limiter.Success {
		t.log.Debug("transport: not a success", zap.String("host", key), zap.Int("status", resp.StatusCode),
			zap.Stringer("outcome", ex.v.outcome), zap.Duration("gate_asked", max(ex.v.until.Sub(now), 0)))
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		// Nothing to read, or a body that now carries another protocol.
		ex.release(ex.v.outcome)
		return resp, nil
	}
	resp.Body = &body{rc: resp.Body, ex: ex, ctx: req.Context()}
	return resp, nil
}

// acquire takes the permit of a request to h under ctx, of the auxiliary
// kind aux (see auxKind): a prerequisite's (see Prerequisite) waits for the
// gate and a token only; an auxiliary request's is a new one; otherwise the
// one a Handoff in ctx holds for h, readied by Admit, or a new one.
func acquire(ctx context.Context, h *limiter.Host, aux int) (limiter.Permit, error) {
	switch aux {
	case prerequisite:
		return h.AcquireAuxiliary(ctx)
	case auxiliary:
		return h.Acquire(ctx)
	}
	if p, held := limiter.TakePermit(ctx, h); held {
		return h.Admit(ctx, p)
	}
	return h.Acquire(ctx)
}

// CloseIdleConnections closes the base RoundTripper's idle connections, if
// it can; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// closeRequestBody honours RoundTrip's contract: the body is closed even when
// the request is never sent.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close() // nothing useful to do with the error of a body never sent
	}
}
