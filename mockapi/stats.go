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
	// A request counts only if its client sent it after it could have read
	// the answer. A client sends a request on an HTTP/1 connection only once
	// it has read the answer to the one before on it, so what a request
	// followed is what the server had written on its connection before it:
	// a request on the connection that carried the answer, after it, counts;
	// one on another connection counts if the answer before it on that
	// connection was written inFlightSlack or more after the one that told
	// the client to wait was written (the client had read something written
	// that much later); the first on a connection counts if the server
	// accepted the connection that long after. Others, up to readSlack
	// after the answer was written, were sent by a client that may not have
	// read it yet: a loaded client reads the answers waiting on its
	// connections in no particular order, and a loaded server reads a
	// request long after it was sent. Past readSlack every request in the
	// wait counts. On an HTTP/2 connection, whose requests are streams sent
	// while answers are on their way, only that rule counts a request.
	// Outside Start's server every request in the wait counts, those on
	// their way included.
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

// inFlightSlack is how much later than the answer that told its client to
// wait another answer must be written for the client to be taken to have read
// them in that order (see Stats.EarlyRequests): a loaded client reads the
// answers that reached it together in no particular order. Traces of crawls
// on 2 cores at a load of 1-8 with busy loops: the client read the 503 0.1 to
// 17 ms after it was written, and before it answers written up to 15 ms after
// it (at a cold start; up to 2.4 ms otherwise).
const inFlightSlack = 20 * time.Millisecond

// readSlack bounds inFlightSlack's rule: a request that reaches the handler
// this long after the answer that told its client to wait was written counts
// whatever it followed on its connection, so that a client that ignores the
// wait is counted from its first request on each connection it kept open.
// The traces above: the client read the answer within 17 ms, the server a
// request within 93 ms of its writing.
const readSlack = 250 * time.Millisecond

// wait is what a client was told: not to send before until, first by the
// answer written at told (answers that lengthened the wait came later); by
// is that answer's connection until it is written (told is then when it was
// decided), nil after, and outside Start's server.
type wait struct {
	told, until time.Time
	by          *conn
}

// arrive counts a request that arrived from client on cn (nil outside
// Start's server), a stream of an HTTP/2 connection if mux, for key (path
// and query); id is the item id of a detail request, else 0. It returns the
// attempt number at key: 1 for the first request to it.
func (r *recorder) arrive(client string, cn *conn, mux bool, class Class, key string, id int, disallowed bool) int {
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
		cn.multiplexed = cn.multiplexed || mux
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

// finish counts the answer to a request from client on cn (nil outside
// Start's server): its status (0 for a reset), the fault injected if any,
// and whether a whole, well-formed body was sent.
func (r *recorder) finish(client string, cn *conn, status int, fault Fault, id int, whole bool) {
	t := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if cn != nil {
		cn.answered = t
		if w := r.waits[client]; w.by == cn {
			w.told, w.by = t, nil // the answer that told the client to wait is written
			r.waits[client] = w
		}
	}
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
// on it or not, came while the client had been told to wait and was sent
// after it could have read that (see Stats.EarlyRequests); r.mu is held.
func (r *recorder) early(client string, cn *conn, first bool, t time.Time) bool {
	w := r.waits[client]
	switch {
	case !t.Before(w.until):
		return false
	case cn == nil:
		return true
	case t.Before(cn.until) && !cn.multiplexed:
		// The client read the answer on this connection first: an HTTP/1
		// connection carries its next request only after that answer, an
		// HTTP/2 one its streams at once.
		return true
	case w.by != nil:
		return false // the answer is not written yet
	case t.Sub(w.told) >= readSlack:
		// However its connection was used, no client is that late to read
		// an answer, nor a server to read a request: one that sends during
		// a wait on a connection it last read from before the answer counts.
		return true
	case cn.multiplexed:
		// A stream sent while answers were on their way on its connection:
		// nothing tells which of them the client had read.
		return false
	}
	// What the client had read when it sent this request: an answer on this
	// connection, or (the first on it) nothing since it opened it.
	after := cn.answered
	if first || after.IsZero() {
		after = cn.accepted
	}
	return !after.Before(w.told.Add(inFlightSlack))
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
		w.told, w.by = t, cn
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
