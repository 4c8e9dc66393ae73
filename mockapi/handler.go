package mockapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handler is a mock API as an http.Handler, for use in-process (httptest,
// another mux); Start serves one on a port. Close it before the server that
// serves it, to release the requests it holds (queued, hanging, trickling a
// slow body), or that server's graceful shutdown waits for them.
type Handler struct {
	sc           Scenario
	now          func() time.Time
	clientHeader string
	slots        *slots        // nil: unlimited
	bucket       *bucket       // nil: no quota
	listing      *bucket       // nil: listing pages take bucket's tokens
	header       headerLimiter // nil: no header quota
	rec          *recorder
	padding      string       // Scenario.BodySize of "x", shared by every padded answer
	inService    atomic.Int64 // listing and detail requests in their service time, for ElasticSlots
	lag          timerLag     // how early wait sets its timers

	closed    chan struct{}
	closeOnce sync.Once
}

// NewHandler validates cfg.Scenario and returns a Handler for it; the
// scenario's clock starts now. cfg.Addr is not used.
func NewHandler(cfg Config) (*Handler, error) {
	sc := cfg.Scenario.withDefaults()
	if err := sc.validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if off := sc.ClockOffset; off != 0 {
		real := now
		now = func() time.Time { return real().Add(off) }
	}
	start := now()
	key := "remote-ip"
	if cfg.ClientHeader != "" {
		key = "header:" + http.CanonicalHeaderKey(cfg.ClientHeader)
	}
	h := &Handler{
		sc: sc, now: now, clientHeader: cfg.ClientHeader,
		rec:    newRecorder(&sc, key, start, now),
		closed: make(chan struct{}),
	}
	if sc.BodySize > 0 {
		h.padding = strings.Repeat("x", sc.BodySize)
	}
	if sc.Capacity.Slots > 0 {
		h.slots = newSlots(sc.Capacity, start, now)
	}
	if sc.Quota.Rate > 0 {
		h.bucket = newBucket(sc.Quota, start)
	}
	if sc.ListingQuota.Rate > 0 {
		h.listing = newBucket(sc.ListingQuota, start)
	}
	if sc.HeaderQuota.Limit > 0 {
		h.header = newHeaderLimiter(sc.HeaderQuota, start)
	}
	return h, nil
}

// Stats returns a snapshot of the ground truth; /__stats serves the same as JSON.
func (h *Handler) Stats() Stats { return h.rec.snapshot() }

// Close releases every request the handler holds: queued ones and those that
// hang or trickle end at once (503, or the connection closes); later requests
// get 503. It is safe to call more than once.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.closed) })
}

// outcome is how a request was answered, for the recorder.
type outcome struct {
	status int   // 0: connection reset; 499: the client left first
	fault  Fault // "" for none
	whole  bool  // a complete, well-formed 200 body was written
	abort  bool  // the connection could not be hijacked: abort the response instead
}

// statusClientGone is recorded when the client left before the answer (nginx's 499).
const statusClientGone = 499

// ServeHTTP serves the mock API: GET /items, /items/{id}, /private/items/{id},
// /robots.txt and /__stats.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__stats" {
		writeJSON(w, http.StatusOK, h.Stats())
		return
	}
	class, id, disallowed := classify(r.URL.Path)
	client := h.client(r)
	key := r.URL.RequestURI() // what faults and jitter are decided by, with the attempt
	cn := connOf(r)
	attempt := h.rec.arrive(client, cn, multiplexed(r), class, key, id, disallowed)
	var onConn int64
	if cn != nil {
		onConn = cn.requests.Add(1)
	}
	out := h.serve(w, r, request{class: class, id: id, key: key, attempt: attempt, client: client, conn: cn, onConn: onConn})
	h.rec.finish(client, cn, out.status, out.fault, id, out.whole)
	if out.abort {
		panic(http.ErrAbortHandler) // net/http closes the connection quietly
	}
}

