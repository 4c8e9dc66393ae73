package mockapi

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Class is the kind of path a request was for, as counted in Stats.ByClass.
type Class string

// Path classes. Requests to /__stats are not counted at all.
const (
	ClassListing Class = "listing" // /items
	ClassDetail  Class = "detail"  // /items/{id} and /private/items/{id}
	ClassRobots  Class = "robots"  // /robots.txt
	ClassOther   Class = "other"   // anything else (answered 404 or 405)
)

// Stats is the server's ground truth about the traffic it received. Counters
// keyed by status count finished requests; the rest count arrivals.
type Stats struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	// ClientKey says how "the client" of EarlyRequests is told apart:
	// "remote-ip", or "header:NAME" when Config.ClientHeader is set.
	ClientKey string `json:"client_key"`

	// Requests counts every request that arrived (all classes).
	Requests int64           `json:"requests"`
	ByClass  map[Class]int64 `json:"by_class"`
	// ByStatus counts finished requests by status code; 0 is a connection
	// reset, which sends no status, and 499 a client that left before the answer.
	ByStatus map[int]int64 `json:"by_status"`
	// Faults counts the faults injected, by kind.
	Faults map[Fault]int64 `json:"faults"`

	InFlight    int `json:"in_flight"`
	MaxInFlight int `json:"max_in_flight"`

	// EarlyRequests counts requests that arrived while their client had been
	// told to wait: before the Retry-After of a 429 or 503 it was given had
	// passed, or in a fixed header-quota window it had been told was used up.
	// A request on the connection that carried that answer, after it, counts:
	// the client had read the answer. On another connection, one that arrives
	// within inFlightSlack of the answer, or is the first on a connection the
	// server had accepted before it, may have been sent before the client got
	// the answer (it was on its way, or the client opened the connection for
	// it) and does not count. Outside Start's server every request in the
	// wait counts, those on their way included.
	EarlyRequests int64 `json:"early_requests"`
	// RobotsViolations counts requests to paths robots.txt disallows.
	RobotsViolations int64 `json:"robots_violations"`

	// Items is the number of items in the listing (ids 1..Items).
	Items int `json:"items"`
	// BrokenItems are the ids that answer 500 to every attempt, ascending.
	BrokenItems []int `json:"broken_items"`
	// DetailRequests counts detail requests per item id; DetailOK counts those
	// answered 200 with a well-formed body. Ids never requested are absent.
	DetailRequests map[int]int `json:"detail_requests"`
	DetailOK       map[int]int `json:"detail_ok"`

	// FirstDetail is when the first detail request arrived and LastDetailOK
	// when the last 2xx detail answer was finished (zero: none yet): a host's
	// share of a many-host crawl is timed by them.
	FirstDetail  time.Time `json:"first_detail"`
	LastDetailOK time.Time `json:"last_detail_ok"`

	// PerSecond is a time series, one entry per second since Started.
	PerSecond []Second `json:"per_second"`
}

// Second is one second of traffic: requests finished in it by outcome, and
// the most requests in flight when one arrived in it.
type Second struct {
	Requests    int64 `json:"requests"`
	OK          int64 `json:"ok"`        // 2xx
	Throttled   int64 `json:"throttled"` // 429, 503, and the header quota's 403
	Errors      int64 `json:"errors"`    // everything else, resets included
	MaxInFlight int   `json:"max_in_flight"`
}

// Throttled is the number of requests answered 429, 503 or 403 (the header
// quota is the only source of 403).
func (st Stats) Throttled() int64 {
	return st.ByStatus[429] + st.ByStatus[503] + st.ByStatus[403]
}

