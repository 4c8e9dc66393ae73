// Package limiter decides when a request to a host may start.
//
// Each host (a key such as "api.example.com:443") needs three things before a
// request may start: its gate must be open (Retry-After, an exhausted quota),
// a token must be available in its token bucket when a rate applies, and a
// concurrency slot must be free under its adaptive concurrency limit.
//
// Most callers use [Limiter.Acquire] (or [Host.Acquire] when they hold the
// *Host, which saves a map lookup) and release the returned [Permit] with the
// request's [Outcome]. Event loops and simulations use the non-blocking core,
// [Host.TryAcquireAt] and [Permit.ReleaseAt], which take the time as a
// parameter; Acquire is built on it and parks callers in a FIFO queue whose
// head alone waits, on a release or on the time the gate or bucket names.
//
// # Rate
//
// A host's bucket rate (golang.org/x/time/rate) is the lowest of the user's
// ceiling (Config.Rate, [Host.SetCeiling]), the rate an announced quota
// allows ([Host.SetQuota]: Remaining spread over the time to Reset), and the
// rate learnt from Throttled outcomes. With none of them the bucket is
// skipped entirely. A gate is a "paused until" time checked before a token is
// taken; the bucket's rate is never set to 0, and tokens saved up during a
// pause are dropped when it ends, so no burst follows a Retry-After.
//
// # Concurrency
//
// Samples are grouped in windows sized from the host's smoothed RTT: a window
// closes after one smoothed RTT once it holds a handful of samples (up to
// 10), so 20 ms requests get windows of about 20 ms and 1 s tasks windows of
// about 1 s. A Dropped or Throttled outcome closes the window at once, even
// one without a single success, so the limit is cut when the first drop
// arrives; drops of requests that started before that cut do not cut again
// (the cut already answered the load they were part of), so a burst of 429s
// costs one cut per RTT, not one per 429. The window after a change is
// skipped: it mostly holds requests started under the old limit.
//
// A window lasts at least 1 ms, however short the tasks: a shorter one says
// nothing useful about a network service. A window needs only a handful of
// timed samples, so once windows hold more than 64 permits (many in flight,
// or tasks far shorter than 1 ms) Acquire times one permit in a power of two,
// chosen from the rate at which the last window handed them out so that a
// window holds 32 to 64 timed permits. The others cost no clock read (under
// a rate Acquire still reads it for the bucket). Drops close a window
// whether or not their permit was timed. TryAcquireAt's permits are always
// timed: their caller gives the time.
//
// A cold host starts in slow start: the limit doubles every other window
// while the window's mean RTT stays within 10% of the baseline. Once the RTT
// rises 10% or more (a queue is forming at the server) it stops growing: it
// holds the limit for a window (one noisy window does not end it), and if
// the next window's RTT is up too, slow start ends at the in-flight level
// the rise says runs without a queue (the limit over the RTT ratio) or the
// largest level seen without queueing, whichever is higher. On the first
// drop or a rise of 50% it falls back to that largest level. Stopping when the queue starts to
// form keeps slow start below the server's slots + queue, where an overload
// answer with a Retry-After would close the gate for a whole second.
//
// RTT rises are measured against a baseline of at least 5 ms: on a faster
// service a rise under 1 ms (0.5 ms for slow start's doubling) is taken as
// scheduling noise, not queueing, so the default strategy's thresholds below
// are rises of 1 ms and 2 ms there. Services of 5 ms and slower are not
// affected.
//
// The default strategy (Config.Algorithm "") is delay-based with a loss cut:
// it grows by 5% a window while the mean RTT is below 1.2× the baseline and
// the limit is used, holds between 1.2× and 1.4× (a small queue at the
// server keeps it busy), shrinks in proportion beyond 1.4×, and cuts to 85%
// on a drop. The baseline RTT follows lower window means half-way and drifts
// up towards higher ones with a 30 s time constant. AIMD, Gradient2, Vegas
// and Fixed are go-concurrency-limits' core.Limit algorithms, fed one sample
// per window (the window's mean RTT, its highest in-flight count and whether
// it saw a drop) and re-seeded after slow start and when clamped to
// [Min, Max]; after a window with a drop every adaptive algorithm ends at
// most at 90% of its limit (Gradient2 ignores drops and Vegas barely reacts,
// so the cut is enforced). Fixed keeps Initial and skips slow start.
//
// # Learning the rate from throttles
//
// Where no quota is announced, a Throttled outcome teaches the host's rate.
// A throttle that comes with a Retry-After (released while a Gate holds, or
// followed by a Gate within 10 ms) ends an episode: the time since the end
// of the previous such gate (or since the first request). Every such
// throttle costs a whole gate (Retry-After is often in whole seconds), so
// the learning tries to need few of them:
//
//   - The first sets the rate to 95% of the episode's success rate. That
//     rate comes from a client still ramping up, so it may be far from the
//     server's: the rate then probes upward by 30% a second (while it is the
//     binding limit) until a throttle comes while it paces the host.
//   - A throttle while paced estimates the server's rate assuming its bucket
//     held about 0.1 s of its rate when the gate ended: the episode's
//     successes over its duration plus 0.1 s; and when the probe carried the
//     rate across the server's during the episode, at least the rate at the
//     end less the overshoot that draining such a bucket takes. The rate
//     becomes 95% of that (and at most 95% of the rate that was refused), then
//     probes upward by 0.1% a second.
//
// A throttle without a Retry-After is first a concurrency signal: in the
// capacity model (slots and a queue, 429 beyond) 429s mean too many requests
// in flight, and cutting the concurrency limit ends them. A rate is learnt
// only when throttles go on at a lower in-flight count than the last one that
// cut the limit; it is then 95% of the recent success rate, probes upward by
// 50% a second, and is forgotten once it is twice the success rate. So it
// never lingers below what a concurrency limit that holds the line achieves.
//
// # Simulation
//
// sim_test.go runs the limiter in virtual time against a capacity server
// (64 slots × 20 ms ±25%, 32 queued, 429 beyond), the same with capacity
// halving and doubling, a 1,000 req/s quota with and without quota headers,
// and politely bench's capacity mock (32 slots, 32 queued, 503 with a 1 s
// Retry-After beyond). TestSimulationDefaultMeetsTargets holds the default strategy to
// the targets; "go test ./limiter -run TestSimulationReport -simreport -v"
// prints every algorithm's figures.
package limiter

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Algorithm names the concurrency limit algorithm used after slow start.
type Algorithm string

