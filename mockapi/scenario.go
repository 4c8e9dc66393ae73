package mockapi

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

// Scenario describes how a mock API behaves: its items, how the listing pages
// through them, and the limits and faults it imposes. The zero value is a fast,
// unlimited API of 1,000 items, 50 per page, paged by page number. Knobs left at
// zero take the defaults documented on each field; a feature whose main knob is
// zero (Capacity.Slots, Quota.Rate, HeaderQuota.Limit, every Faults rate) is off.
type Scenario struct {
	// Name identifies the scenario in /__stats; Preset names come from here.
	Name string
	// Description is one line for `politely mock --list` and reports.
	Description string

	// Items is how many items the listing returns, with ids 1..Items. Default 1,000.
	Items int
	// PerPage is the page size when the request has no per_page. Default 50.
	PerPage int
	// MaxPerPage caps a requested per_page. Default 1,000 (or PerPage if larger).
	MaxPerPage int
	// Pagination is the listing style. Default PaginationPage.
	Pagination Pagination
	// AnnounceTotal adds "total" (and "total_pages" for page numbers) to each page.
	AnnounceTotal bool

	// Latency is the base service time of a listing or detail request. Default 0.
	Latency time.Duration
	// Jitter spreads Latency uniformly over [Latency-Jitter, Latency+Jitter],
	// decided per request by the fault hash so a seed repeats. Must not exceed Latency.
	Jitter time.Duration
	// LatencyDrift is added to the service time for every second since the
	// server started (negative: taken off, never below zero): a server that
	// slows down, or speeds up, over a long crawl. Default 0.
	LatencyDrift time.Duration
	// SlowShare is the fraction of requests, decided per request by the
	// fault hash, served SlowFactor times slower: a bimodal server whose
	// answers are mostly fast. Default 0.
	SlowShare float64
	// SlowFactor multiplies the service time of the SlowShare requests. Default 10.
	SlowFactor float64
	// RefuseShare is the fraction of detail requests, decided per request
	// by the fault hash, refused as the capacity refuses (its Status, with
	// its Retry-After unless NoRetryAfter) whatever the load: one sick
	// backend among many behind a load balancer. Default 0.
	RefuseShare float64
	// RedirectLoopShare is the fraction of items, decided per item by the
	// fault hash, whose detail answers 302 to itself with ?loop=1 toggled
	// (/items/7 -> /items/7?loop=1 -> /items/7 ...) on every attempt: a
	// redirect loop (a broken canonical-URL rule, a cookie wall). Default 0.
	RedirectLoopShare float64
	// RedirectOnceShare is the fraction of items, decided per item by the
	// fault hash, whose detail answers 302 to itself with ?canonical=1
	// added, which is then served: a redirect to a canonical URL on the
	// same host (a trailing slash, a renamed path). Default 0.
	RedirectOnceShare float64
	// MissingShare is the fraction of items, decided per item by the fault
	// hash, whose detail answers 404 at once on every attempt, without
	// service time: items deleted since they were listed. Default 0.
	MissingShare float64
	// ElasticSlots, when positive, stretches a request's service time by
	// n/ElasticSlots when n > ElasticSlots requests are in service as it
	// starts (itself included): a server that never refuses and shares
	// itself among what it is given, so its latency grows with its load
	// and its throughput stays at ElasticSlots/Latency. Default 0: off.
	ElasticSlots int
	// ListingLatency, when positive, is the service time of a listing page
	// in place of the above: a listing slower (or faster) than the details.
	ListingLatency time.Duration
	// ListingQuota, when its Rate is set, is a token bucket of the listing's
	// own: listing pages take its tokens instead of Quota's, as an API
	// whose search or list endpoint is limited apart from its item
	// endpoint (per-endpoint limits on one host). Its zero fields default
	// as Quota's do. EarlyRequests keys a Retry-After by client, so a
	// detail sent within the listing's Retry-After counts as early.
	ListingQuota Quota

	Capacity    Capacity
	Quota       Quota
	HeaderQuota HeaderQuota
	Faults      Faults
	Robots      Robots
	Blackout    Blackout

	// DetailHosts, when set, spreads the items' detail endpoints over other
	// servers: item id's detail_path is the absolute URL
	// http://DetailHosts[id mod len]/items/{id} (each "host:port", or
	// "https://host:port" for a server with Config.TLS), for a crawl over
	// many hosts. Empty: detail paths are on this server.
	DetailHosts []string
	// RedirectTo, when set ("host:port", or "https://host:port" for a
	// server with Config.TLS), answers every detail request at
	// once with a 302 to the same path and query on that server: a front
	// whose items live on another host.
	RedirectTo string
	// RedirectAt delays RedirectTo until this long after the server
	// started: a host whose items move to another mid-crawl. Default 0.
	RedirectAt time.Duration
	// RetryAfterDate sends every Retry-After as an HTTP-date (the instant
	// the delay ends, truncated to the second as servers format it) instead
	// of delay-seconds; the response's Date header is the server's clock.
	RetryAfterDate bool
	// ClockOffset puts the server's clock this far ahead of real time
	// (negative: behind), as a server whose clock is not synchronised: its
	// Date header and everything it computes from time (windows aligned to
	// the Unix epoch, epoch Resets, Retry-After dates, Stats' early count)
	// read that clock. Durations it sends are unchanged. Default 0.
	ClockOffset time.Duration
	// BodySize, when positive, pads every detail answer with a "padding"
	// field so that its JSON body is about this many bytes: large answers.
	BodySize int
	// Gzip compresses listing and detail answers (Content-Encoding: gzip)
	// when the request accepts gzip.
	Gzip bool
	// CloseConnections answers every request with "Connection: close": a
	// server (or a proxy in front of it) that refuses keep-alive, so every
	// request opens a new connection.
	CloseConnections bool
	// KeepAliveRequests, when positive, closes every connection after this
	// many requests on it (the last one answered with "Connection: close"),
	// as nginx's keepalive_requests or a proxy's per-connection limit does.
	// Default 0: no limit.
	KeepAliveRequests int
	// PageOverlap makes every listing page after the first start this many
	// items before where the previous page ended (its size unchanged), as a
	// listing does into whose head items are inserted while it is paged: ids
	// repeat across pages, and the listing takes more pages to reach its
	// last item. At most the page size less one. Default 0.
	PageOverlap int
	// PageGlitch answers some listing pages 200 with what a server in
	// trouble sends in place of a page, on their first attempts. Default: off.
	PageGlitch PageGlitch
	// RetryAfterShift moves every Retry-After the server sends by this much
	// (whole seconds; negative: sooner than its limit frees up), as a
	// hurried or buggy server does: a delay that falls to zero or below is
	// sent as "0", and with RetryAfterDate a date that may lie in the past.
	// The early count reads what was sent. Default 0.
	RetryAfterShift time.Duration
}

