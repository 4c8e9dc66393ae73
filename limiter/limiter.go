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
// allows ([Host.SetQuota]), and the rate learnt from Throttled outcomes. With
// none of them the bucket is skipped entirely. A gate is a "paused until"
// time checked before a token is taken; the bucket's rate is never set to 0,
// and tokens saved up during a pause are dropped when it ends, so no burst
// follows a Retry-After. On a host that no rate paces, the first permits
// after a gate opens are paced too: the concurrency limit's worth is spread
// over one smoothed RTT (10 ms before the host has one), so requests parked
// during the gate start one after the other, not together.
//
// Where no quota is announced (or only a bucket of a token or two, whose
// Remaining says nothing of its rate), throttles with a Retry-After teach
// the rate, the server taken for a token bucket, whose burst is whole
// tokens. When the first comes within a few
// RTTs of the first request of the host's work (a cold start's burst), the
// successes before it tell the server's burst; after its gate the rate
// starts at twice what the server admitted over that time and doubles every
// 100 ms while the host uses it, and when the next throttle's gate ends the
// rate is set to 99% of the lowest at which a bucket of that burst,
// refilled during the gate, admits every request sent since, at the times
// they started; the pacer then keeps half the burst, and the rate probes
// upward by 0.1% a second. A later record that such a bucket admits at any
// rate tells no rate: refused as its gate ended (the server down), it keeps
// the rate; with only the one request the refilled token admitted, it cuts
// 1%, and halves the rate when the next record does the same; no record
// cuts more than half. Against a bucket of one token the interval after a
// gate's first permit is stretched by half. Otherwise (and where that record held fewer than
// 8 requests, 3 against a burst of one token, or the burst came out mostly
// refill) the first throttle sets it to 95% of what the server allowed since the start (or of the rate the
// client was sending at, if it was still ramping up), then the rate probes
// upward by 30% a second; a throttle while paced sets it to 95% of the
// server's rate estimated from the successes since the last gate, after
// which it probes by 0.1% a second (30% again if that episode was too short
// to tell); where the record came out mostly refill, the rate after its gate
// is that estimate, but at most 99% of the lowest at which a bucket as large
// as the first episode's admitted requests admits the record (the first
// episode bounds the burst, so that rate is under the server's). A throttle
// without a Retry-After is first a
// concurrency signal; a rate is learnt only when throttles go on at a lower
// in-flight count than the last cut, and the refused request started with
// fewer in flight than the refusals that cut answered (0.9× the lowest), or
// at a level that was admitted since: an in-flight cap refuses by the count
// in flight, so its refusals start at the same level again. After 12
// windows that filled the concurrency limit with no cut or rise, such a
// throttle above the floor, with no rate learnt but such a one, is loss
// instead (a share refused at any load): the limit is cut to 85% as for a
// bare 503 there, and no rate is learnt from it. A learnt rate
// is forgotten once it is twice the success rate. No quota's or learnt rate
// paces a host slower than a request per Config.RetryAfterMax, and a host
// whose next request waits 30 s or more for a gate or for such a rate logs
// a warning naming it and the wait.
//
// # Concurrency
//
// Latency samples are grouped in windows of about one smoothed RTT (at
// least 1 ms and a handful of samples, up to 10); a Dropped or Throttled
// outcome closes the window at once and cuts the limit, at most once per
// RTT (drops of requests started before a cut do not cut again). When many
// permits are out, Acquire times only 32 to 64 of them per window. A permit
// whose latency is not like the host's work is released unsampled
// ([Permit.Unsampled], [Permit.Excluding]).
//
// A cold host starts in slow start: each window whose RTT stays within 10%
// of the baseline (beyond its own noise) raises the limit to 1.15× the
// in-flight level that runs without a queue (the in-flight level over the
// window's RTT ratio, a rise within the noise included), counting only the
// permits started once the current limit was full (those that fill a raised
// limit may find free slots that a full one would not). So the limit does
// not jump, as doubling would, past a server's slots plus a queue of 15% of
// them, where an overload answer with a Retry-After would close the gate. A
// rise of 10% held for two windows ends slow start at the level the rise
// says runs without a queue (the in-flight level over the RTT ratio); a drop
// or a rise of 50% ends it at the largest level seen without queueing.
// When a window's answers agree within 2% (a server with steady service
// times, whose requests start and end together), the requests beyond its
// slots come back a whole service time after the rest: such a window waits
// until the level's first permits are 1.25 baselines old, and the permits
// still out then, or back only after that, count as a rise.
//
// RTT rises are measured against a baseline of at least 5 ms, so on a faster
// service a rise under 1 ms is taken as scheduling noise, not queueing.
// After slow start, a window's RTT is the mean of its answers but those
// that took 4× the baseline or more, unless those are most of the window:
// a queue delays every answer that waits in it, a server's heavy tail (a
// few answers many times slower than the rest) only some.
//
// After slow start the default strategy ([Auto]) is delay-based with a loss
// cut: it grows by 5% a window while the mean RTT is below 1.2× the baseline
// and the limit is used, holds between 1.2× and 1.4× (a small queue keeps
// the server busy), shrinks in proportion beyond 1.4×, and cuts to 85% on a
// drop; it grows or shrinks only when the window's RTT and the smoothed RTT
// agree. It keeps the limit of the last drop (or where slow start saw a
// queue form): below it, it climbs back half the way a window; just below
// it, it probes beyond it only after four windows and not while the RTT is
// 1.1× the baseline or more (a server whose queue is a quarter of its slots
// shows no more than 1.25×). The baseline follows lower window means a
// quarter of the way and drifts up towards higher ones with a 30 s time
// constant; until 20 samples it is their mean, leaving out windows that rose
// beyond the noise. A cut for a rise is taken back when the next window's
// RTT held within half the fall a queue would show: the limit returns, is
// kept as a knee, and the baseline rises so that the window reads 1.15×;
// where slow start ended at its first level on a queue, a cut for a rise
// at the level it fell back to (one that runs without a queue if the
// first had one) takes the limit back to that first level so instead. A
// window with one request in flight raises the baseline so rather than cut,
// or than hold a limit of one (a request alone waits behind none of ours).
// AIMD, Gradient2, Vegas and Fixed are go-concurrency-limits' algorithms,
// fed one sample per window and re-seeded after slow start and when
// clamped to [Min, Max]; after a drop
// every adaptive algorithm ends at most at 90% of its limit. Fixed keeps
// Initial and skips slow start.
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
	// Burst is the token bucket's burst under the user's ceiling (Rate, or
	// Host.SetCeiling); 0 means rate/10, at least 1. Under a rate that comes
	// from a quota or was learnt from throttling, the burst is the limiter's
	// own: 1 (pacing, so a server that just refused us is not hit by a
	// burst), or half of what the server is known to hold beyond its rate
	// (so a pacer that woke late catches up); while a ceiling is set, at
	// most Burst.
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
	// RetryAfterMax caps any gate, and the wait between two requests that
	// a quota's or a learnt rate sets; default 5m.
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
func WithClock(c clockwork.Clock) Option {
	return func(l *Limiter) { l.clock, l.realClock = c, false }
}