// The algorithms that can be chosen in Config.Algorithm; Algorithms lists
// them. The zero value "" is Auto.
const (
	// Auto is the package's own strategy, the default: see Config.Algorithm.
	Auto      Algorithm = "auto"
	AIMD      Algorithm = "aimd"
	Gradient2 Algorithm = "gradient2"
	Vegas     Algorithm = "vegas"
	Fixed     Algorithm = "fixed"
)

// DefaultAlgorithm is the algorithm a zero Config.Algorithm selects.
const DefaultAlgorithm = Auto

// Algorithms returns the names Config.Algorithm accepts, the default first.
func Algorithms() []Algorithm { return []Algorithm{Auto, AIMD, Gradient2, Vegas, Fixed} }

// ParseAlgorithm returns the Algorithm named s ("" is DefaultAlgorithm), or
// an error that lists the names it accepts.
func ParseAlgorithm(s string) (Algorithm, error) {
	if s == "" {
		return DefaultAlgorithm, nil
	}
	if a := Algorithm(s); slices.Contains(Algorithms(), a) {
		return a, nil
	}
	names := make([]string, 0, 5)
	for _, a := range Algorithms() {
		names = append(names, string(a))
	}
	return "", fmt.Errorf("%q is not one of %s", s, strings.Join(names, "|"))
}

// Defaults applied to zero Config fields.
const (
	DefaultInitial       = 4
	DefaultMin           = 1
	DefaultMax           = 256
	DefaultRetryAfterMax = 5 * time.Minute
)

// Config applies to every host; the zero value is usable (each field
// documents its default).
type Config struct {
	// Rate is the requests/s ceiling per host; 0 means no ceiling (a server
	// quota and the learnt rate still apply).
	Rate float64
	// Burst is the token bucket's burst; 0 means 1 when the rate comes from a
	// quota or was learnt from throttling (pacing, so a server that just
	// refused us is not hit by a burst), and rate/10 (at least 1) under the
	// user's ceiling.
	Burst int
	// Algorithm is the concurrency algorithm after slow start; default
	// Auto, a delay-based controller of this package that grows while the
	// RTT stays near its baseline, holds while a small queue forms, shrinks
	// in proportion to the RTT rise beyond that, and cuts on drops.
	// AIMD (backoff 0.9, +1 per window), Gradient2 (queue 4, smoothing 0.2,
	// long window 600) and Vegas (the library's defaults) are
	// go-concurrency-limits' algorithms. Fixed keeps Initial and skips slow
	// start.
	Algorithm Algorithm
	// Initial is the initial concurrency limit; default 4 (brought into
	// [Min, Max]).
	Initial int
	// Min is the lowest concurrency limit; default 1.
	Min int
	// Max is the highest concurrency limit; default 256 (or Min, if higher).
	Max int
	// RetryAfterMax caps any gate; default 5m.
	RetryAfterMax time.Duration
}