// PageGlitch is a listing that sometimes answers 200 without its page: an
// empty page that still links on (a search index that timed out on a
// shard), or an error in a 200 body (a gateway or GraphQL-style API).
type PageGlitch struct {
	// Pages are the listing pages answered so, by their place in the
	// listing from 1 (the page holding items (n-1)*per_page+1 on). Empty: off.
	Pages []int
	// Kind is GlitchEmpty (the default) or GlitchError.
	Kind GlitchKind
	// Attempts is how many first attempts at such a page are answered so
	// (the same URL asked again); later ones get the page. Default 1.
	Attempts int
}

// GlitchKind is what a PageGlitch answers.
type GlitchKind string

// Kinds of PageGlitch answers.
const (
	// GlitchEmpty answers the page with no items, its next link, cursor or
	// URL as if it had them.
	GlitchEmpty GlitchKind = "empty"
	// GlitchError answers {"error": "..."} alone: no items, no next.
	GlitchError GlitchKind = "error"
	// GlitchServerError answers 500 with {"error": "..."}: a listing whose
	// next page sometimes fails and succeeds when asked again.
	GlitchServerError GlitchKind = "500"
)

// Pagination is a listing style; its values match the crawl config's
// pagination.style so a scenario and a crawl config can name the same thing.
type Pagination string

// Listing styles. Every style accepts per_page. A client of page or offset
// stops at the first empty page; the others announce no next link, cursor or
// URL on the last page.
const (
	// PaginationPage takes ?page=N (from 1); an empty page follows the last one.
	PaginationPage Pagination = "page"
	// PaginationOffset takes ?offset=K (from 0); an empty page follows the last one.
	PaginationOffset Pagination = "offset"
	// PaginationCursor takes ?cursor=C and answers "next_cursor" ("" on the last page).
	PaginationCursor Pagination = "cursor"
	// PaginationLink takes ?page=N and answers `Link: <url>; rel="next"` except on the last page.
	PaginationLink Pagination = "link"
	// PaginationNextURL takes ?page=N and answers "next" (an absolute URL, null on the last page).
	PaginationNextURL Pagination = "next_url"
)

