package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/politely/politely/limiter"
)

// poll returns the limit to follow, clamped to [1, maxLive].
func (r *run[T]) poll() int64 {
	return min(max(int64(r.limit()), 1), r.maxLive)
}

// resize starts consumers until as many live as the limit, and wakes the idle
// ones when the limit dropped so that those one too many leave. Busy
// consumers leave after their attempt. With rooms it starts one, and more
// only as work waits for them (see fill).
func (r *run[T]) resize() {
	t := r.poll()
	if old := r.target.Swap(t); t < old {
		ch := make(chan struct{})
		close(*r.resized.Swap(&ch))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := t
	if r.rooms != nil {
		n = 1
		r.fillLocked()
	}
	for r.live.Load() < n {
		r.startLocked()
	}
}

// startLocked starts a consumer in a free slot; r.mu is held.
func (r *run[T]) startLocked() {
	i := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	r.live.Add(1)
	r.consumers.Add(1)
	go r.consume(i)
	if n := int(r.live.Load()); n > r.most {
		r.most = n
		r.log.Debug("engine: consumers", zap.Int("live", n))
	}
}

// fill starts a consumer for work that waits (its caller has just made it
// visible: an item on the queue, a ready room) when every live consumer
// holds a task and fewer live than the limit. A consumer that holds none
// looks for work before it parks (awaitRoom), so it finds this work, and a
// consumer that takes a task looks for more work after it counts itself as
// holding one (consume), so one of the two sees the other: work never waits
// for a consumer while the limit allows one more. So a run over rooms keeps
// as many consumers as its handlers keep busy, not as many as the limit: a
// run of quick handlers over many hosts, whose limits add up to hundreds,
// needs a few.
func (r *run[T]) fill() {
	if r.holding.Load() < r.live.Load() || r.live.Load() >= r.target.Load() || !r.canTake() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fillLocked()
}

// fillLocked is fill with r.mu held. The work must still wait (a consumer
// may have taken it since it was made visible), and a stopped run starts no
// consumer: its consumers are being joined.
func (r *run[T]) fillLocked() {
	if r.holding.Load() >= r.live.Load() && r.live.Load() < r.target.Load() && r.canTake() && !r.stopped() {
		r.startLocked()
	}
}

// raise sets the consumers' target to the limit read afresh when that is
// higher. A host met for the first time raises the limit (the sum of the
// hosts' limits), and fill then starts consumers for its items at once, not
// at the controller's next poll: a listing in turn would otherwise start its
// hosts a poll apart for each step of their initial limit (4, 16, 64, 256,
// 1,024 consumers).
func (r *run[T]) raise() {
	t := r.poll()
	for {
		old := r.target.Load()
		if t <= old || r.target.CompareAndSwap(old, t) {
			return
		}
	}
}

// leave reports whether consumer i is one too many for the limit, and if so
// takes it off the live ones. It tells the controller when the limit moved.
func (r *run[T]) leave(i int) bool {
	t := r.poll()
	if t != r.target.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	if r.live.Load() <= t {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live.Load() <= t {
		return false
	}
	r.exitLocked(i)
	return true
}

// exitLocked takes consumer i off the live ones and frees its slot.
func (r *run[T]) exitLocked(i int) {
	r.live.Add(-1)
	r.free = append(r.free, i)
}

// exit is exitLocked for a consumer that stops with the run.
func (r *run[T]) exit(i int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exitLocked(i)
}

// kept is the state of consumer i that its slot's later consumers reuse (the
// limit moves often, and consumers come and go with it): its Handoffs'
// batch. Only the slot's consumer touches it.
type kept struct {
	handoffs limiter.Handoffs
}

// consume runs attempts until the run stops or the limit drops below the
// live consumers. It is consumer i: it counts in a tally of its own and adds
// it to slot i every r.flushEvery attempts and whenever it goes idle or leaves.
func (r *run[T]) consume(i int) {
	defer r.consumers.Done()
	s := &r.slots[i]
	s.busy.Store(true)
	var t tally
	k := &r.kept[i]
	defer func() {
		r.flush(s, &t)
		s.busy.Store(false)
	}()
	for !r.stopped() {
		var tk task[T]
		if r.rooms != nil {
			var ok bool
			if tk, ok = r.next(); !ok {
				if tk, ok = r.awaitRoom(i, s, &t); !ok {
					return
				}
			}
			r.holding.Add(1)
			r.more()
		} else {
			select {
			case tk.e = <-r.queue:
			default:
				var ok bool
				if tk.e, ok = r.await(i, s, &t); !ok {
					return
				}
			}
		}
		r.attempt(&t, &tk, &k.handoffs)
		if r.rooms != nil {
			r.holding.Add(-1)
			r.giveBack(&tk)
		}
		if t.attempts >= r.flushEvery {
			r.flush(s, &t)
		}
		if r.leave(i) {
			return
		}
	}
	r.exit(i)
}

// await waits for an item on the empty queue, the consumer idle meanwhile.
// It returns false when the consumer leaves: the run stops, or the limit
// dropped.
func (r *run[T]) await(i int, s *slot, t *tally) (entry[T], bool) {
	r.flush(s, t)
	s.busy.Store(false)
	for {
		// Load the channel before reading the limit: a drop after the read
		// then closes the very channel this consumer waits on.
		resized := r.resized.Load()
		if r.leave(i) {
			return entry[T]{}, false
		}
		select {
		case e := <-r.queue:
			s.busy.Store(true)
			return e, true
		case <-*resized:
		case <-r.done:
			r.exit(i)
			return entry[T]{}, false
		}
	}
}

// awaitRoom waits, idle, until a room may start a task: an item arrives on
// the queue, a room's time comes or a release wakes it (each signals
// idleWake). The consumer counts itself idle, then looks again before it
// parks: work published after its last look then finds it counted and
// signals. A consumer woken by a signal counts as searching (see signal)
// until it has looked. It returns false when the consumer leaves, as await
// does.
func (r *run[T]) awaitRoom(i int, s *slot, t *tally) (task[T], bool) {
	r.flush(s, t)
	s.busy.Store(false)
	for {
		r.idle.Add(1)
		if r.canTake() {
			r.idle.Add(-1)
		} else {
			resized := r.resized.Load()
			if r.leave(i) {
				r.idle.Add(-1)
				return task[T]{}, false
			}
			select {
			case <-r.idleWake:
				r.idle.Add(-1)
				tk, ok := r.next()
				r.searching.Add(-1) // counted by the signal
				if ok {
					s.busy.Store(true)
					return tk, true
				}
				continue
			case <-*resized:
				r.idle.Add(-1)
				continue
			case <-r.done:
				r.idle.Add(-1)
				r.exit(i)
				return task[T]{}, false
			}
		}
		if tk, ok := r.next(); ok {
			s.busy.Store(true)
			return tk, true
		}
	}
}

// attempt makes one attempt of tk's item, with the permit taken for it, and
// decides what comes next: success, failure for good, a retry, or, when the
// run stops, an unfinished item. ho makes the attempt's Handoff.
func (r *run[T]) attempt(t *tally, tk *task[T], ho *limiter.Handoffs) {
	e, host := &tk.e, tk.host
	e.attempts++
	t.attempts++
	if e.attempts > 1 {
		t.retries++
		tk.permit = tk.permit.Retried()
	}
	if tk.start {
		tk.permit = tk.permit.Started()
	}
	k, err, stack := r.call(e.item.Value, e.attempts, host, tk.permit, ho)

	switch k {
	case kindSuccess:
		t.succeeded++
		r.finish(t, e)
		return
	case kindPanic:
		t.panics++
		r.fail(t, e, ReasonPanic, err, stack)
		return
	case kindPermanent:
		r.fail(t, e, ReasonPermanent, err, nil)
		return
	case kindCut:
		t.unfinished++
		r.report(e, ReasonInterrupted, err, nil)
		return
	case kindTimeout:
		t.timeouts++
	case kindThrottled:
		t.throttled++
	}
	r.retryLater(t, e, host, err, k)
}

// retryLater puts e, whose attempt failed with the retryable err, in the
// retry queue, or fails it for good when it may not be retried.
func (r *run[T]) retryLater(t *tally, e *entry[T], host *limiter.Host, err error, k kind) {
	now := r.clock.Now()
	policy := r.retry
	if r.retryFor != nil {
		policy = r.retryOf(e.item.Value)
	}
	tooLong := e.throttled.add(now, err, policy)
	// Throttles count for nothing in the policy: neither in the attempts
	// nor in the backoff's doubling (the Retry-After, or the limiter's own
	// pause, paces them).
	at := policy.next(now, max(1, e.attempts-e.throttled.n), err)
	var ra *limiter.RetryAfterError
	if host != nil && k == kindThrottled && errors.As(err, &ra) {
		host.Gate(ra.Until)
	}
	switch {
	case r.stopped():
		t.unfinished++
		r.report(e, ReasonInterrupted, err, nil)
		return
	case tooLong != nil:
		r.fail(t, e, ReasonAttempts, tooLong, nil)
		return
	case e.attempts-e.throttled.n >= policy.MaxAttempts:
		r.fail(t, e, ReasonAttempts, err, nil)
		return
	}
	e.err = err
	r.pending.Add(1)
	select {
	case r.retries <- waiting[T]{at: at, e: *e, budgeted: k != kindThrottled}:
	case <-r.done:
		r.pending.Add(-1)
		t.unfinished++
		r.report(e, ReasonInterrupted, err, nil)
	}
}

// retryOf is the run's policy with the MaxAttempts, Base and Max that
// Job.WithRetryFor gives v, where they are above zero.
func (r *run[T]) retryOf(v T) Retry {
	policy := r.retry
	own, ok := r.retryFor(v)
	if !ok {
		return policy
	}
	if own.MaxAttempts > 0 {
		policy.MaxAttempts = own.MaxAttempts
	}
	if own.Base > 0 {
		policy.Base = own.Base
	}
	if own.Max > 0 {
		policy.Max = own.Max
	}
	return policy
}

// fail finishes e for good without success.
func (r *run[T]) fail(t *tally, e *entry[T], reason Reason, err error, stack []byte) {
	t.failed++
	if ce := r.log.Check(zap.DebugLevel, "engine: item failed"); ce != nil {
		ce.Write(zap.Stringer("reason", reason), zap.Int("attempts", e.attempts), zap.Error(err))
	}
	r.report(e, reason, err, stack)
	r.finish(t, e)
}

// finish counts e as finished for good and tells the checkpointer.
func (r *run[T]) finish(t *tally, e *entry[T]) {
	t.finished++
	if r.tracker == nil {
		return
	}
	if err := r.tracker.finish(e.page, e.item.Index, true); err != nil {
		r.abortWith(fmt.Errorf("checkpoint: %w", err))
	}
}

// call runs attempt n of the handler on v under the task timeout, recovering
// a panic, and classifies the result. With a host, the handler's context
// hands the permit over (limiter.Handoff) to the first request to that host,
// which then releases it; otherwise call releases it with the attempt's
// outcome. hs makes the Handoff.
func (r *run[T]) call(v T, n int, host *limiter.Host, permit limiter.Permit, hs *limiter.Handoffs) (kind, error, []byte) {
	ctx := withAttempt(r.taskCtx, n)
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = clockwork.WithTimeout(ctx, r.clock, r.timeout)
		defer cancel()
	}
	var ho *limiter.Handoff
	if host != nil {
		ho = hs.New(ctx, permit)
	}
	k, err, stack := r.classify(ctx, ho, v)
	if ho != nil {
		if p, ok := ho.Reclaim(); ok {
			p.Release(k.outcome())
		}
	}
	return k, err, stack
}

// classify calls the handler under ctx (or ho, which wraps it) and says what
// its result was.
func (r *run[T]) classify(ctx context.Context, ho *limiter.Handoff, v T) (kind, error, []byte) {
	hctx := ctx
	if ho != nil {
		hctx = ho
	}
	err, stack := r.protect(hctx, v)
	switch {
	case err == nil:
		return kindSuccess, nil, nil
	case stack != nil:
		return kindPanic, err, stack
	case r.taskCtx.Err() != nil:
		return kindCut, err, nil
	case IsPermanent(err):
		return kindPermanent, err, nil
	case errors.Is(err, limiter.ErrThrottled):
		return kindThrottled, err, nil
	}
	if r.timeout > 0 {
		select {
		case <-ctx.Done(): // the timeout fired: taskCtx is live
			return kindTimeout, err, nil
		default:
		}
	}
	return kindRetry, err, nil
}

// protect calls the handler, turning a panic into a *PanicError and its stack.
func (r *run[T]) protect(ctx context.Context, v T) (err error, stack []byte) {
	defer func() {
		if p := recover(); p != nil {
			err, stack = &PanicError{Value: p}, debug.Stack()
		}
	}()
	return r.fn(ctx, v), nil
}