// WithLogger sets the logger; default zap.NewNop().
func WithLogger(lg *zap.Logger) Option { return func(l *Limiter) { l.log = lg } }

// Limiter holds the per-host state of the hosts it has seen. It is safe for
// concurrent use; beyond WithMaxHosts hosts, idle ones are forgotten.
type Limiter struct {
	cfg       Config
	clock     clockwork.Clock
	realClock bool // the default clock: since reads the monotonic clock alone
	log       *zap.Logger
	// late returns how many of the process's threads waited for a CPU, or
	// of its goroutines to run, lately (see lateness), nil where the clock
	// is not the real one: the process's wait says nothing of a clock's
	// time that is not the process's.
	late func(now time.Time) float64

	hosts sync.Map // string -> *Host
	mu    sync.Mutex
	count atomic.Int64 // hosts created
	total atomic.Int64 // sum of every host's concurrency limit

	shared    Shared // nil: this process's limits only
	sharedErr sharedState

	hostCfgs map[string]Config // WithHostConfigs
	idle     idleHosts         // guarded by mu
}

// New returns a Limiter for cfg, or an error naming the first invalid field.
func New(cfg Config, opts ...Option) (*Limiter, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg, clock: clockwork.NewRealClock(), realClock: true, log: zap.NewNop(), idle: idleHosts{max: DefaultMaxHosts}}
	for _, o := range opts {
		o(l)
	}
	if l.clock == nil {
		return nil, fmt.Errorf("limiter: WithClock(nil): a clock is required")
	}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	if err := l.checkHostConfigs(); err != nil {
		return nil, err
	}
	if err := l.idle.check(); err != nil {
		return nil, err
	}
	if l.realClock {
		if lt := newLateness(runQueueWait, schedLatency); lt != nil {
			l.late = lt.threads
		}
	}
	l.listenShared()
	return l, nil
}

// since returns the time elapsed since t by the Limiter's clock. With the
// real clock and a t read from it, that reads the monotonic clock alone,
// about half the cost of Now, which reads the wall clock too.
func (l *Limiter) since(t time.Time) time.Duration {
	if l.realClock {
		return time.Since(t)
	}
	return l.clock.Since(t)
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
	l.keepLocked(h)
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