// Capacity models a server with a fixed number of workers: Slots requests are
// served at once, up to Queue more wait in FIFO order (so their latency grows),
// and anything beyond is answered 503 with a Retry-After (or as Status and
// NoRetryAfter say: an in-flight cap answering 429 without one).
type Capacity struct {
	// Slots is C, the requests served at once. 0 means unlimited (and Queue is ignored).
	Slots int
	// Queue is Q, the requests that may wait for a slot. Default 0: no waiting.
	Queue int
	// RetryAfter is announced on 503, rounded up to whole seconds. Default 1 s.
	RetryAfter time.Duration
	// Status is the answer beyond the queue: 503 or 429. Default 503.
	Status int
	// NoRetryAfter sends the answer beyond the queue without a Retry-After.
	NoRetryAfter bool
	// Schedule changes Slots over time (a step down, a step up): each step
	// applies from At after the server started until the next step.
	Schedule []Step
}

// Step sets the capacity's slots from At after the server started.
type Step struct {
	At    time.Duration
	Slots int
}

// Quota is a server-side token bucket shared by all clients: Rate requests per
// second with Burst, 429 with Retry-After (whole seconds until a token) beyond
// it. Every response carries the quota headers chosen by Headers, which
// announce the bucket as a sliding window of W whole seconds (the shortest
// that holds Burst) in which Q = Rate×W requests refill, so that a client that
// spreads Remaining over Reset sends at Rate:
//
//   - RateLimit-Policy: "bucket";q=Q;w=W
//   - RateLimit-Limit and X-RateLimit-Limit: Burst+Q, the most a window allows
//   - -Remaining: what the next W seconds allow (whole tokens left + Q);
//     0 on a 429
//   - -Reset: W, or on a 429 the Retry-After; delay seconds in both families
//     (the header quota's X-RateLimit-Reset is a Unix time, as GitHub's)
//   - RateLimit: "bucket";r=Remaining;t=Reset
type Quota struct {
	// Rate is R in requests per second. 0 turns the quota off.
	Rate float64
	// Burst is the bucket size. Default 1.
	Burst int
	// Headers chooses the header families sent. Default QuotaHeadersBoth.
	Headers QuotaHeaders
	// NoRetryAfter sends the 429 beyond the burst without a Retry-After.
	NoRetryAfter bool
	// Status is the answer beyond the burst: 429, or 503 as nginx's
	// limit_req sends by default. Default 429.
	Status int
	// RetryAfter, if positive, is the Retry-After of every 429 (rounded up
	// to whole seconds), as a limiter that announces a fixed penalty sends
	// it; 0 announces the whole seconds until the next token.
	RetryAfter time.Duration
}

// validate checks q, a Quota at field name.
func (q Quota) validate(bad func(field, want string, got any) error, name string) error {
	switch {
	case q.Rate != 0 && !(q.Rate >= 0.001 && q.Rate <= 1e9):
		return bad(name+".Rate", "0 (off) or between 0.001 and 1e9", q.Rate)
	case q.Burst < 0:
		return bad(name+".Burst", ">= 0", q.Burst)
	case q.RetryAfter < 0:
		return bad(name+".RetryAfter", ">= 0", q.RetryAfter)
	case q.Status != http.StatusTooManyRequests && q.Status != http.StatusServiceUnavailable:
		return bad(name+".Status", "429 or 503", q.Status)
	case q.Headers < QuotaHeadersBoth || q.Headers > QuotaHeadersNone:
		return bad(name+".Headers", "a QuotaHeaders constant", int(q.Headers))
	}
	return nil
}

// QuotaHeaders chooses which rate-limit header families a Quota announces.
type QuotaHeaders int

// Header families of a Quota.
const (
	// QuotaHeadersBoth sends RateLimit-* and X-RateLimit-*; it is the zero value.
	QuotaHeadersBoth QuotaHeaders = iota
	// QuotaHeadersIETF sends only RateLimit-Limit, -Remaining, -Reset, -Policy and RateLimit.
	QuotaHeadersIETF
	// QuotaHeadersX sends only X-RateLimit-Limit, -Remaining and -Reset.
	QuotaHeadersX
	// QuotaHeadersNone sends no quota headers: the client learns from 429s alone.
	QuotaHeadersNone
)

