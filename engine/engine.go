// Package engine runs a source through a handler with an elastic pool of consumers that follows a limit.
//
// One producer reads the source only when the bounded queue has room; the
// number of live consumers follows a limit (a *limiter.Limiter's, or any
// func() int) as it changes; each attempt may have a timeout; failed
// attempts are retried with capped exponential backoff and full jitter,
// within a retry budget, no earlier than a Retry-After; a panicking handler
// fails its item and the consumer lives on. Items that do not succeed reach a
// failure sink, progress is reported at an interval, and the low-water mark
// of the pages read is checkpointed so that an interrupted run can resume.
//
// With Job.WithLimiter, items whose host may not start wait in that host's
// waiting room, not in a consumer, the permit taken for an attempt is
// handed to the handler's first request to that host through its context,
// and consumers start as work waits for them, up to the limit.
//
// The settings that depend on the item type (the host of an item, the failure
// sink, the items to skip) are a Job's methods, so the compiler checks them
// against the source; the others are Options. Most callers want
// NewJob(src, fn).WithLimiter(l, key).Run(ctx, opts...).
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
)

// entry is an item on its way through the run. It travels by value.
type entry[T any] struct {
	item      source.Item[T]
	page      *page // nil unless checkpointing
	attempts  int
	throttled throttles // its throttled attempts: they spend none of MaxAttempts
	err       error     // the last attempt's error
}

// run is the state of one call to Run.
type run[T any] struct {
	src      source.Source[T]
	fn       func(context.Context, T) error
	clock    clockwork.Clock
	log      *zap.Logger
	timeout  time.Duration
	retry    Retry
	retryFor func(T) (Retry, bool) // nil: retry for every item
	budget   *budget
	lim      *limiter.Limiter
	key      func(T) string
	limit    func() int
	maxLive  int64
	sink     func(Failure[T])
	skip     func(source.Item[T]) bool
	tracker  *tracker // nil without a Checkpointer

	rooms     *rooms[T] // the hosts' waiting rooms, with a limiter; guarded by roomsMu
	roomsMu   sync.Mutex
	takeMu    sync.Mutex    // with rooms: held to take items from the queue, and taken before roomsMu
	hosts     *hostTable    // with rooms: the hosts of the items taken; guarded by takeMu
	met       *hostTable    // with rooms: the hosts of the items read; the producer's
	idleWake  chan struct{} // rooms, producer, scheduler -> idle consumers: a room may start, or an item arrived
	idle      atomic.Int64  // consumers that wait in awaitRoom, or are about to
	searching atomic.Int64  // consumers woken by signal that have not looked for a task yet
	holding   atomic.Int64  // consumers that hold a task: from taking it until its attempt ended
	rearm     chan struct{} // rooms -> alarm: an earlier time to wake rooms at

	queueSize   int
	drain       time.Duration
	progressFn  func(Progress)
	progressIvl time.Duration
	flushEvery  int64 // flushEvery, or 1 with progressFn

	readCtx     context.Context // reading the source and waiting for permits; ends when the run stops
	cancelRead  context.CancelFunc
	taskCtx     context.Context // the handlers' context: ends only at the drain timeout
	cancelTasks context.CancelFunc

	queue    chan entry[T]
	retries  chan waiting[T]               // consumers -> scheduler
	room     chan struct{}                 // scheduler, rooms -> producer: fewer items wait for a retry, or the rooms hold fewer
	wake     chan struct{}                 // consumers -> controller: the limit changed
	resized  atomic.Pointer[chan struct{}] // closed when the limit drops, to wake idle consumers
	done     <-chan struct{}               // readCtx.Done(): the run stops (ctx, an error, or the work is done)
	drained  chan struct{}                 // closed when every item read is finished and the source ended
	once     sync.Once
	abortErr error // set once, before readCtx is cancelled
	abort    sync.Once
	sinkMu   sync.Mutex

	wg        sync.WaitGroup // producer and scheduler
	consumers sync.WaitGroup

	mu       sync.Mutex // guards changes of live, free and most
	live     atomic.Int64
	target   atomic.Int64 // the clamped limit the controller last acted on
	free     []int        // unused slots
	most     int
	slots    []slot
	kept     []kept       // a slot's consumer state, kept for its later consumers
	srcErr   error        // written by the producer before it ends
	finished atomic.Int64 // items finished for good, flushed by consumers in batches

	_            [64]byte
	read         atomic.Int64 // items queued (not skipped); written by the producer only
	_            [56]byte
	producerDone atomic.Bool
	skipped      atomic.Int64
	pending      atomic.Int64 // items waiting for a retry
	lost         atomic.Int64 // items left unfinished outside the consumers
}