// request is what ServeHTTP learnt about a request before serving it.
type request struct {
	class   Class
	id      int    // item id of a detail request, else 0 (-1 for a malformed id)
	key     string // path and query
	attempt int    // at key, from 1
	client  string
	conn    *conn // nil when not served by Start's server
	onConn  int64 // its place on conn, from 1 (0 without conn)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rq request) outcome {
	if h.sc.ClockOffset != 0 { // net/http writes Date from the real clock unless it is set
		w.Header().Set("Date", h.now().UTC().Format(http.TimeFormat))
	}
	if h.sc.CloseConnections || (h.sc.KeepAliveRequests > 0 && rq.onConn >= int64(h.sc.KeepAliveRequests)) {
		w.Header().Set("Connection", "close")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return errorJSON(w, http.StatusMethodNotAllowed, r.Method+" is not allowed; use GET")
	}
	select {
	case <-h.closed:
		return errorJSON(w, http.StatusServiceUnavailable, "server closing")
	default:
	}
	if out, ok := h.blackout(w, rq); !ok {
		return out
	}
	if out, ok := h.admit(w, rq); !ok {
		return out
	}
	switch {
	case rq.class == ClassRobots:
		if h.sc.Faults.Robots {
			if out := h.inject(w, r, h.sc.Faults.decide(rq.key, rq.attempt)); out != (outcome{}) {
				return out
			}
		}
		if d := h.sc.Robots.Latency; d > 0 && !h.wait(r, d) {
			out, _ := h.interrupted(w, r)
			return out
		}
		if c := h.sc.Robots.Status; c != 0 {
			return errorJSON(w, c, "robots.txt unavailable")
		}
		return h.serveRobots(w)
	case rq.class == ClassOther:
		return errorJSON(w, http.StatusNotFound, "no such path: "+r.URL.Path)
	case rq.class == ClassDetail && (rq.id < 1 || rq.id > h.sc.Items):
		return errorJSON(w, http.StatusNotFound, "no such item: "+r.URL.Path+" (ids are 1.."+strconv.Itoa(h.sc.Items)+")")
	}
	if rq.class == ClassDetail && h.sc.RedirectTo != "" && h.now().Sub(h.rec.start) >= h.sc.RedirectAt {
		w.Header().Set("Location", baseURL(h.sc.RedirectTo)+r.URL.RequestURI())
		w.WriteHeader(http.StatusFound)
		return outcome{status: http.StatusFound}
	}
	if rq.class == ClassDetail && h.sc.MissingShare > 0 && unit(h.sc.Faults.Seed, "missing", strconv.Itoa(rq.id), 0) < h.sc.MissingShare {
		return errorJSON(w, http.StatusNotFound, "item "+strconv.Itoa(rq.id)+" was deleted")
	}
	if rq.class == ClassDetail && h.sc.RedirectOnceShare > 0 && r.URL.Query().Get("canonical") == "" &&
		unit(h.sc.Faults.Seed, "once", strconv.Itoa(rq.id), 0) < h.sc.RedirectOnceShare {
		w.Header().Set("Location", r.URL.Path+"?canonical=1")
		w.WriteHeader(http.StatusFound)
		return outcome{status: http.StatusFound}
	}
	if rq.class == ClassDetail && h.sc.RedirectLoopShare > 0 && unit(h.sc.Faults.Seed, "loop", strconv.Itoa(rq.id), 0) < h.sc.RedirectLoopShare {
		next := r.URL.Path + "?loop=1"
		if r.URL.Query().Get("loop") != "" {
			next = r.URL.Path
		}
		w.Header().Set("Location", next)
		w.WriteHeader(http.StatusFound)
		return outcome{status: http.StatusFound}
	}
	if rq.class == ClassDetail && h.sc.RefuseShare > 0 && unit(h.sc.Faults.Seed, "refuse", rq.key, rq.attempt) < h.sc.RefuseShare {
		return h.unavailable(w, rq)
	}
	served := time.Now() // when service starts, in real time
	if h.slots != nil {
		var ok bool
		if served, ok = h.slots.acquire(r.Context().Done(), h.closed); !ok {
			if out, gone := h.interrupted(w, r); gone {
				return out
			}
			return h.unavailable(w, rq)
		}
		defer h.slots.release()
	}
	st := h.serviceTime(rq)
	if e := int64(h.sc.ElasticSlots); e > 0 {
		n := h.inService.Add(1)
		defer h.inService.Add(-1)
		if n > e {
			st = time.Duration(float64(st) * float64(n) / float64(e))
		}
	}
	if !h.wait(r, time.Until(served.Add(st))) {
		out, _ := h.interrupted(w, r)
		return out
	}
	if rq.class == ClassDetail && h.sc.Faults.broken(rq.id) {
		out := errorJSON(w, http.StatusInternalServerError, "item "+strconv.Itoa(rq.id)+" is broken")
		out.fault = FaultBroken
		return out
	}
	var fault Fault
	if rq.class == ClassDetail || h.sc.Faults.Pages {
		fault = h.sc.Faults.decide(rq.key, rq.attempt)
	}
	if out := h.inject(w, r, fault); out != (outcome{}) {
		return out
	}
	if rq.class == ClassListing {
		return h.servePage(w, r, rq.attempt, fault)
	}
	d := newDetail(rq.id)
	d.pad(h.sc.BodySize, h.padding)
	return h.writeBody(w, r, d, fault)
}