// HeaderQuota is a quota shared by all clients that announces itself only
// in X-RateLimit-* headers: Limit requests per Window, counted as Kind says.
// Windows are aligned to multiples of Window since the Unix epoch, so a 1 s
// window resets on whole seconds.
type HeaderQuota struct {
	// Limit is the requests allowed per window. 0 turns the header quota off.
	Limit int
	// Window is the window length. Default 1 minute.
	Window time.Duration
	// Kind is how requests are counted and announced. Default HeaderQuotaFixed.
	Kind HeaderQuotaKind
	// Burst is the bucket size of HeaderQuotaTokenBucket (others ignore it). Default Limit.
	Burst int
	// IETF announces the quota in RateLimit-Policy (`"window";q=Limit;w=`
	// the window in whole seconds) and RateLimit (`"window";r=`Remaining`;t=`
	// the whole seconds until Reset, rounded up) of
	// draft-ietf-httpapi-ratelimit-headers instead of X-RateLimit-*, as
	// gateways that implement the draft do. Refusals are unchanged.
	IETF bool
	// Requests announces the quota as inference APIs do (OpenAI's form, and
	// others'): x-ratelimit-limit-requests (Limit), -remaining-requests and
	// -reset-requests, the time until the requests refill as a Go-like
	// duration rounded to the millisecond ("1s", "6m0s", "20ms", "1m30.5s"),
	// with -limit-tokens, -remaining-tokens and -reset-tokens siblings for a
	// token budget 1,000 times the requests' (so it never binds first),
	// instead of X-RateLimit-*. Refusals are unchanged. Not with IETF.
	Requests bool
	// Hidden sends no quota headers at all: the quota shows only in its
	// refusals, 429 + Retry-After (the fixed window's until its end, as APIs
	// that announce "100 requests a minute" in their docs alone do; the
	// others' as without Hidden). Not with IETF or Requests.
	Hidden bool
	// Reset is the form of X-RateLimit-Reset: HeaderResetEpoch (the Unix
	// second of the reset), HeaderResetEpochMillis (its Unix millisecond) or
	// HeaderResetDelta (the whole seconds until it, rounded up). Default: the kind's own (epoch for fixed and sliding
	// windows, delta for the token bucket). IETF's t is always delta.
	Reset HeaderResetForm
}

// HeaderResetForm is how X-RateLimit-Reset tells the reset's time. Its values
// are the names `politely mock --header-reset` takes.
type HeaderResetForm string

// Forms of X-RateLimit-Reset.
const (
	HeaderResetEpoch       HeaderResetForm = "epoch"
	HeaderResetEpochMillis HeaderResetForm = "epoch-ms"
	HeaderResetDelta       HeaderResetForm = "delta"
)

// HeaderQuotaKind is how a HeaderQuota counts requests and what its headers
// say. Its values are the names `politely mock --header-kind` takes.
type HeaderQuotaKind string

// Header quota kinds, each built like a common server-side limiter.
const (
	// HeaderQuotaFixed is GitHub's: a fixed window; X-RateLimit-Limit,
	// -Remaining, -Used, -Reset (the window's end in Unix seconds) and
	// -Resource; once the window is used up, 403 with a JSON message and no
	// Retry-After until it ends. It is the zero value.
	HeaderQuotaFixed HeaderQuotaKind = "fixed"
	// HeaderQuotaSliding is a sliding-window counter (the design of go-chi's
	// httprate and many middlewares): a request counts the current window's
	// requests plus the previous window's weighted by how much of it lies
	// within one Window of now. X-RateLimit-Remaining is Limit minus that
	// count, X-RateLimit-Reset the current window's end in Unix seconds
	// (where the count does not drop to zero); beyond the limit, 429 with
	// Retry-After: Window.
	HeaderQuotaSliding HeaderQuotaKind = "sliding"
	// HeaderQuotaTokenBucket is a token bucket (the GCRA of redis_rate and
	// many gateways): Burst tokens refilled at Limit per Window.
	// X-RateLimit-Limit is Limit, -Remaining the whole tokens left, -Reset
	// the seconds until the bucket is full again; with no token left, 429
	// with Retry-After: the whole seconds until one.
	HeaderQuotaTokenBucket HeaderQuotaKind = "token-bucket"
)