// flushEvery is how many attempts a consumer counts before it adds them to
// its slot and the shared counter; it also adds them whenever it finds the
// queue empty. A run that reports progress adds them after every attempt, so
// that every snapshot is exact.
const flushEvery = 64

// Run reads src and calls fn for each item's value until the source ends
// (io.EOF) and every item read has succeeded or failed for good, or until ctx
// is cancelled.
//
// When ctx is cancelled, Run stops reading, lets the attempts in flight
// finish for up to the drain timeout (then cancels their contexts), reports
// every item not finished to the failure sink as ReasonInterrupted, and
// returns Stats with Interrupted set and a nil error. A source error other
// than io.EOF ends the reading: the items read before it are finished, and
// Run returns the error wrapped. A checkpointer error ends the run like a
// cancellation and is returned wrapped.
//
// The handler's context carries ctx's values but is not cancelled with it:
// only by the task timeout and the drain timeout. Run returns once every
// goroutine it started has ended, so a handler that ignores its context, or
// a source whose Next ignores ctx, holds Run up.
func Run[T any](ctx context.Context, src source.Source[T], fn func(context.Context, T) error, opts ...Option) (Stats, error) {
	return NewJob(src, fn).Run(ctx, opts...)
}

// Run runs the job as the function Run does, with the job's settings and opts.
func (j Job[T]) Run(ctx context.Context, opts ...Option) (Stats, error) {
	if j.src == nil || j.fn == nil {
		return Stats{}, errors.New("engine: Run needs a source and a handler")
	}
	s, err := newSettings(opts)
	if j.lim != nil && s.limitFunc != nil {
		err = errors.Join(err, errors.New("engine: WithLimiter and WithLimitFunc both set the limit to follow; use one"))
	}
	if err = errors.Join(j.err, err); err != nil {
		return Stats{}, err
	}
	return newRun(j, s).run(ctx)
}

func newRun[T any](j Job[T], s *settings) *run[T] {
	r := &run[T]{
		src: j.src, fn: j.fn, clock: s.clock, log: s.log, timeout: s.timeout, retry: s.retry,
		budget: newBudget(s.retry), limit: s.limitFunc, maxLive: int64(s.maxConsumers),
		sink: j.sink, skip: j.skip, retryFor: j.retryFor,
		queueSize: s.queueSize, drain: s.drainTimeout, progressFn: s.progressFn, progressIvl: s.progressIvl,
		flushEvery: flushEvery,
		queue:      make(chan entry[T], s.queueSize),
		retries:    make(chan waiting[T]),
		room:       make(chan struct{}, 1),
		wake:       make(chan struct{}, 1),
		drained:    make(chan struct{}),
		slots:      make([]slot, s.maxConsumers),
		kept:       make([]kept, s.maxConsumers),
		free:       make([]int, 0, s.maxConsumers),
	}
	for i := s.maxConsumers - 1; i >= 0; i-- {
		r.free = append(r.free, i)
	}
	if r.progressFn != nil {
		r.flushEvery = 1
	}
	resized := make(chan struct{})
	r.resized.Store(&resized)
	if j.lim != nil {
		r.lim, r.key, r.limit = j.lim, j.key, j.lim.Limit
		r.rooms = &rooms[T]{byKey: map[string]*room[T]{}}
		r.hosts = newHostTable(j.lim, maxTabled)
		r.met = newHostTable(j.lim, maxTabled)
		r.hosts.found, r.met.found = r.raise, r.raise
		r.idleWake = make(chan struct{}, 1)
		r.rearm = make(chan struct{}, 1)
	}
	if r.limit == nil {
		r.limit = func() int { return DefaultConsumers }
	}
	if s.checkpointer != nil {
		r.tracker = &tracker{cp: s.checkpointer}
	}
	return r
}

