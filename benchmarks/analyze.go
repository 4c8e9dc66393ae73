package benchmarks

import (
	"time"
)

// T90Window is how long goodput must hold 90% of the optimum to count as reached.
const T90Window = 500 * time.Millisecond

// Goodput is the items per second of the run.
func (r Result) Goodput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Items) / r.Elapsed.Seconds()
}

// CPUPerItem is the process's CPU time per item that succeeded; 0 when
// either is unknown.
func (r Result) CPUPerItem() time.Duration {
	if r.Items <= 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Items)
}

// Limited reports whether the scenario has a finite optimum.
func (r Result) Limited() bool { return len(r.Optimum) > 0 }

// OptimumAt is the optimum in items/s at t after the server started; 0 when unlimited.
func (r Result) OptimumAt(t time.Duration) float64 {
	opt := 0.0
	for _, l := range r.Optimum {
		if t < l.At {
			break
		}
		opt = l.PerSec
	}
	return opt
}

// expected is the number of items the optimum allows between from and to.
func (r Result) expected(from, to time.Duration) float64 {
	total := 0.0
	for i, l := range r.Optimum {
		end := to
		if i+1 < len(r.Optimum) {
			end = min(end, r.Optimum[i+1].At)
		}
		start := max(from, l.At)
		if end > start {
			total += l.PerSec * (end - start).Seconds()
		}
	}
	return total
}

// Ratio is the items done over the items the optimum allows in the run's time; 0 when unlimited.
// Under a fixed window (Window) it is the time a client spreading each
// window's Limit over the window needs for the run's requests, over the run's
// time: such a window gives its whole Limit to the first window however little
// of it is left, so the items it allows do not follow the run's time.
func (r Result) Ratio() float64 {
	if r.Window != nil && r.Elapsed > 0 {
		perItem := r.PerItem
		if perItem <= 0 {
			perItem = 1
		}
		if t := r.Window.ideal(float64(r.Items) / perItem); t > 0 {
			return t.Seconds() / r.Elapsed.Seconds()
		}
	}
	exp := r.expected(0, r.Elapsed)
	if exp <= 0 {
		return 0
	}
	return float64(r.Items) / exp
}

// bucket is the goodput between two samples.
type bucket struct {
	from, to time.Duration
	items    int64
}

func (b bucket) rate() float64 { return float64(b.items) / (b.to - b.from).Seconds() }

func (r Result) buckets() []bucket {
	var bs []bucket
	for i := 1; i < len(r.Samples); i++ {
		a, b := r.Samples[i-1], r.Samples[i]
		if b.At > a.At {
			bs = append(bs, bucket{from: a.At, to: b.At, items: b.Items - a.Items})
		}
	}
	return bs
}

// settled reports whether t is at least settle after the start and after every level change.
func (r Result) settled(t, settle time.Duration) bool {
	if t < settle {
		return false
	}
	for _, l := range r.Optimum {
		if t >= l.At && t < l.At+settle {
			return false
		}
	}
	return true
}

// SteadyRatio is the goodput over the optimum in steady state: leaving out the
// first Settle after the start and after each capacity step, and the last two
// sample intervals (the last items finish with fewer in flight). It is 0 when
// the scenario is unlimited or the run left no steady state.
func (r Result) SteadyRatio() float64 {
	var items int64
	exp := 0.0
	for _, b := range r.buckets() {
		if !r.settled(b.from, r.Settle) || b.to > r.Elapsed-2*SampleInterval {
			continue
		}
		items += b.items
		exp += r.expected(b.from, b.to)
	}
	if exp <= 0 {
		return 0
	}
	return float64(items) / exp
}

// T90 is the time from `from` until the goodput reaches 90% of the optimum:
// the end of the first sample interval of the first stretch of T90Window
// (cut short by the next capacity step or the run's end) whose goodput is at
// least 90% of what the optimum allows in it. ok is false when it never does
// before the next step, or the scenario is unlimited.
func (r Result) T90(from time.Duration) (d time.Duration, ok bool) {
	if !r.Limited() {
		return 0, false
	}
	until := r.Elapsed
	for _, l := range r.Optimum {
		if l.At > from {
			until = min(until, l.At)
			break
		}
	}
	bs := r.buckets()
	for i, b := range bs {
		if b.from < from || b.to > until {
			continue
		}
		var items int64
		end := b.from
		for _, c := range bs[i:] {
			if c.to > until || c.to-b.from > T90Window {
				break
			}
			items += c.items
			end = c.to
		}
		if exp := r.expected(b.from, end); exp > 0 && float64(items) >= 0.9*exp {
			return b.to - from, true
		}
	}
	return 0, false
}

// Steps are the times at which the optimum changes after the start.
func (r Result) Steps() []time.Duration {
	var steps []time.Duration
	for _, l := range r.Optimum[min(1, len(r.Optimum)):] {
		steps = append(steps, l.At)
	}
	return steps
}

// GoodputSeries is the goodput over time, each point the mean over the
// trailing window (at least one sample interval), for plots.
func (r Result) GoodputSeries(window time.Duration) []Point {
	var pts []Point
	for i, s := range r.Samples {
		j := i
		for j > 0 && s.At-r.Samples[j-1].At <= window {
			j--
		}
		if j == i {
			continue
		}
		dt := s.At - r.Samples[j].At
		pts = append(pts, Point{At: s.At, Value: float64(s.Items-r.Samples[j].Items) / dt.Seconds()})
	}
	return pts
}

// LimitSeries is the concurrency limit over time.
func (r Result) LimitSeries() []Point {
	pts := make([]Point, len(r.Samples))
	for i, s := range r.Samples {
		pts[i] = Point{At: s.At, Value: float64(s.Limit)}
	}
	return pts
}

// ThrottledPct is the share of the server's answers that were 429, 503 or 403, in percent.
func (r Result) ThrottledPct() float64 { return pct(r.Throttled, r.Requests) }

// ErrorPct is the share of the server's other non-2xx answers, in percent.
func (r Result) ErrorPct() float64 { return pct(r.Errors, r.Requests) }

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// RatioUntil is the requests the run needed that the server answered in
// the first d of the run (the items done, and a crawl's listing pages) over
// what the optimum allows in it, with the count at d interpolated between
// samples; 0 when unlimited or d is past the run's end. Over a whole crawl
// that reads one page per PerItem's share of items it is Ratio; over a part
// of it, it counts the pages read ahead as the server did.
func (r Result) RatioUntil(d time.Duration) float64 {
	exp := r.expected(0, d)
	if exp <= 0 || d > r.Elapsed {
		return 0
	}
	perItem := r.PerItem
	if perItem <= 0 {
		perItem = 1
	}
	done := func(s Sample) float64 { return float64(s.Items) + float64(s.Pages) }
	var n float64
	for i, s := range r.Samples {
		if s.At >= d {
			n = done(s)
			if i > 0 {
				p := r.Samples[i-1]
				n = done(p) + (done(s)-done(p))*float64(d-p.At)/float64(s.At-p.At)
			}
			break
		}
	}
	return n * perItem / exp
}
