package benchmarks

import (
	"math"
	"slices"
	"time"
)

// Host roles in a ManyHostsResult.
const (
	RoleHealthy   = "healthy"
	RoleFaulty    = "faulty"
	RoleBlackout  = "blackout"
	RoleSlow      = "slow"
	RoleQuota     = "quota"
	RoleBlackHole = "black hole"
	RoleFlaky     = "flaky"
	RoleRefusing  = "refusing"
	RoleTarpit    = "tarpit"
	RoleRedirect  = "redirecting"
)

// HostResult is what one host of the many-host scenario got.
type HostResult struct {
	Host     string        // host:port
	Role     string        // RoleHealthy, RoleBlackout or RoleSlow
	Items    int           // its items
	Done     int           // its items answered 200 and written to the output
	Last     time.Duration // when its last item was done, after the crawl started
	Ideal    time.Duration // the least time its items need (a blackout included)
	Optimum  float64       // its best goodput in items/s
	Early    int64         // requests that arrived while it had told the client to wait
	Served   int           // most requests it had in flight, as it counted them
	Sent     int           // most requests the crawl had open to it at once (sent, answer not yet read to its end)
	Refused  int64         // its 429 and 503 answers
	Capacity int           // its slots and queue (0: unlimited)

	// FirstListed is when the listing page holding its first item was
	// read, after the crawl started (0 if not read), and LastListed the
	// page holding its last item (0 if not read); FirstSent when its
	// first request (its robots.txt) was sent, FirstItemSent its first
	// item's, and FirstDone when its first item was done (0 if none).
	FirstListed, LastListed, FirstSent, FirstItemSent, FirstDone time.Duration

	// Answered is the time its fastest tenth of items' answers took as
	// the crawl read them, from the request's start to its body's end
	// (those waited in no queue at the server), and Service its service
	// time (0 if none was read): on a loaded machine the crawl and the
	// mock servers, in one process, run late, and even these answers take
	// longer than the server's own time.
	Answered, Service time.Duration
}

// Goodput is the host's items per second from when it could serve (after a
// blackout) to its last item.
func (h HostResult) Goodput(blackout time.Duration) float64 {
	from := time.Duration(0)
	if h.Role == RoleBlackout {
		from = blackout
	}
	if h.Last <= from {
		return 0
	}
	return float64(h.Done) / (h.Last - from).Seconds()
}

// GoodputListed is the host's items per second from when its first item
// was listed (or, for a gated host, its blackout's end if later) to its last
// item: the pace it kept once it had work, without the listing's and
// robots.txt's wait before it. Goodput, from the crawl's start, is the
// figure a user's stopwatch reads; this one tells the host's own pace from
// the crawl's start-up.
func (h HostResult) GoodputListed(blackout time.Duration) float64 {
	from := h.FirstListed
	if h.Role == RoleBlackout {
		from = max(from, blackout)
	}
	if h.Last <= from {
		return 0
	}
	return float64(h.Done) / (h.Last - from).Seconds()
}

// ListingAllowed is the most items per second the listing's measured pace
// let the host do from the crawl's start: its optimum, or, where the
// listing handed it its items more slowly, its items over when the last
// of them was listed (it can finish no sooner). 0 if its last item's page
// was not read or it has no optimum.
func (h HostResult) ListingAllowed() float64 {
	if h.Optimum <= 0 || h.LastListed <= 0 {
		return 0
	}
	return min(h.Optimum, float64(h.Items)/h.LastListed.Seconds())
}

// ManyHostsResult is a run of the many-host scenario.
type ManyHostsResult struct {
	Scenario ManyHosts
	Hosts    []HostResult
	Elapsed  time.Duration // the whole crawl, listing included
	Ideal    time.Duration // the slowest host's Ideal
	Listed   time.Duration // when the listing's last page was read, after the crawl started
	Lost     int           // items not done, but for black holes' and flaky hosts'
	GaveUp   int           // black holes' items not done (none can be)
	Holes    failedByWhy   // black holes' items in the failed file, by why
	Refused  failedByWhy   // refusing hosts' items in the failed file, by why
	Tarpit   failedByWhy   // tarpits' items in the failed file, by why
	Redirect failedByWhy   // redirecting hosts' items in the failed file, by why
	Flaky    failedByWhy   // flaky hosts' items in the failed file, by why
	Err      error         // the crawl's error, if any

	// ReadAhead is the most items the listing had handed the crawl that
	// were not yet done (done: its answer's body read to its end; an item
	// that failed counts as not done, so this is at most that many too
	// high), ReadAheadCap how many politely crawl reads ahead at most
	// before its reader waits for the hosts, and MaxTotal its
	// limits.concurrency.max_total (see ListingBound).
	ReadAhead, ReadAheadCap, MaxTotal int

	// CPU is the CPU time the process used during the crawl, the mock
	// servers' (in the same process) included; 0 where it is not known
	// (see cputime.Known). Requests counts the requests the crawl sent,
	// Dials the connections it opened for them, and HTTP2 the requests
	// answered over HTTP/2.
	CPU                    time.Duration
	Requests, Dials, HTTP2 int
}