// serviceTime is how long rq is served once it holds a slot.
func (h *Handler) serviceTime(rq request) time.Duration {
	if rq.class == ClassListing && h.sc.ListingLatency > 0 {
		return h.sc.ListingLatency
	}
	return h.sc.latency(rq.key, rq.attempt, h.now().Sub(h.rec.start))
}

// admit applies the header quota and the token bucket (robots.txt only reads
// them) and writes their headers; false means it answered 403 or 429.
func (h *Handler) admit(w http.ResponseWriter, rq request) (outcome, bool) {
	t := h.now()
	consume := rq.class != ClassRobots
	if h.header != nil {
		v := h.header.take(t, consume, w.Header())
		if until, ok := h.sendRetryAfter(w.Header(), t); ok {
			v.until = until
		}
		if !v.until.IsZero() {
			h.rec.tellWait(rq.client, rq.conn, v.until)
		}
		switch v.status {
		case http.StatusForbidden:
			writeJSON(w, v.status, map[string]string{
				"message":           "API rate limit exceeded for " + rq.client + ". The window resets at X-RateLimit-Reset.",
				"documentation_url": "https://politely.invalid/docs/rate-limits",
			})
			return outcome{status: v.status}, false
		case http.StatusTooManyRequests:
			return errorJSON(w, v.status, "rate limit exceeded"), false
		}
	}
	b, q := h.bucket, h.sc.Quota
	if rq.class == ClassListing && h.listing != nil {
		b, q = h.listing, h.sc.ListingQuota
	}
	if b != nil {
		ok, wait := b.take(t, consume, w.Header())
		if !ok {
			if !q.NoRetryAfter {
				if q.RetryAfter > 0 {
					wait = q.RetryAfter
				}
				h.rec.tellWait(rq.client, rq.conn, h.retryAfter(w.Header(), t, wait))
			}
			return errorJSON(w, q.Status, "rate limit exceeded"), false
		}
	}
	return outcome{}, true
}

// blackout answers its status (503) with a Retry-After until the blackout's
// end (unless NoRetryAfter) while it lasts; false means it answered.
func (h *Handler) blackout(w http.ResponseWriter, rq request) (outcome, bool) {
	t := h.now()
	b := h.sc.Blackout
	if !b.active(t.Sub(h.rec.start)) {
		return outcome{}, true
	}
	if !b.NoRetryAfter {
		h.rec.tellWait(rq.client, rq.conn, h.retryAfter(w.Header(), t, h.rec.start.Add(b.At+b.For).Sub(t)))
	}
	return errorJSON(w, b.Status, "down for maintenance"), false
}

// unavailable answers beyond the capacity's queue: its status, with its
// Retry-After unless NoRetryAfter.
func (h *Handler) unavailable(w http.ResponseWriter, rq request) outcome {
	c := h.sc.Capacity
	if !c.NoRetryAfter {
		h.rec.tellWait(rq.client, rq.conn, h.retryAfter(w.Header(), h.now(), c.RetryAfter))
	}
	return errorJSON(w, c.Status, "server at capacity")
}

// retryAfter sets Retry-After to d rounded up to whole seconds (at least
// one) from t, sent as sendRetryAfter says, and returns the instant it tells
// the client.
func (h *Handler) retryAfter(hdr http.Header, t time.Time, d time.Duration) time.Time {
	hdr.Set("Retry-After", strconv.FormatInt(max(1, seconds(d)), 10))
	until, _ := h.sendRetryAfter(hdr, t)
	return until
}