// WithDefaults returns cfg with its zero fields set to their defaults (as
// New applies them), or an error naming the first invalid field.
func (cfg Config) WithDefaults() (Config, error) {
	a, err := ParseAlgorithm(string(cfg.Algorithm))
	if err != nil {
		return cfg, fmt.Errorf("limiter: Config.Algorithm %w", err)
	}
	cfg.Algorithm = a
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return cfg, fmt.Errorf("limiter: Config.Rate %v must be a finite number >= 0", cfg.Rate)
	}
	if cfg.Burst < 0 {
		return cfg, fmt.Errorf("limiter: Config.Burst %d must be >= 0", cfg.Burst)
	}
	if cfg.Initial < 0 {
		return cfg, fmt.Errorf("limiter: Config.Initial %d must be >= 0", cfg.Initial)
	}
	if cfg.Min < 0 {
		return cfg, fmt.Errorf("limiter: Config.Min %d must be >= 0", cfg.Min)
	}
	if cfg.Max < 0 {
		return cfg, fmt.Errorf("limiter: Config.Max %d must be >= 0", cfg.Max)
	}
	if cfg.RetryAfterMax < 0 {
		return cfg, fmt.Errorf("limiter: Config.RetryAfterMax %v must be >= 0", cfg.RetryAfterMax)
	}
	if cfg.Min == 0 {
		cfg.Min = DefaultMin
	}
	if cfg.Max == 0 {
		cfg.Max = max(DefaultMax, cfg.Min)
	}
	if cfg.Initial == 0 {
		cfg.Initial = min(max(DefaultInitial, cfg.Min), cfg.Max)
	}
	if cfg.RetryAfterMax == 0 {
		cfg.RetryAfterMax = DefaultRetryAfterMax
	}
	if cfg.Min > cfg.Max {
		return cfg, fmt.Errorf("limiter: Config.Min %d is above Config.Max %d", cfg.Min, cfg.Max)
	}
	if cfg.Initial < cfg.Min || cfg.Initial > cfg.Max {
		return cfg, fmt.Errorf("limiter: Config.Initial %d is outside [Min %d, Max %d]", cfg.Initial, cfg.Min, cfg.Max)
	}
	return cfg, nil
}

// Option wires a Limiter to its environment.
type Option func(*Limiter)

// WithClock sets the clock every host reads and waits on; default
// clockwork.NewRealClock().
func WithClock(c clockwork.Clock) Option { return func(l *Limiter) { l.clock = c } }

// WithLogger sets the logger; default zap.NewNop().
func WithLogger(lg *zap.Logger) Option { return func(l *Limiter) { l.log = lg } }

// Limiter holds the per-host state of every host it has seen. It is safe for
// concurrent use; hosts are never forgotten.
type Limiter struct {
	cfg   Config
	clock clockwork.Clock
	log   *zap.Logger

	hosts sync.Map // string -> *Host
	mu    sync.Mutex
	count atomic.Int64 // hosts created
	total atomic.Int64 // sum of every host's concurrency limit

	shared    Shared // nil: this process's limits only
	sharedErr sharedState
}

// New returns a Limiter for cfg, or an error naming the first invalid field.
func New(cfg Config, opts ...Option) (*Limiter, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg, clock: clockwork.NewRealClock(), log: zap.NewNop()}
	for _, o := range opts {
		o(l)
	}
	if l.clock == nil {
		return nil, fmt.Errorf("limiter: WithClock(nil): a clock is required")
	}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	return l, nil
}

// Host returns the state of the host key, creating it on first use. Callers
// that acquire often should keep the *Host: it saves a map lookup.
func (l *Limiter) Host(key string) *Host {
	if h, ok := l.hosts.Load(key); ok {
		return h.(*Host)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.hosts.Load(key); ok {
		return h.(*Host)
	}
	h := newHost(l, strings.Clone(key), l.clock.Now())
	l.total.Add(int64(h.limit))
	l.count.Add(1)
	l.hosts.Store(h.key, h)
	return h
}

// Acquire is l.Host(key).Acquire(ctx).
func (l *Limiter) Acquire(ctx context.Context, key string) (Permit, error) {
	return l.Host(key).Acquire(ctx)
}

// Limit returns the sum of the current concurrency limits of all hosts, or
// Config.Initial before any host exists.
func (l *Limiter) Limit() int {
	if l.count.Load() == 0 {
		return l.cfg.Initial
	}
	return int(l.total.Load())
}

// Snapshots returns a snapshot of every host, sorted by key.
func (l *Limiter) Snapshots() []Snapshot {
	var out []Snapshot
	l.hosts.Range(func(_, v any) bool {
		out = append(out, v.(*Host).Snapshot())
		return true
	})
	slices.SortFunc(out, func(a, b Snapshot) int { return strings.Compare(a.Key, b.Key) })
	return out
}