// Faults injects failures into detail requests (and listing pages if Pages).
// Whether attempt n at a URL fails, and how, is decided by hashing (Seed, path
// and query, n), so the same seed gives the same faults. Faults are transient:
// a URL only fails on its first TransientAttempts attempts, each with the
// probabilities below (their sum must not exceed 1). Permanent is the fraction of
// items that answer 500 to every attempt.
type Faults struct {
	Seed uint64
	// Error500 is the probability of a 500 with a JSON error body.
	Error500 float64
	// Reset is the probability of a connection reset (hijacked, closed with
	// RST). Where the connection cannot be hijacked (HTTP/2, a
	// ResponseRecorder) the handler panics with http.ErrAbortHandler instead,
	// which a net/http server turns into a closed connection.
	Reset float64
	// Hang is the probability of a hang: nothing is sent until HangMax (then
	// 504), the client gives up (recorded as 499) or the server closes (503).
	Hang float64
	// Malformed is the probability of a 200 whose JSON body is cut short.
	Malformed float64
	// SlowBody is the probability of a 200 whose body trickles out over SlowBodyDuration.
	SlowBody float64
	// Permanent is the fraction of items that are broken for good (always 500).
	Permanent float64
	// TransientAttempts is how many first attempts per URL may fail. Default 2.
	TransientAttempts int
	// HangMax bounds a hang. Default 30 s.
	HangMax time.Duration
	// SlowBodyDuration is how long a slow body takes. Default 2 s.
	SlowBodyDuration time.Duration
	// Pages also applies the transient faults to listing pages (never Permanent).
	Pages bool
	// Robots also applies them to robots.txt: a host that hangs every
	// request hangs its robots.txt too.
	Robots bool
}

// Blackout is a maintenance window: from At after the server started, for
// For, every request (robots.txt and the listing included) is answered 503
// with a Retry-After of the whole seconds left until the window ends (or as
// Status and NoRetryAfter say: a storm of 500s that tells nothing).
type Blackout struct {
	At  time.Duration
	For time.Duration // 0 turns the blackout off
	// Status is the answer during the window: 403, 408, 425, 429, 500, 502,
	// 503 or 504. Default 503.
	Status int
	// NoRetryAfter answers without a Retry-After.
	NoRetryAfter bool
}

// active reports whether since after the server started lies in the blackout.
func (b Blackout) active(since time.Duration) bool {
	return b.For > 0 && since >= b.At && since < b.At+b.For
}

// Robots shapes /robots.txt, which always disallows /private/ for every agent.
type Robots struct {
	// PrivateEvery puts every N-th item's detail_path under /private/ (ids that
	// are multiples of N), so a polite crawler skips them. 0: none.
	PrivateEvery int
	// CrawlDelay, if positive, is announced as Crawl-delay in seconds.
	CrawlDelay time.Duration
	// Latency, if positive, is robots.txt's own service time (a robots.txt
	// served from a slow origin while the API is cached).
	Latency time.Duration
	// Status, if not 0, answers every robots.txt request with this status
	// and an error body instead of the rules: 404 (no robots.txt), 500, 503
	// (an origin that fails robots.txt alone), 429 or 403. No Retry-After.
	Status int
}

// Optimum is the best sustained goodput in requests per second the scenario
// allows a client from the start: OptimumAt(0).
func (sc Scenario) Optimum() float64 { return sc.OptimumAt(0) }

// OptimumAt is the best sustained goodput in requests per second the scenario
// allows a client at since after the server started: the lowest of the quota
// rate, the header quota's Limit/Window and the capacity's slots (as the
// schedule has them then) over Latency; 0 in a blackout; +Inf when none
// applies.
func (sc Scenario) OptimumAt(since time.Duration) float64 {
	sc = sc.withDefaults()
	if sc.Blackout.active(since) {
		return 0
	}
	best := math.Inf(1)
	if sc.Quota.Rate > 0 {
		best = min(best, sc.Quota.Rate)
	}
	if sc.HeaderQuota.Limit > 0 {
		best = min(best, float64(sc.HeaderQuota.Limit)/sc.HeaderQuota.Window.Seconds())
	}
	if l := sc.meanLatencyAt(since); sc.Capacity.Slots > 0 && l > 0 {
		best = min(best, float64(sc.Capacity.slotsAt(since))/l.Seconds())
	}
	return best
}

// meanLatencyAt is a detail request's mean service time at since after the
// server started: Latency with its drift, lengthened by the slow share.
func (sc Scenario) meanLatencyAt(since time.Duration) time.Duration {
	l := sc.driftedAt(sc.Latency, since)
	return time.Duration(float64(l) * (1 - sc.SlowShare + sc.SlowShare*sc.SlowFactor))
}

