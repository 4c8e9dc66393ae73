package benchmarks

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/mockapi"
)

// Scenario is one mock service and the work a run does against it: Work detail
// requests (ids 1..Work), stopped at Cap if unfinished.
type Scenario struct {
	Name string
	Mock mockapi.Scenario
	// Work is the number of items (detail requests that must succeed) of a run.
	Work int
	// Cap bounds a run: what is unfinished then is counted as not done.
	Cap time.Duration
	// Settle is how long after the start and after each capacity step goodput
	// is not yet counted as steady state.
	Settle time.Duration
	// Extra strategies run only in this scenario (the HTTP overhead reference).
	Extra []Strategy
	// Strategies, when set, run in this scenario instead of those Run is given
	// (the crawl scenarios' CrawlStrategies).
	Strategies []Strategy
	// Rounds, when over 1, runs every strategy of the scenario that many
	// times, the strategies' order rotated each round, and keeps each
	// one's median run by items/s (see Run): a scenario bound by the client's
	// own CPU (the fast mock, two cores shared with the server) spreads by a
	// fifth from one run to the next, where its targets ask for 5%.
	Rounds int
}

// fastRounds is the Rounds of the scenarios against the fast mock.
const fastRounds = 3

// Optimum is the best goodput the scenario allows at since after the server started,
// in items/s; +Inf for an unlimited service.
func (sc Scenario) Optimum(since time.Duration) float64 { return sc.Mock.OptimumAt(since) }

// Steps are the times after the server started at which the optimum
// changes: each capacity step, and a blackout's start and end.
func (sc Scenario) Steps() []time.Duration {
	steps := make([]time.Duration, 0, len(sc.Mock.Capacity.Schedule)+2)
	for _, st := range sc.Mock.Capacity.Schedule {
		steps = append(steps, st.At)
	}
	if b := sc.Mock.Blackout; b.For > 0 {
		steps = append(steps, b.At, b.At+b.For)
	}
	slices.Sort(steps)
	return steps
}

// Kind says which client stack a Strategy runs.
type Kind int

const (
	// KindPolitely is the real client stack: engine over transport over limiter.
	KindPolitely Kind = iota + 1
	// KindFixedPool is the classic pattern: the engine with a fixed number of
	// consumers and a plain net/http client (no limiter, no adaptive limit).
	KindFixedPool
	// KindNetHTTP is a bare fixed pool of goroutines sharing a plain net/http
	// client, no engine: the reference of the HTTP overhead comparison.
	KindNetHTTP
	// KindCrawl is the whole crawler, `politely crawl` through Strategy.Crawl:
	// robots.txt, the listing, a request per item and the output files.
	KindCrawl
)