func (r *run[T]) run(ctx context.Context) (Stats, error) {
	start := r.clock.Now()
	r.readCtx, r.cancelRead = context.WithCancel(ctx)
	defer r.cancelRead()
	r.done = r.readCtx.Done()
	r.taskCtx, r.cancelTasks = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cancelTasks()
	r.budget.observe(start, 0)

	r.wg.Add(2)
	go r.produce()
	go r.schedule()
	if r.rooms != nil {
		r.wg.Add(1)
		go r.alarm()
	}

	poll := r.clock.NewTicker(pollInterval)
	defer poll.Stop()
	var progress <-chan time.Time
	if r.progressFn != nil {
		t := r.clock.NewTicker(r.progressIvl)
		defer t.Stop()
		progress = t.Chan()
	}
	var last Progress
	r.resize()
	interrupted := false
loop:
	for {
		select {
		case <-poll.Chan():
			r.budget.observe(r.clock.Now(), r.read.Load())
			r.resize()
		case <-r.wake:
			r.resize()
		case <-progress:
			r.progressFn(r.snapshot(start, &last))
		case <-r.drained:
			break loop
		case <-r.readCtx.Done():
			interrupted = true
			break loop
		}
	}
	r.shutdown(interrupted)

	st := Stats{
		Counts:       r.counts(),
		Elapsed:      r.clock.Since(start),
		MaxConsumers: r.most,
		FinalLimit:   int(r.target.Load()),
		Interrupted:  interrupted,
	}
	if r.progressFn != nil {
		r.progressFn(r.snapshot(start, &last))
	}
	r.log.Info("engine: run ended",
		zap.Int64("succeeded", st.Succeeded), zap.Int64("failed", st.Failed),
		zap.Int64("unfinished", st.Unfinished), zap.Int64("retries", st.Retries),
		zap.Duration("elapsed", st.Elapsed), zap.Bool("interrupted", interrupted))
	switch {
	case r.abortErr != nil:
		return st, fmt.Errorf("engine: %w", r.abortErr)
	case r.srcErr != nil:
		return st, fmt.Errorf("engine: source: %w", r.srcErr)
	}
	return st, nil
}

// shutdown stops the run and joins every goroutine it started. When
// interrupted, the attempts in flight get the drain timeout to finish.
func (r *run[T]) shutdown(interrupted bool) {
	r.cancelRead()
	joined := make(chan struct{})
	go func() {
		r.consumers.Wait()
		close(joined)
	}()
	if interrupted {
		t := r.clock.NewTimer(r.drain)
		select {
		case <-joined:
		case <-t.Chan():
			r.log.Warn("engine: drain timeout: cancelling the attempts in flight", zap.Duration("drain_timeout", r.drain))
			r.cancelTasks()
			<-joined
		}
		t.Stop()
	} else {
		<-joined
	}
	r.wg.Wait()
	if r.rooms != nil {
		r.closeRooms()
	}
	for {
		select {
		case e := <-r.queue:
			r.interrupted(e)
		default:
			return
		}
	}
}

// stopped reports whether the run is stopping: consumers take no more items.
func (r *run[T]) stopped() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// abortWith ends the run because of err, as a cancellation would.
func (r *run[T]) abortWith(err error) {
	r.abort.Do(func() {
		r.abortErr = err
		r.log.Warn("engine: stopping", zap.Error(err))
		r.cancelRead()
	})
}

// snapshot returns the progress now; prev is the previous snapshot, for the rate.
func (r *run[T]) snapshot(start time.Time, prev *Progress) Progress {
	p := Progress{
		Counts:    r.counts(),
		Elapsed:   r.clock.Since(start),
		InFlight:  r.inFlight(),
		Consumers: int(r.live.Load()),
		Limit:     int(r.target.Load()),
	}
	if dt := (p.Elapsed - prev.Elapsed).Seconds(); dt > 0 {
		p.Rate = float64(p.Succeeded+p.Failed-prev.Succeeded-prev.Failed) / dt
	}
	*prev = p
	return p
}
