package limiter

import (
	"time"

	"github.com/platinummonkey/go-concurrency-limits/core"
	"github.com/platinummonkey/go-concurrency-limits/limit"
)

// Default strategy tuning (see Config.Algorithm).
const (
	delayGrow     = 1.2              // RTT/base of which a larger rise shrinks the limit in proportion
	delayHold     = 1.1              // RTT/base from which the limit does not probe past the last drop's
	holdFloor     = time.Millisecond // a smaller rise is scheduling noise, not a queue (see queueBase)
	delayProbe    = 4                // windows just below the last drop's limit before probing beyond it
	delayProbeMax = 64               // at most, after drops at that limit again and again
	delayShrink   = 1.4              // RTT/base above which the limit shrinks
	delayStep     = 0.05             // growth per window, relative to the limit
	delayDrop     = 0.85             // the limit after a drop, relative to it
)

func newAlgorithm(cfg Config) algorithm {
	switch cfg.Algorithm {
	case AIMD:
		return &coreAlgorithm{make: func(n int) core.Limit {
			return limit.NewAIMDLimit("limiter", n, 0.9, 1, nil)
		}}
	case Gradient2:
		return &coreAlgorithm{make: func(n int) core.Limit {
			// Its only error is Min > Max, which New rejects.
			l, _ := limit.NewGradient2Limit("limiter", n, cfg.Max, cfg.Min, nil, 0.2, 600, nil, nil)
			return l
		}}
	case Vegas:
		return &coreAlgorithm{make: func(n int) core.Limit {
			return limit.NewVegasLimitWithRegistry("limiter", n, nil, cfg.Max, -1, nil, nil, nil, nil, nil, -1, nil, nil)
		}}
	case Fixed:
		return &coreAlgorithm{make: func(n int) core.Limit {
			return limit.NewFixedLimit("limiter", n, nil)
		}}
	}
	return &delayAlgorithm{}
}

// coreAlgorithm drives one of go-concurrency-limits' core.Limit algorithms
// from this package's windows: one OnSample per window with the window's
// mean RTT (the minimum hides queueing), its highest in-flight count and
// whether it saw a drop. No limit-change listener is registered.
type coreAlgorithm struct {
	make func(initial int) core.Limit
	lim  core.Limit
}

func (a *coreAlgorithm) window(w windowStats) float64 {
	a.lim.OnSample(w.start.UnixNano(), int64(w.mean), w.inFlight, w.drop)
	return float64(a.lim.EstimatedLimit())
}

func (a *coreAlgorithm) reset(n float64) { a.lim = a.make(max(1, int(n))) }

// knee does nothing: go-concurrency-limits' algorithms keep no such level.
func (a *coreAlgorithm) knee(float64) {}

// delayAlgorithm is the default strategy: grow while the RTT stays near its
// baseline, hold while a small queue forms, shrink in proportion to the RTT
// rise beyond that, cut on drops. It remembers the limit of the last drop:
// after a cut it returns quickly to just below it, and probes beyond it only
// after a few windows there, since a server that answers overload before
// any queue shows (an in-flight cap) gives no other warning. Each probe
// refused at that level again doubles the windows before the next one.
// A refusal that closed no gate cuts only to just below its level.
type delayAlgorithm struct {
	wmax  float64 // the limit when the last drop came, 0 if none
	at    int     // windows spent just below wmax since the last probe
	probe int     // windows to spend there before probing: doubles while drops come back at wmax
}

func (a *delayAlgorithm) window(w windowStats) float64 {
	l := w.limit
	ratio := w.ratio()
	// A move needs the window and the smoothed RTT to agree: a single
	// noisy window neither grows the limit past a small queue nor cuts it.
	hi, lo := max(ratio, w.smoothRatio()), min(ratio, w.smoothRatio())
	switch {
	case w.drop:
		if a.wmax > 0 && l <= a.wmax+1 {
			// A probe past the last drop's level was refused again: probe
			// less often.
			a.probe = min(2*a.probe, delayProbeMax)
		} else {
			a.probe = delayProbe
		}
		a.wmax, a.at = l, 0
		if w.refused > 0 {
			// A refusal without a gate (an in-flight cap) names its level.
			a.wmax = min(l, float64(w.refused))
		}
		l = max(l*delayDrop, min(l-1, float64(w.refused-1)))
	case ratio == 0:
	case lo > delayShrink:
		l *= max(0.5, delayGrow/lo)
	case w.inFlight < int(l) || hi >= delayGrow:
	case l+1 < a.wmax:
		// Back towards the level of the last drop, half the way a window.
		l = min(a.wmax-1, max(l+max(1, l*delayStep), l+(a.wmax-1-l)/2))
	case a.wmax > 0 && l < a.wmax+1 && (a.at < a.probe || hi >= delayHold && w.mean-w.base >= max(holdFloor, 2*w.stderr)):
		// Just below the last drop: probe beyond it only now and then, and
		// not while a queue shows (a small one may be all the server has).
		a.at++
	default:
		a.at = 0
		l += max(1, l*delayStep)
	}
	return l
}

// knee takes the level where slow start ended as that of a drop.
func (a *delayAlgorithm) knee(l float64) { a.wmax, a.at, a.probe = l, 0, max(a.probe, delayProbe) }

// reset forgets the last drop's level when the limit is re-seeded far
// below it.
func (a *delayAlgorithm) reset(l float64) {
	if l < a.wmax*delayDrop*delayDrop {
		a.wmax, a.at = 0, 0
	}
}