// driftedAt is d plus LatencyDrift for each second of since, never below zero.
func (sc Scenario) driftedAt(d, since time.Duration) time.Duration {
	return max(0, d+time.Duration(float64(sc.LatencyDrift)*since.Seconds()))
}

// slotsAt is the number of slots at since after the server started.
func (c Capacity) slotsAt(since time.Duration) int {
	n := c.Slots
	for _, st := range c.Schedule {
		if since < st.At {
			break
		}
		n = st.Slots
	}
	return n
}

func (sc Scenario) withDefaults() Scenario {
	if sc.Items == 0 {
		sc.Items = 1000
	}
	if sc.PerPage == 0 {
		sc.PerPage = 50
	}
	if sc.MaxPerPage == 0 {
		sc.MaxPerPage = max(1000, sc.PerPage)
	}
	if sc.Pagination == "" {
		sc.Pagination = PaginationPage
	}
	sc.Capacity.Schedule = slices.Clone(sc.Capacity.Schedule) // the caller may change theirs
	if sc.SlowFactor == 0 {
		sc.SlowFactor = 10
	}
	if sc.Capacity.RetryAfter == 0 {
		sc.Capacity.RetryAfter = time.Second
	}
	if sc.Capacity.Status == 0 {
		sc.Capacity.Status = http.StatusServiceUnavailable
	}
	if sc.Blackout.Status == 0 {
		sc.Blackout.Status = http.StatusServiceUnavailable
	}
	if sc.Quota.Status == 0 {
		sc.Quota.Status = http.StatusTooManyRequests
	}
	if sc.Quota.Burst == 0 {
		sc.Quota.Burst = 1
	}
	if sc.ListingQuota.Status == 0 {
		sc.ListingQuota.Status = http.StatusTooManyRequests
	}
	if sc.ListingQuota.Burst == 0 {
		sc.ListingQuota.Burst = 1
	}
	if sc.HeaderQuota.Window == 0 {
		sc.HeaderQuota.Window = time.Minute
	}
	if sc.HeaderQuota.Kind == "" {
		sc.HeaderQuota.Kind = HeaderQuotaFixed
	}
	if sc.HeaderQuota.Burst == 0 {
		sc.HeaderQuota.Burst = sc.HeaderQuota.Limit
	}
	if sc.PageGlitch.Kind == "" {
		sc.PageGlitch.Kind = GlitchEmpty
	}
	if sc.PageGlitch.Attempts == 0 {
		sc.PageGlitch.Attempts = 1
	}
	sc.PageGlitch.Pages = slices.Clone(sc.PageGlitch.Pages)
	if sc.Faults.TransientAttempts == 0 {
		sc.Faults.TransientAttempts = 2
	}
	if sc.Faults.HangMax == 0 {
		sc.Faults.HangMax = 30 * time.Second
	}
	if sc.Faults.SlowBodyDuration == 0 {
		sc.Faults.SlowBodyDuration = 2 * time.Second
	}
	return sc
}

// maxBrokenScan bounds the items scanned for broken ones when a server starts.
const maxBrokenScan = 10_000_000

// validate checks a scenario with defaults applied and names the first bad field.
// maxBodySize bounds BodySize: a mock answer larger than 64 MiB tests the machine, not a client.
const maxBodySize = 64 << 20