// Unfetched returns, ascending, the item ids that never got a well-formed 200
// detail answer.
func (st Stats) Unfetched() []int {
	var ids []int
	for id := 1; id <= st.Items; id++ {
		if st.DetailOK[id] == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// recorder keeps the counters behind Stats.
type recorder struct {
	now       func() time.Time
	start     time.Time
	scenario  string
	clientKey string
	items     int
	broken    []int

	mu             sync.Mutex
	requests       int64
	byClass        map[Class]int64
	byStatus       map[int]int64
	faults         map[Fault]int64
	inFlight       int
	maxInFlight    int
	earlyRequests  int64
	robots         int64
	attempts       map[string]int
	waits          map[string]wait
	detailRequests map[int]int
	detailOK       map[int]int
	firstDetail    time.Time
	lastDetailOK   time.Time
	seconds        []Second
}

func newRecorder(sc *Scenario, clientKey string, start time.Time, now func() time.Time) *recorder {
	r := &recorder{
		now: now, start: start, scenario: sc.Name, clientKey: clientKey, items: sc.Items,
		byClass: map[Class]int64{}, byStatus: map[int]int64{}, faults: map[Fault]int64{},
		attempts: map[string]int{}, waits: map[string]wait{},
		detailRequests: map[int]int{}, detailOK: map[int]int{},
	}
	r.broken = sc.brokenItems()
	return r
}

// inFlightSlack is how long after an answer a request on another connection
// may arrive that its client sent before the answer reached it: a round trip
// on a loaded machine, where a request sent first can reach the handler
// after an answer written later.
const inFlightSlack = 5 * time.Millisecond

// wait is what a client was told: not to send before until, first at told
// (answers that lengthened the wait came later).
type wait struct{ told, until time.Time }

// arrive counts a request that arrived from client on cn (nil outside
// Start's server) for key (path and query); id is the item id of a detail
// request, else 0. It returns the attempt number at key: 1 for the first
// request to it.
func (r *recorder) arrive(client string, cn *conn, class Class, key string, id int, disallowed bool) int {
	t := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.byClass[class]++
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	sec := r.second(t)
	sec.MaxInFlight = max(sec.MaxInFlight, r.inFlight)
	first := cn != nil && !cn.used
	if cn != nil {
		cn.used = true
	}
	if r.early(client, cn, first, t) {
		r.earlyRequests++
	}
	if disallowed {
		r.robots++
	}
	if id > 0 && id <= r.items {
		r.detailRequests[id]++
	}
	if class == ClassDetail && r.firstDetail.IsZero() {
		r.firstDetail = t
	}
	r.attempts[key]++
	return r.attempts[key]
}

// finish counts the answer to a request: its status (0 for a reset), the
// fault injected if any, and whether a whole, well-formed body was sent.
func (r *recorder) finish(status int, fault Fault, id int, whole bool) {
	t := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	r.byStatus[status]++
	if fault != "" {
		r.faults[fault]++
	}
	sec := r.second(t)
	sec.Requests++
	switch {
	case status >= 200 && status < 300:
		sec.OK++
	case status == 429 || status == 503 || status == 403:
		sec.Throttled++
	default:
		sec.Errors++
	}
	if id > 0 && status == 200 && whole {
		r.detailOK[id]++
	}
	if id > 0 && status >= 200 && status < 300 {
		r.lastDetailOK = t
	}
}

// early says whether a request from client arriving at t on cn, the first
// on it or not, came while the client had been told to wait (see
// Stats.EarlyRequests); r.mu is held.
func (r *recorder) early(client string, cn *conn, first bool, t time.Time) bool {
	w := r.waits[client]
	switch {
	case !t.Before(w.until):
		return false
	case cn == nil:
		return true
	case t.Before(cn.until):
		return true // the client read the answer on this connection first
	case t.Sub(w.told) < inFlightSlack:
		return false
	default:
		return !first || !cn.accepted.Before(w.told)
	}
}

// tellWait notes that client was told on cn (nil outside Start's server),
// now, not to send before until.
func (r *recorder) tellWait(client string, cn *conn, until time.Time) {
	t := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if cn != nil && until.After(cn.until) {
		cn.until = until
	}
	w := r.waits[client]
	if !until.After(w.until) {
		return
	}
	if !t.Before(w.until) { // no wait stood: this answer is the first to tell
		w.told = t
	}
	w.until = until
	r.waits[client] = w
}

// second returns the series entry for t, growing the series; r.mu is held.
func (r *recorder) second(t time.Time) *Second {
	i := max(0, int(t.Sub(r.start)/time.Second))
	for len(r.seconds) <= i {
		r.seconds = append(r.seconds, Second{})
	}
	return &r.seconds[i]
}

func (r *recorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{
		Scenario: r.scenario, Started: r.start, ClientKey: r.clientKey,
		Requests: r.requests, ByClass: maps.Clone(r.byClass), ByStatus: maps.Clone(r.byStatus),
		Faults: maps.Clone(r.faults), InFlight: r.inFlight, MaxInFlight: r.maxInFlight,
		EarlyRequests: r.earlyRequests, RobotsViolations: r.robots, Items: r.items,
		BrokenItems: slices.Clone(r.broken), DetailRequests: maps.Clone(r.detailRequests),
		DetailOK: maps.Clone(r.detailOK), FirstDetail: r.firstDetail, LastDetailOK: r.lastDetailOK,
		PerSecond: slices.Clone(r.seconds),
	}
}
