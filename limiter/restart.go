package limiter

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// restartSpread is the time a restart spreads a full concurrency limit over
// when the host has no RTT yet.
const restartSpread = 10 * time.Millisecond

// restart paces the first requests after a gate opens on a host that no rate
// paces: the concurrency limit's worth of permits is spread over one
// smoothed RTT (burst 1), the rate at which that limit runs anyway once its
// requests come back, instead of all of them at the instant the gate opens.
// It also keeps the level a host held before an outage (see Host.outageLocked)
// to go back to when the server answers again.
type restart struct {
	bucket *rate.Limiter
	left   int32 // permits still paced; 0: no restart under way
	// before is the concurrency limit, rounded down, when the current run of
	// cuts began (the first drop that cut it since a request taken after
	// the last cut succeeded), 0 if none; slow is whether slow start was on
	// then, and alone is set once a refusal without a gate of a request
	// sent with no other in flight came in that run: the server refused
	// every level, an outage, not a capacity.
	before      uint16
	slow, alone bool
}

// begin starts pacing n permits over spread (restartSpread if zero).
func (s *restart) begin(n int, spread time.Duration) {
	if n <= 1 {
		s.left = 0
		return
	}
	if spread <= 0 {
		spread = restartSpread
	}
	n = min(n, math.MaxInt32)
	s.bucket = rate.NewLimiter(rate.Limit(float64(n)/spread.Seconds()), 1) // full: the first permit goes at once
	s.left = int32(n)
}

func (s *restart) active() bool { return s.left > 0 }

// stop ends the restart (a rate now paces the host).
func (s *restart) stop() { s.left, s.bucket = 0, nil }

// take takes the restart's next place at now, or returns when it comes.
func (s *restart) take(now time.Time) (time.Time, bool) {
	if s.bucket.AllowN(now, 1) {
		if s.left--; s.left == 0 {
			s.bucket = nil
		}
		return time.Time{}, true
	}
	missing := 1 - s.bucket.TokensAt(now)
	d := math.Ceil(missing / float64(s.bucket.Limit()) * float64(time.Second))
	return now.Add(time.Duration(max(1, d))), false
}