func (sc Scenario) validate() error {
	bad := func(field, want string, got any) error {
		return fmt.Errorf("mockapi: scenario %q: %s must be %s, got %v", sc.Name, field, want, got)
	}
	switch {
	case sc.Items < 0:
		return bad("Items", ">= 0", sc.Items)
	case sc.Items > maxBrokenScan && sc.Faults.Permanent > 0:
		return bad("Items", fmt.Sprintf("<= %d when Faults.Permanent is set (broken items are listed at start)", maxBrokenScan), sc.Items)
	case sc.PerPage < 0:
		return bad("PerPage", ">= 0", sc.PerPage)
	case sc.MaxPerPage < sc.PerPage:
		return bad("MaxPerPage", fmt.Sprintf(">= PerPage (%d)", sc.PerPage), sc.MaxPerPage)
	case sc.Latency < 0:
		return bad("Latency", ">= 0", sc.Latency)
	case sc.Jitter < 0 || sc.Jitter > sc.Latency:
		return bad("Jitter", fmt.Sprintf("between 0 and Latency (%v)", sc.Latency), sc.Jitter)
	case !(sc.SlowShare >= 0 && sc.SlowShare <= 1):
		return bad("SlowShare", "a fraction in [0, 1]", sc.SlowShare)
	case !(sc.RefuseShare >= 0 && sc.RefuseShare <= 1):
		return bad("RefuseShare", "a fraction in [0, 1]", sc.RefuseShare)
	case !(sc.RedirectLoopShare >= 0 && sc.RedirectLoopShare <= 1):
		return bad("RedirectLoopShare", "a fraction in [0, 1]", sc.RedirectLoopShare)
	case !(sc.RedirectOnceShare >= 0 && sc.RedirectOnceShare <= 1):
		return bad("RedirectOnceShare", "a fraction in [0, 1]", sc.RedirectOnceShare)
	case !(sc.MissingShare >= 0 && sc.MissingShare <= 1):
		return bad("MissingShare", "a fraction in [0, 1]", sc.MissingShare)
	case !(sc.SlowFactor >= 1 && sc.SlowFactor <= 1000):
		return bad("SlowFactor", "between 1 and 1000", sc.SlowFactor)
	case sc.ListingLatency < 0:
		return bad("ListingLatency", ">= 0", sc.ListingLatency)
	case sc.RetryAfterShift%time.Second != 0:
		return bad("RetryAfterShift", "whole seconds", sc.RetryAfterShift)
	case sc.BodySize < 0 || sc.BodySize > maxBodySize:
		return bad("BodySize", fmt.Sprintf("between 0 and %d", maxBodySize), sc.BodySize)
	case sc.PageOverlap < 0:
		return bad("PageOverlap", ">= 0", sc.PageOverlap)
	case sc.ElasticSlots < 0:
		return bad("ElasticSlots", ">= 0", sc.ElasticSlots)
	case !slices.Contains([]GlitchKind{GlitchEmpty, GlitchError, GlitchServerError}, sc.PageGlitch.Kind):
		return bad("PageGlitch.Kind", "empty, error or 500", fmt.Sprintf("%q", sc.PageGlitch.Kind))
	case sc.RedirectAt < 0:
		return bad("RedirectAt", ">= 0", sc.RedirectAt)
	case sc.KeepAliveRequests < 0:
		return bad("KeepAliveRequests", ">= 0", sc.KeepAliveRequests)
	case sc.PageGlitch.Attempts < 0:
		return bad("PageGlitch.Attempts", ">= 0", sc.PageGlitch.Attempts)
	case slices.ContainsFunc(sc.PageGlitch.Pages, func(n int) bool { return n < 1 }):
		return bad("PageGlitch.Pages", "page places from 1", sc.PageGlitch.Pages)
	}
	switch sc.Pagination {
	case PaginationPage, PaginationOffset, PaginationCursor, PaginationLink, PaginationNextURL:
	default:
		return bad("Pagination", "one of page, offset, cursor, link, next_url", fmt.Sprintf("%q", sc.Pagination))
	}
	if err := sc.Capacity.validate(bad); err != nil {
		return err
	}
	if err := sc.Quota.validate(bad, "Quota"); err != nil {
		return err
	}
	if err := sc.ListingQuota.validate(bad, "ListingQuota"); err != nil {
		return err
	}
	switch {
	case sc.HeaderQuota.Limit < 0:
		return bad("HeaderQuota.Limit", ">= 0", sc.HeaderQuota.Limit)
	case sc.HeaderQuota.Window < time.Millisecond:
		return bad("HeaderQuota.Window", ">= 1ms", sc.HeaderQuota.Window)
	case !slices.Contains([]HeaderQuotaKind{HeaderQuotaFixed, HeaderQuotaSliding, HeaderQuotaTokenBucket}, sc.HeaderQuota.Kind):
		return bad("HeaderQuota.Kind", "one of fixed, sliding, token-bucket", fmt.Sprintf("%q", sc.HeaderQuota.Kind))
	case sc.HeaderQuota.IETF && sc.HeaderQuota.Requests:
		return bad("HeaderQuota.IETF and .Requests", "one of them", "both")
	case sc.HeaderQuota.Hidden && (sc.HeaderQuota.IETF || sc.HeaderQuota.Requests):
		return bad("HeaderQuota.Hidden with .IETF or .Requests", "one of them", "both")
	case !slices.Contains([]HeaderResetForm{"", HeaderResetEpoch, HeaderResetEpochMillis, HeaderResetDelta}, sc.HeaderQuota.Reset):
		return bad("HeaderQuota.Reset", "epoch, epoch-ms or delta", fmt.Sprintf("%q", sc.HeaderQuota.Reset))
	case sc.HeaderQuota.Burst < 0:
		return bad("HeaderQuota.Burst", ">= 0", sc.HeaderQuota.Burst)
	case sc.HeaderQuota.Limit > 0 && sc.Quota.Rate > 0 && (sc.Quota.Headers == QuotaHeadersBoth || sc.Quota.Headers == QuotaHeadersX):
		return bad("Quota.Headers", "QuotaHeadersIETF or QuotaHeadersNone when HeaderQuota is on too (both would send X-RateLimit-*)", int(sc.Quota.Headers))
	case sc.Robots.PrivateEvery < 0:
		return bad("Robots.PrivateEvery", ">= 0", sc.Robots.PrivateEvery)
	case sc.Robots.CrawlDelay < 0:
		return bad("Robots.CrawlDelay", ">= 0", sc.Robots.CrawlDelay)
	case sc.Robots.Latency < 0:
		return bad("Robots.Latency", ">= 0", sc.Robots.Latency)
	case sc.Robots.Status != 0 && (sc.Robots.Status < 200 || sc.Robots.Status > 599):
		return bad("Robots.Status", "0 or an HTTP status", sc.Robots.Status)
	case sc.Blackout.At < 0 || sc.Blackout.For < 0:
		return bad("Blackout", "a window with At >= 0 and For >= 0", fmt.Sprintf("%+v", sc.Blackout))
	case !slices.Contains(blackoutStatuses, sc.Blackout.Status):
		return bad("Blackout.Status", "403, 408, 425, 429, 500, 502, 503 or 504", sc.Blackout.Status)
	}
	return sc.Faults.validate(bad)
}

