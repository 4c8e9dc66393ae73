package crawl

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/politely/politely/engine"
)

// LiveSummary gives the Summary of a running crawl, for a caller that must
// report before Run returns (a second interrupt that exits at once). Pass
// it to Run with WithLiveSummary. The zero value is ready; it is safe for
// concurrent use.
type LiveSummary struct {
	current atomic.Pointer[func() Summary]
}

// Summary returns the counters of the crawl so far, marked Interrupted,
// and false before Run has started the crawl. Item counts are as of the
// last progress snapshot (at most the progress interval old); requests,
// retries and throttled answers are exact.
func (l *LiveSummary) Summary() (Summary, bool) {
	fn := l.current.Load()
	if fn == nil {
		return Summary{}, false
	}
	return (*fn)(), true
}

// WithLiveSummary makes Run keep l's Summary current while it runs.
func WithLiveSummary(l *LiveSummary) RunOption { return func(o *runOptions) { o.live = l } }

// current is this run's Summary so far, built from the counters that are
// safe to read while the crawl runs.
func (r *runner) current() Summary {
	var p engine.Progress
	if last := r.last.Load(); last != nil {
		p = *last
	}
	sum := Summary{
		Pages:          r.listing.pages.Load(),
		Items:          p.Read,
		Succeeded:      p.Succeeded,
		Failed:         p.Failed,
		Requests:       r.meter.requests.Load(),
		Retries:        r.retries(),
		Throttled:      r.meter.throttled.Load(),
		MaxConcurrency: r.meter.maxInFlight.Load(),
		FinalLimit:     r.lim.Limit(),
		DurationS:      math.Round(time.Since(r.began).Seconds()*1000) / 1000,
		Interrupted:    true,
	}
	if r.state != nil && r.state.journal != nil {
		sum = r.state.wholeCrawl(sum, r.totals(), max(0, p.Read-p.Succeeded-p.Failed))
	}
	return sum
}