// sendRetryAfter rewrites the delay-seconds Retry-After in hdr, written at
// t, as the scenario sends it: moved by RetryAfterShift (a delay not above
// zero is "0") and, with RetryAfterDate, as the HTTP-date it ends at (which
// the shift may put in the past). It returns the instant the value now
// tells the client, or false if hdr has no delay-seconds Retry-After.
func (h *Handler) sendRetryAfter(hdr http.Header, t time.Time) (time.Time, bool) {
	secs, err := strconv.ParseInt(hdr.Get("Retry-After"), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	secs += int64(h.sc.RetryAfterShift / time.Second)
	until := t.Add(time.Duration(secs) * time.Second)
	if h.sc.RetryAfterDate { // a date tells whole seconds: the client is told the second it names
		until = until.Truncate(time.Second)
		hdr.Set("Retry-After", until.UTC().Format(http.TimeFormat))
		return until, true
	}
	secs = max(0, secs)
	hdr.Set("Retry-After", strconv.FormatInt(secs, 10))
	return t.Add(time.Duration(secs) * time.Second), true
}

// wait sleeps for d, its timer set early by the lag learnt (see timerLag) so
// that waits last d on average; false if the client left or the handler
// closed first.
func (h *Handler) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	due := time.Now().Add(d)
	if early := h.lag.early(d); early > 0 {
		t := time.NewTimer(early)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-h.closed:
			return false
		}
	}
	h.lag.observe(time.Since(due))
	return true
}

// interrupted reports why a wait ended early: the client left (499, nothing
// written) or the handler closed (503 written). ended is false if neither.
func (h *Handler) interrupted(w http.ResponseWriter, r *http.Request) (out outcome, ended bool) {
	select {
	case <-r.Context().Done():
		return outcome{status: statusClientGone}, true
	default:
	}
	select {
	case <-h.closed:
		return errorJSON(w, http.StatusServiceUnavailable, "server closing"), true
	default:
		return outcome{}, false
	}
}

func (h *Handler) serveRobots(w http.ResponseWriter) outcome {
	var b strings.Builder
	b.WriteString("User-agent: *\nDisallow: /private/\n")
	if d := h.sc.Robots.CrawlDelay; d > 0 {
		b.WriteString("Crawl-delay: " + strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
	return outcome{status: http.StatusOK, whole: true}
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request, attempt int, fault Fault) outcome {
	body, next, bad := h.sc.page(r, attempt)
	if bad != nil {
		return errorJSON(w, http.StatusBadRequest, bad.Error())
	}
	if msg, ok := body["error"].(string); ok && h.sc.PageGlitch.Kind == GlitchServerError {
		return errorJSON(w, http.StatusInternalServerError, msg)
	}
	if next != "" && h.sc.Pagination == PaginationLink {
		w.Header().Set("Link", "<"+next+">; rel=\"next\"")
	}
	return h.writeBody(w, r, body, fault)
}

// classify maps a path to its class, the item id of a detail path and
// whether robots.txt disallows it.
func classify(path string) (class Class, id int, disallowed bool) {
	disallowed = strings.HasPrefix(path, "/private/")
	switch {
	case path == "/robots.txt":
		return ClassRobots, 0, false
	case path == "/items":
		return ClassListing, 0, false
	}
	rest, ok := strings.CutPrefix(path, "/private")
	if !ok {
		rest = path
	}
	if s, ok := strings.CutPrefix(rest, "/items/"); ok {
		n, err := strconv.Atoi(s)
		if err == nil && s == strconv.Itoa(n) && n > 0 {
			return ClassDetail, n, disallowed
		}
		return ClassDetail, -1, disallowed
	}
	return ClassOther, 0, disallowed
}

// client keys a request for EarlyRequests: Config.ClientHeader's value if
// set and present, else the remote IP.
func (h *Handler) client(r *http.Request) string {
	if h.clientHeader != "" {
		if v := r.Header.Get(h.clientHeader); v != "" {
			return v
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded; failing here is a bug in this package.
		panic("mockapi: encode response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func errorJSON(w http.ResponseWriter, status int, msg string) outcome {
	writeJSON(w, status, map[string]string{"error": msg})
	return outcome{status: status}
}

// acceptsGzip reports whether r's Accept-Encoding lists gzip (without q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// gzipWriters are reused: a new gzip.Writer allocates ~800 kB, which made the
// mock, not the client, the bottleneck of a crawl of compressed answers.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level never fails
	return zw
}}

// writeGzipJSON is writeJSON with the body gzip-compressed.
func writeGzipJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("mockapi: encode response: " + err.Error())
	}
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write(b) // a bytes.Buffer does not fail
	_ = zw.Close()
	gzipWriters.Put(zw)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Set("Vary", "Accept-Encoding")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