func (k Kind) String() string {
	switch k {
	case KindPolitely:
		return "politely"
	case KindFixedPool:
		return "fixed-pool"
	case KindNetHTTP:
		return "net/http"
	case KindCrawl:
		return "crawl"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Strategy is one way of running a scenario's work.
type Strategy struct {
	Name string
	Kind Kind
	// Algorithm is the limiter's algorithm (KindPolitely); "" is the default strategy.
	Algorithm limiter.Algorithm
	// Consumers is the fixed concurrency of KindFixedPool and KindNetHTTP, and
	// the initial limit of KindPolitely (0: limiter.DefaultInitial).
	Consumers int
	// Crawl runs KindCrawl's crawls; State gives them a state directory.
	Crawl Crawler
	State bool
}

// Baseline is the name of the strategy every other is compared with.
const Baseline = "fixed-50"

// Default is the name of the limiter's default strategy.
const Default = "default"

// Overhead strategies: the same concurrency with and without politely's stack.
const (
	OverheadPolitely = "politely-fixed-50"
	OverheadNetHTTP  = "net/http-50"
)

// Strategies are the strategies every scenario runs, the baseline first.
func Strategies() []Strategy {
	return []Strategy{
		{Name: Baseline, Kind: KindFixedPool, Consumers: 50},
		{Name: "aimd", Kind: KindPolitely, Algorithm: limiter.AIMD},
		{Name: "gradient2", Kind: KindPolitely, Algorithm: limiter.Gradient2},
		{Name: "vegas", Kind: KindPolitely, Algorithm: limiter.Vegas},
		{Name: Default, Kind: KindPolitely},
	}
}

// overheadStrategies compare politely's whole stack at a fixed 50 with a bare net/http pool of 50.
func overheadStrategies() []Strategy {
	return []Strategy{
		{Name: OverheadPolitely, Kind: KindPolitely, Algorithm: limiter.Fixed, Consumers: 50},
		{Name: OverheadNetHTTP, Kind: KindNetHTTP, Consumers: 50},
	}
}

// QuickScale is the scale of `politely bench --quick`.
const QuickScale = 0.08

// Suite returns the benchmark scenarios. The full suite (scale 1) sizes each
// run at 15 s of optimal work (30 s for the capacity step, whose steps come at
// 10 s and 20 s), capped at 1.5 times that plus a second; scale shrinks the
// work, the caps and the step times in proportion, and below 1 the header
// quota's window becomes 1 s (100 per window, the same optimum).
func Suite(scale float64) ([]Scenario, error) {
	if !(scale > 0 && scale <= 1) {
		return nil, fmt.Errorf("benchmarks: scale %v: want 0 < scale <= 1", scale)
	}
	preset := func(name string) mockapi.Scenario {
		sc, err := mockapi.Preset(name)
		if err != nil {
			panic(err) // the presets named here exist: a test runs Suite
		}
		return sc
	}
	seconds := func(d float64) time.Duration { return time.Duration(d * scale * float64(time.Second)) }
	work := func(sc mockapi.Scenario, d float64) int { return int(math.Round(sc.Optimum() * d * scale)) }

	quota := preset("quota")
	capacity := preset("capacity")
	step := preset("capacity-step")
	header := preset("header-quota")
	if scale < 1 {
		sched := step.Capacity.Schedule
		parts := make([]string, len(sched))
		for i := range sched {
			sched[i].At = time.Duration(float64(sched[i].At) * scale)
			parts[i] = fmt.Sprintf("%d slots at %s", sched[i].Slots, sched[i].At)
		}
		step.Description = "capacity, stepping to " + strings.Join(parts, ", then ")
		// A 5 s window would let a short run take its whole work in one burst.
		header.HeaderQuota = mockapi.HeaderQuota{Limit: 100, Window: time.Second}
		header.Description = "GitHub style: 100 requests per 1 s window in X-RateLimit-* headers, 403 when used up (optimum 100 req/s)"
	}
	fast := preset("fast")

	settle := max(seconds(2), 3*SampleInterval)
	// A run that is not done at 1.5 times its optimal time is stopped.
	capOf := func(d float64) time.Duration { return seconds(1.5*d) + time.Second }
	levels := Result{Optimum: []Level{{At: 0, PerSec: step.Optimum()}}}
	for _, st := range step.Capacity.Schedule {
		levels.Optimum = append(levels.Optimum, Level{At: st.At, PerSec: step.OptimumAt(st.At)})
	}
	stepWork := levels.expected(0, seconds(30))
	suite := []Scenario{
		{Name: "quota", Mock: quota, Work: work(quota, 15), Cap: capOf(15), Settle: settle},
		{Name: "capacity", Mock: capacity, Work: work(capacity, 15), Cap: capOf(15), Settle: settle},
		{Name: "capacity-step", Mock: step, Work: int(math.Round(stepWork)), Cap: capOf(30), Settle: settle},
		{Name: "header-quota", Mock: header, Work: work(header, 15), Cap: capOf(15), Settle: settle},
		{Name: "fast", Mock: fast, Work: int(math.Round(100_000 * scale)), Cap: capOf(15), Settle: settle, Extra: overheadStrategies(), Rounds: fastRounds},
	}
	return suite, nil
}

// Select keeps the scenarios named in names, in suite order; no names keeps them all.
// An unknown name is an error that lists the known ones.
func Select(suite []Scenario, names []string) ([]Scenario, error) {
	if len(names) == 0 {
		return suite, nil
	}
	known := make([]string, len(suite))
	for i, sc := range suite {
		known[i] = sc.Name
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("benchmarks: unknown scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	var out []Scenario
	for _, sc := range suite {
		if slices.Contains(names, sc.Name) {
			out = append(out, sc)
		}
	}
	return out, nil
}
