package limiter

import (
	"github.com/platinummonkey/go-concurrency-limits/core"
	"github.com/platinummonkey/go-concurrency-limits/limit"
)

// Default strategy tuning (see Config.Algorithm).
const (
	delayGrow   = 1.2  // RTT/base below which the limit grows
	delayShrink = 1.4  // RTT/base above which the limit shrinks
	delayStep   = 0.05 // growth per window, relative to the limit
	delayDrop   = 0.85 // the limit after a drop, relative to it
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

// delayAlgorithm is the default strategy: grow while the RTT stays near its
// baseline, hold while a small queue forms, shrink in proportion to the RTT
// rise beyond that, cut on drops.
type delayAlgorithm struct{}

func (a *delayAlgorithm) window(w windowStats) float64 {
	l := w.limit
	ratio := w.ratio()
	switch {
	case w.drop:
		l *= delayDrop
	case ratio == 0:
	case ratio > delayShrink:
		l *= max(0.5, delayGrow/ratio)
	case ratio < delayGrow && w.inFlight >= int(l):
		l += max(1, l*delayStep)
	}
	return l
}

// reset does nothing: the strategy keeps no state of its own.
func (a *delayAlgorithm) reset(float64) {}
