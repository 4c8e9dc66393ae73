package limiter

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// maxRate is the highest rate a bucket is given; above it the bucket is
// skipped as if no rate applied.
const maxRate = 1e9

// Rate learning from Throttled outcomes when no quota is announced.
const (
	learnCut       = 0.9   // the learnt rate after a throttle, relative to the measured success rate
	learnProbe     = 0.005 // upward probe per second while no throttle is seen
	learnFreeProbe = 1.0   // upward probe per second when no Retry-After came with the throttles
	goodputWindow  = 250 * time.Millisecond
)

// pace is a host's rate: the lowest of the user's ceiling, the announced
// quota and the learnt rate, enforced by a token bucket that exists only
// while a rate applies.
type pace struct {
	cfgBurst int
	ceiling  float64 // user's ceiling, 0 = none
	quota    float64 // rate the announced quota allows, 0 = none
	quotaEnd time.Time
	learnt   float64 // rate learnt from throttles, 0 = none
	cur      float64 // the bucket's rate, 0 = no bucket
	curBurst int
	bucket   *rate.Limiter
	drain    bool // drop saved-up tokens when the gate opens

	// success rate measured over windows of goodputWindow
	gpStart   time.Time
	gpCount   int
	goodput   float64
	lastProbe time.Time
}

func (p *pace) init(cfg Config) {
	p.cfgBurst = cfg.Burst
	p.ceiling = cfg.Rate
}

// effective returns the rate to apply and whether it comes from the ceiling.
func (p *pace) effective(now time.Time) (float64, bool) {
	r, fromCeiling := p.ceiling, true
	if p.quota > 0 && now.Before(p.quotaEnd) && (r == 0 || p.quota < r) {
		r, fromCeiling = p.quota, false
	}
	if p.learnt > 0 && (r == 0 || p.learnt < r) {
		r, fromCeiling = p.learnt, false
	}
	if r > maxRate {
		r = 0
	}
	return r, fromCeiling
}

// apply makes the bucket follow the effective rate.
func (p *pace) apply(now time.Time) {
	r, fromCeiling := p.effective(now)
	if r == 0 {
		p.bucket, p.cur = nil, 0
		return
	}
	burst := p.cfgBurst
	if burst == 0 {
		burst = 1
		if fromCeiling {
			burst = max(1, int(r/10))
		}
	}
	switch {
	case p.bucket == nil:
		p.bucket = rate.NewLimiter(rate.Limit(r), burst)
	case r != p.cur || burst != p.curBurst:
		p.bucket.SetLimitAt(now, rate.Limit(r))
		if burst != p.curBurst {
			p.bucket.SetBurstAt(now, burst)
		}
	}
	p.cur, p.curBurst = r, burst
}

// take takes a token at now, or returns when one will be available.
func (p *pace) take(now time.Time) (time.Time, bool) {
	if p.drain {
		// Cap what was saved up during the pause at one token.
		p.bucket.SetBurstAt(now, 1)
		p.bucket.SetBurstAt(now, p.curBurst)
		p.drain = false
	}
	if p.bucket.AllowN(now, 1) {
		return time.Time{}, true
	}
	missing := 1 - p.bucket.TokensAt(now)
	d := time.Duration(math.Ceil(missing / p.cur * float64(time.Second)))
	return now.Add(max(d, time.Nanosecond)), false
}

// onGate notes a pause: saved-up tokens must not burst out when it ends.
func (p *pace) onGate(now time.Time, c *control) {
	p.drain = p.bucket != nil && p.curBurst > 1
}

func (p *pace) setQuota(now time.Time, q Quota) {
	left := q.Reset.Sub(now)
	if left <= 0 {
		p.quota, p.quotaEnd = 0, time.Time{}
		return
	}
	p.quota = float64(q.Remaining) / left.Seconds()
	if p.quota == 0 {
		p.quota = math.SmallestNonzeroFloat64
	}
	p.quotaEnd = q.Reset
	p.learnt = 0 // an announced quota replaces what was learnt
}

// onThrottle cuts the learnt rate relative to the measured success rate.
func (p *pace) onThrottle(now time.Time, c *control) {
	if p.quota > 0 && now.Before(p.quotaEnd) {
		return
	}
	gp := p.goodput
	if gp == 0 {
		return
	}
	r := learnCut * gp
	if p.learnt == 0 || r < p.learnt {
		p.learnt = r
	}
	p.lastProbe = now
}

// onWindow measures the success rate and probes the learnt rate upward; it
// reports whether the rate to apply changed.
func (p *pace) onWindow(now time.Time, c *control) bool {
	if p.gpStart.IsZero() {
		p.gpStart = now
	}
	el := now.Sub(p.gpStart)
	if el < goodputWindow {
		return false
	}
	p.goodput = float64(c.successesSince) / el.Seconds()
	c.successesSince = 0
	p.gpStart = now
	if p.learnt == 0 {
		return p.quota > 0 && !now.Before(p.quotaEnd)
	}
	dt := now.Sub(p.lastProbe).Seconds()
	p.lastProbe = now
	p.learnt *= 1 + learnProbe*dt
	if p.learnt > 4*p.goodput {
		p.learnt = 0 // far out of the way: forget it
	}
	return true
}
