package limiter

import (
	"time"

	"go.uber.org/zap"
)

// Gate closes the host's gate until the given time (a Retry-After): no
// Acquire of this host returns before it. The time is capped at
// now+Config.RetryAfterMax (with a warning); a time in the past is ignored,
// and a gate never moves earlier.
func (h *Host) Gate(until time.Time) {
	now := h.l.clock.Now()
	h.GateAt(now, until)
}

// GateAt is Gate at the time now.
func (h *Host) GateAt(now, until time.Time) {
	if !until.After(now) {
		return
	}
	if limit := now.Add(h.l.cfg.RetryAfterMax); until.After(limit) {
		// The asked time is not logged: it comes from a response header.
		h.l.log.Warn("limiter: gate capped at RetryAfterMax",
			zap.String("host", h.key), zap.Duration("cap", h.l.cfg.RetryAfterMax))
		until = limit
	}
	h.mu.Lock()
	if until.After(h.gateUntil) {
		h.gateUntil = until
	}
	h.pace.onGate(now, h.gateUntil)
	h.applyRateLocked(now)
	h.mu.Unlock()
	// Shared after it holds here: this process's requests that read the
	// shared gate meanwhile find it already known (see sharedGate).
	if h.l.shared != nil {
		h.shareGate(until)
	}
}

// longWait is the shortest wait for a host's next request that is logged: a
// crawl must not sit silent behind a server's long pause or slow rate.
const longWait = 30 * time.Second

// noteWaitLocked warns, once per wait, that the host's next request waits
// from now until at for the reason why, when that is longWait or more. A
// wait the user's own ceiling (or a robots.txt Crawl-delay) sets is not
// told.
func (h *Host) noteWaitLocked(now, at time.Time, why string) {
	if at.Sub(now) < longWait || !at.After(h.pace.warned) {
		return
	}
	h.pace.warned = at
	h.l.log.Warn("limiter: host waits for its next request",
		zap.String("host", h.key), zap.String("why", why), zap.Duration("wait", at.Sub(now).Round(time.Second)))
}

// Quota is a quota announced by the server.
type Quota struct {
	Limit     int           // requests per window, 0 = unknown
	Remaining int           // requests left until Reset
	Reset     time.Time     // when Remaining refills
	Window    time.Duration // the window Limit applies to (RateLimit-Policy's w), 0 = unknown
}

// SetQuota applies an announced quota. The host learns from successive
// quotas how this one refills: where Remaining jumps back up when Reset
// passes (a fixed window), the rate is Remaining spread over the time to
// Reset and Remaining == 0 closes the gate until Reset; where it climbs
// before Reset or does not jump at it (a token bucket, a sliding window),
// the rate is the quota's steady rate (Limit over the window between
// Resets, or the refill measured from Remaining and the requests sent) plus
// what Remaining holds above a reserve of Limit/20, and Remaining == 0
// pauses for one request's worth. A bucket whose Remaining was never above
// 1 (a bucket of a token or two, which says 0 or 1 whatever the rate it is
// sent at) tells no rate: the host learns it from its throttles, as where
// no quota is announced. A bucket whose Remaining stays at least
// the refill until Reset counts what it allows until Reset, refill
// included: it is spread, less one, over the time to Reset. Until it
// knows, it reads the quota as a fixed window. The rate is never above the
// ceiling, nor above Limit/Window when both are known (but for that last
// spread, the server's own figure), and
// the spread is over at most RetryAfterMax; gates are capped like Gate. A
// Reset that is not in the future lifts the quota's rate, or with a known
// window sets it to Limit/Window. A throttle that comes while the quota
// held more than the requests in flight could take shows a limit the
// headers do not describe: the host learns it as where no quota is
// announced, keeps it under later quotas and paces at the lower of the
// two. A negative Remaining is ignored with a warning.
func (h *Host) SetQuota(q Quota) {
	h.SetQuotaAt(h.l.clock.Now(), q)
}

// SetQuotaAt is SetQuota at the time now.
func (h *Host) SetQuotaAt(now time.Time, q Quota) {
	if q.Remaining < 0 {
		h.l.log.Warn("limiter: quota with a negative Remaining ignored", zap.String("host", h.key))
		return
	}
	h.mu.Lock()
	pause := h.pace.setQuota(now, q, h.l.cfg.RetryAfterMax, h.ctl.seq, h.inFlight-h.ledLocked())
	h.applyRateLocked(now)
	h.mu.Unlock()
	if !pause.IsZero() {
		h.GateAt(now, pause)
	}
}

// ForgetRate drops what the host's throttles taught it where no quota is
// announced: its learnt rate and what its learner recorded. A caller that
// finds those throttles were another limit's (an endpoint limited apart
// from the host's other requests) calls it; the host's next throttle is
// then learnt from as its first. A gate already closed stays.
func (h *Host) ForgetRate() {
	now := h.l.clock.Now()
	h.mu.Lock()
	if h.pace.pushback != nil {
		h.pace.forgetLearnt(now, h.ctl.seq)
	}
	h.applyRateLocked(now)
	h.mu.Unlock()
}

// SetCeiling lowers or raises this host's rate ceiling (e.g. a robots.txt
// Crawl-delay), in requests/s; 0 goes back to the host's Config.Rate. A negative or
// non-finite rate is ignored with a warning.
func (h *Host) SetCeiling(rate float64) {
	now := h.l.clock.Now()
	if !(rate >= 0) || rate > maxRate {
		h.l.log.Warn("limiter: SetCeiling with an invalid rate ignored", zap.String("host", h.key), zap.Float64("rate", rate))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if rate == 0 {
		rate = h.configuredRate()
	}
	h.pace.ceiling = rate
	h.applyRateLocked(now)
}
