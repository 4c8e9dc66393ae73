package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Defaults of the options.
const (
	DefaultQueueSize    = 256
	DefaultMaxConsumers = 256
	DefaultConsumers    = 4 // the limit followed when neither Job.WithLimiter nor WithLimitFunc is given
	DefaultDrainTimeout = 10 * time.Second
)

// pollInterval is how often the limit is read when no consumer finishes a
// task (consumers also read it after each task).
const pollInterval = 10 * time.Millisecond

// Option configures a Run with a setting that does not depend on the item
// type (those are a Job's methods). Options are checked when Run starts; an
// invalid one makes Run return an error that names it.
type Option func(*settings)

// settings collects the options before Run checks them. The settings that
// depend on the item type are a Job's.
type settings struct {
	errs []error

	queueSize    int
	maxConsumers int
	limitFunc    func() int
	timeout      time.Duration
	retry        Retry
	progressFn   func(Progress)
	progressIvl  time.Duration
	checkpointer Checkpointer
	drainTimeout time.Duration
	log          *zap.Logger
	clock        clockwork.Clock
}

func (s *settings) fail(format string, args ...any) {
	s.errs = append(s.errs, fmt.Errorf("engine: "+format, args...))
}

// WithLimitFunc makes the number of consumers follow limit(), read every few
// milliseconds and after each task; it should be cheap. Use it when the items
// have no host and an inner layer such as transport takes the permits:
// WithLimitFunc(l.Limit). Items then wait for their permits in the consumers.
func WithLimitFunc(limit func() int) Option {
	return func(s *settings) {
		if limit == nil {
			s.fail("WithLimitFunc: the limit function is nil")
			return
		}
		s.limitFunc = limit
	}
}

// WithMaxConsumers caps the number of consumers (the limit is clamped to
// [1, n]); default DefaultMaxConsumers.
func WithMaxConsumers(n int) Option {
	return func(s *settings) {
		if n < 1 {
			s.fail("WithMaxConsumers: %d must be >= 1", n)
			return
		}
		s.maxConsumers = n
	}
}

// WithQueueSize sets how many items may be read ahead of the consumers;
// default DefaultQueueSize. The same number bounds the items waiting for a
// retry (when that many wait, the source is not read). With
// Job.WithLimiter, the hosts' waiting rooms and the queue hold twice that
// together, all of it in the rooms when hosts push back: a run over many
// hosts where some push back wants it large enough to reach the others'
// items past theirs.
func WithQueueSize(n int) Option {
	return func(s *settings) {
		if n < 1 {
			s.fail("WithQueueSize: %d must be >= 1", n)
			return
		}
		s.queueSize = n
	}
}

// WithTaskTimeout gives each attempt a context deadline d after it starts;
// an attempt that fails after its deadline is a timeout, retried. Default:
// none. A timeout costs one context per attempt.
func WithTaskTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.fail("WithTaskTimeout: %v must be > 0", d)
			return
		}
		s.timeout = d
	}
}

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(r Retry) Option {
	return func(s *settings) {
		r, err := r.withDefaults()
		if err != nil {
			s.errs = append(s.errs, err)
			return
		}
		s.retry = r
	}
}

// WithProgress calls fn with a snapshot every interval and once when the run
// ends, from the goroutine that called Run; fn should return quickly. With
// it, consumers add to the counts after every attempt instead of in batches,
// so that each snapshot is exact.
func WithProgress(interval time.Duration, fn func(Progress)) Option {
	return func(s *settings) {
		if interval <= 0 || fn == nil {
			s.fail("WithProgress: an interval > 0 and a function are required, got %v", interval)
			return
		}
		s.progressIvl, s.progressFn = interval, fn
	}
}

// WithCheckpoint makes the run report its progress through the source to c.
func WithCheckpoint(c Checkpointer) Option {
	return func(s *settings) {
		if c == nil {
			s.fail("WithCheckpoint: the checkpointer is nil")
			return
		}
		s.checkpointer = c
	}
}

// WithDrainTimeout sets how long, after ctx is cancelled, the attempts in
// flight may run before their contexts are cancelled; default
// DefaultDrainTimeout.
func WithDrainTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d <= 0 {
			s.fail("WithDrainTimeout: %v must be > 0", d)
			return
		}
		s.drainTimeout = d
	}
}

// WithLogger sets the logger; default zap.NewNop(). Nothing is logged per
// task above debug level.
func WithLogger(l *zap.Logger) Option {
	return func(s *settings) {
		if l == nil {
			s.fail("WithLogger: the logger is nil")
			return
		}
		s.log = l
	}
}

// WithClock sets the clock of timeouts, backoff, the retry budget, progress
// and limit polling; default clockwork.NewRealClock().
func WithClock(c clockwork.Clock) Option {
	return func(s *settings) {
		if c == nil {
			s.fail("WithClock: the clock is nil")
			return
		}
		s.clock = c
	}
}

func newSettings(opts []Option) (*settings, error) {
	s := &settings{
		queueSize:    DefaultQueueSize,
		maxConsumers: DefaultMaxConsumers,
		drainTimeout: DefaultDrainTimeout,
		log:          zap.NewNop(),
		clock:        clockwork.NewRealClock(),
	}
	s.retry, _ = Retry{}.withDefaults()
	for _, o := range opts {
		if o == nil {
			s.fail("a nil Option was given")
			continue
		}
		o(s)
	}
	return s, errors.Join(s.errs...)
}