// WorstHealthyRatio is the lowest goodput over optimum of the healthy hosts.
func (r ManyHostsResult) WorstHealthyRatio() float64 {
	return r.worstHealthy(HostResult.Goodput)
}

// WorstHealthyListedRatio is the lowest goodput over optimum of the healthy
// hosts, each counted from when its first item was listed (GoodputListed).
func (r ManyHostsResult) WorstHealthyListedRatio() float64 {
	return r.worstHealthy(HostResult.GoodputListed)
}

// ListingBound reports whether the listing never waited for the hosts, so
// that its pace bounded theirs, not they its pace. The crawl holds an item
// from its listing until its handler is done, after its body's end: at
// most MaxTotal items at once are between the two, so it held at most
// ReadAhead + MaxTotal, and below ReadAheadCap its reader never waited.
func (r ManyHostsResult) ListingBound() bool {
	return r.ReadAheadCap > 0 && r.Listed > 0 && r.ReadAhead+r.MaxTotal < r.ReadAheadCap
}

// WorstHealthyListingRatio is the lowest goodput (from the crawl's start)
// over what the listing's pace allowed (ListingAllowed) of the healthy
// hosts, or 0 if the listing may have waited for the hosts (see
// ListingBound) or a healthy host's last item was not listed.
func (r ManyHostsResult) WorstHealthyListingRatio() float64 {
	if !r.ListingBound() {
		return 0
	}
	worst := math.Inf(1)
	for _, h := range r.Hosts {
		if h.Role != RoleHealthy {
			continue
		}
		allowed := h.ListingAllowed()
		if allowed <= 0 {
			return 0
		}
		worst = min(worst, h.Goodput(0)/allowed)
	}
	if math.IsInf(worst, 1) {
		return 0
	}
	return worst
}

// worstHealthy is the lowest goodput(h, 0) over optimum of the healthy hosts.
func (r ManyHostsResult) worstHealthy(goodput func(HostResult, time.Duration) float64) float64 {
	worst := math.Inf(1)
	for _, h := range r.Hosts {
		if h.Role == RoleHealthy {
			worst = min(worst, goodput(h, 0)/h.Optimum)
		}
	}
	return worst
}

// HealthyAnswered is the median over the healthy hosts of their Answered
// over their Service (0 if none was read): about 1 where the crawl read
// answers as soon as the server's time allows, more where the process ran
// late.
func (r ManyHostsResult) HealthyAnswered() float64 {
	var over []float64
	for _, h := range r.Hosts {
		if h.Role == RoleHealthy && h.Service > 0 && h.Answered > 0 {
			over = append(over, h.Answered.Seconds()/h.Service.Seconds())
		}
	}
	if len(over) == 0 {
		return 0
	}
	slices.Sort(over)
	return over[len(over)/2]
}

// MostSentOverCapacity is the most requests the crawl had open at once to a
// host beyond that host's slots and queue (0: never more).
func (r ManyHostsResult) MostSentOverCapacity() int {
	over := 0
	for _, h := range r.Hosts {
		if h.Capacity > 0 {
			over = max(over, h.Sent-h.Capacity)
		}
	}
	return over
}

// healthyAt counts the healthy hosts that kept at least ratio of their optimum.
func (r ManyHostsResult) healthyAt(ratio float64) int {
	n := 0
	for _, h := range r.Hosts {
		if h.Role == RoleHealthy && h.Goodput(0)/h.Optimum >= ratio {
			n++
		}
	}
	return n
}

// TimeRatio is the crawl's time over the ideal.
func (r ManyHostsResult) TimeRatio() float64 { return r.Elapsed.Seconds() / r.Ideal.Seconds() }

// GatedEarly is the number of requests the gated hosts received before the
// Retry-After they had given.
func (r ManyHostsResult) GatedEarly() int64 {
	var n int64
	for _, h := range r.Hosts {
		if h.Role == RoleBlackout {
			n += h.Early
		}
	}
	return n
}