// blackoutStatuses are the answers a Blackout may give: the 5xx a server
// or its gateway sends while down, and the 4xx some send instead (a 403
// with a Retry-After as GitHub's secondary rate limit sends, a proxy's 408
// Request Timeout, 425 Too Early, a front's 429).
var blackoutStatuses = []int{
	http.StatusForbidden, http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

func (c Capacity) validate(bad func(field, want string, got any) error) error {
	switch {
	case c.Slots < 0:
		return bad("Capacity.Slots", ">= 0", c.Slots)
	case c.Queue < 0:
		return bad("Capacity.Queue", ">= 0", c.Queue)
	case c.RetryAfter < 0:
		return bad("Capacity.RetryAfter", ">= 0", c.RetryAfter)
	case c.Status != http.StatusServiceUnavailable && c.Status != http.StatusTooManyRequests:
		return bad("Capacity.Status", "503 or 429", c.Status)
	case len(c.Schedule) > 0 && c.Slots == 0:
		return bad("Capacity.Schedule", "empty when Capacity.Slots is 0 (unlimited)", len(c.Schedule))
	}
	var prev time.Duration = -1
	for i, st := range c.Schedule {
		field := fmt.Sprintf("Capacity.Schedule[%d]", i)
		if st.At <= prev || st.At < 0 {
			return bad(field+".At", "increasing and >= 0", st.At)
		}
		if st.Slots < 1 {
			return bad(field+".Slots", ">= 1", st.Slots)
		}
		prev = st.At
	}
	return nil
}

func (f Faults) validate(bad func(field, want string, got any) error) error {
	probs := []struct {
		field string
		p     float64
	}{
		{"Faults.Error500", f.Error500}, {"Faults.Reset", f.Reset}, {"Faults.Hang", f.Hang},
		{"Faults.Malformed", f.Malformed}, {"Faults.SlowBody", f.SlowBody}, {"Faults.Permanent", f.Permanent},
	}
	sum := 0.0
	for _, pr := range probs {
		if !(pr.p >= 0 && pr.p <= 1) {
			return bad(pr.field, "a probability in [0, 1]", pr.p)
		}
		if pr.field != "Faults.Permanent" {
			sum += pr.p
		}
	}
	switch {
	case sum > 1+1e-9:
		return bad("the sum of the Faults rates (without Permanent)", "<= 1", sum)
	case f.TransientAttempts < 0:
		return bad("Faults.TransientAttempts", ">= 0", f.TransientAttempts)
	case f.HangMax < 0:
		return bad("Faults.HangMax", ">= 0", f.HangMax)
	case f.SlowBodyDuration < 0:
		return bad("Faults.SlowBodyDuration", ">= 0", f.SlowBodyDuration)
	}
	return nil
}
