// Package limiter decides when a request to a host may start.
//
// Each host (a key such as "api.example.com:443") needs three things before a
// request may start: its gate must be open (Retry-After, an exhausted quota),
// a token must be available in its token bucket when a rate applies, and a
// concurrency slot must be free under its adaptive concurrency limit.
//
// Most callers use [Limiter.Acquire] (or [Host.Acquire] when they hold the
// *Host) and release the returned [Permit] with the request's [Outcome].
// Simulations and event loops use the non-blocking core, [Host.TryAcquireAt]
// and [Permit.ReleaseAt], which take the time as a parameter.
//
// # Rate
//
// A host's bucket rate is the lowest of the user's ceiling (Config.Rate or
// [Host.SetCeiling]), the rate an announced quota allows ([Host.SetQuota]:
// what remains spread over the time to reset), and the rate learnt from
// Throttled outcomes when no quota is announced. With none of them the
// bucket is skipped entirely.
//
// # Concurrency
//
// Each host's concurrency limit starts at Config.Initial and is driven by a
// sampling loop in this package: samples are grouped in windows sized from
// the host's smoothed RTT (at least one RTT and a handful of samples), and
// each closed window is handed to the chosen algorithm. A Dropped or Throttled
// outcome closes the window at once, so the limit is cut when the first drop
// arrives, and then at most once per RTT.
//
// A cold host starts in slow start: the limit doubles every window while no
// drop is seen and the RTT stays at its baseline, grows more gently once the
// RTT starts rising, and on the first drop or a clear RTT rise it falls back
// to the largest in-flight level seen without queueing and hands over to the
// chosen algorithm.
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

// The algorithms that can be chosen in Config.Algorithm. The zero value ""
// selects the package's default strategy, described on Config.Algorithm.
const (
	AIMD      Algorithm = "aimd"
	Gradient2 Algorithm = "gradient2"
	Vegas     Algorithm = "vegas"
	Fixed     Algorithm = "fixed"
)

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
	// Algorithm is the concurrency algorithm after slow start. "" is the
	// default strategy: a delay-based controller of this package that grows
	// while the RTT stays near its baseline, holds while a small queue forms,
	// shrinks in proportion to the RTT rise beyond that, and cuts on drops.
	// Fixed keeps Initial and skips slow start.
	Algorithm Algorithm
	// Initial is the initial concurrency limit; default 4.
	Initial int
	// Min is the lowest concurrency limit; default 1.
	Min int
	// Max is the highest concurrency limit; default 256.
	Max int
	// RetryAfterMax caps any gate; default 5m.
	RetryAfterMax time.Duration
}

// withDefaults returns cfg with its zero fields defaulted, or an error naming
// the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	switch cfg.Algorithm {
	case "", AIMD, Gradient2, Vegas, Fixed:
	default:
		return cfg, fmt.Errorf("limiter: Config.Algorithm %q is not one of %q, %q, %q, %q or \"\"", cfg.Algorithm, AIMD, Gradient2, Vegas, Fixed)
	}
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
	if cfg.Initial == 0 {
		cfg.Initial = DefaultInitial
	}
	if cfg.Min == 0 {
		cfg.Min = DefaultMin
	}
	if cfg.Max == 0 {
		cfg.Max = DefaultMax
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
}

// New returns a Limiter for cfg, or an error naming the first invalid field.
func New(cfg Config, opts ...Option) (*Limiter, error) {
	cfg, err := cfg.withDefaults()
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
