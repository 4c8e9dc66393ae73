package transport

import (
	"net/http"
	"sync"
	"time"
)

// A server's clock is read from the Date header of its answers, to put its
// absolute times (an epoch Reset, a Retry-After date) on ours. Date is
// truncated to the second and sent before the answer arrives, so one
// answer's offset (our clock at arrival minus Date) is the true offset plus
// up to a second plus the network's delay: it errs late. Taken alone it
// reads a window's end up to a second late, which is a whole window of a
// quota counted per second. The lowest offset a host's recent answers gave
// errs late by only the least of those remainders.
const (
	// clockEpoch is how long a host's lowest offset is kept before it is
	// taken afresh, so that a drifting clock is followed; the estimate is
	// the lowest of the current and the previous epoch.
	clockEpoch = 30 * time.Second
	// clockStep is how far above the estimate one answer's offset must be
	// to show that the server's clock stepped back (truncation and delay
	// cannot explain it); the estimate then starts again from that answer.
	clockStep = time.Second + 250*time.Millisecond
	// maxClocks bounds the hosts whose clocks are estimated; other hosts'
	// offsets are read from each answer alone.
	maxClocks = 4096
)

// serverClocks estimates each host's clock offset from its answers.
type serverClocks struct {
	mu    sync.Mutex
	hosts map[string]*clockEstimate
}

// clockEstimate is one host's lowest offsets in the current and previous epoch.
type clockEstimate struct {
	epoch     time.Time // when the current epoch began, on our clock
	cur, prev time.Duration
	hasPrev   bool
}

// offset notes the offset of host's answer h received at now and returns
// the host's estimate, never more than the answer's own offset; 0 without a
// valid Date.
func (c *serverClocks) offset(host string, h http.Header, now time.Time) time.Duration {
	o, ok := dateOffset(h, now)
	if !ok {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.hosts[host]
	if e == nil {
		if len(c.hosts) >= maxClocks {
			return o
		}
		if c.hosts == nil {
			c.hosts = make(map[string]*clockEstimate)
		}
		c.hosts[host] = &clockEstimate{epoch: now, cur: o}
		return o
	}
	if now.Sub(e.epoch) >= clockEpoch {
		e.prev, e.hasPrev, e.cur, e.epoch = e.cur, true, o, now
	}
	est := e.cur
	if e.hasPrev {
		est = min(est, e.prev)
	}
	if o > est+clockStep {
		*e = clockEstimate{epoch: now, cur: o}
		return o
	}
	e.cur = min(e.cur, o)
	return min(est, o)
}

// clockRef is where an answer's server offset comes from: a Transport's
// estimate for the host, or (without one) the answer's Date alone. It is
// asked only when an absolute time must be converted.
type clockRef struct {
	clocks *serverClocks // nil: the answer alone
	host   string
	h      http.Header
	now    time.Time
}

func (r clockRef) offset() time.Duration {
	if r.clocks == nil {
		o, _ := dateOffset(r.h, r.now)
		return o
	}
	return r.clocks.offset(r.host, r.h, r.now)
}
