package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
)

// Job is a source and its handler with the settings that depend on the item
// type: the host of an item, the failure sink and the skip function. They are
// typed values, so a setting for another item type does not compile:
//
//	engine.NewJob(ints, handle).WithFailureSink(func(engine.Failure[string]) {}) // compile error
//
// A Job is a value; each With method returns a copy with one more setting.
// Run(ctx, src, fn, opts...) is NewJob(src, fn).Run(ctx, opts...).
type Job[T any] struct {
	src  source.Source[T]
	fn   func(context.Context, T) error
	lim  *limiter.Limiter
	key  func(T) string
	sink func(Failure[T])
	skip func(source.Item[T]) bool
	// retryFor gives an item its own MaxAttempts, Base and Max; nil: the
	// run's policy for every item.
	retryFor func(T) (Retry, bool)
	err      error // the invalid settings, reported by Run
}

// NewJob returns a Job that calls fn for each item of src.
func NewJob[T any](src source.Source[T], fn func(context.Context, T) error) Job[T] {
	return Job[T]{src: src, fn: fn}
}

func (j Job[T]) fail(format string, args ...any) Job[T] {
	j.err = errors.Join(j.err, fmt.Errorf("engine: "+format, args...))
	return j
}

// WithLimiter makes every attempt take a permit from l for the host key(item)
// before its handler is called, and bounds the number of consumers by
// l.Limit() (the sum over every host l has seen; the run shows l the host of
// an item that follows another of the same host as it reads it, before the
// item waits). Consumers start as work
// waits for them: one, and another whenever an item could start and every
// live consumer holds a task, so a run keeps as many as its handlers keep
// busy (quick handlers over many hosts need a few). An item whose host may not
// start now (gated, out of tokens, at its concurrency limit) waits in that
// host's waiting room without holding a consumer, and consumers serve the
// hosts that can start in turn, so a gated or slow host does not hold up the
// others. A host's items take their permits in the order they were read (a
// retried item joins the queue again). An empty key means the item needs no
// permit. Give l and the run the same clock.
//
// The handler's context is a limiter.Handoff: the first request to the same
// host made under it (through transport, for one) uses the permit and
// releases it with its own outcome. A permit no request took is released
// with the attempt's outcome: nil is Success; an error that Is
// limiter.ErrThrottled is Throttled, and a *limiter.RetryAfterError also
// gates the host until its Until; the task timeout and any other error that
// is retried are Dropped (overload); a permanent error, a panic and an
// attempt cut by the drain timeout are Ignored.
func (j Job[T]) WithLimiter(l *limiter.Limiter, key func(T) string) Job[T] {
	if l == nil || key == nil {
		return j.fail("WithLimiter: a limiter and a key function are required")
	}
	j.lim, j.key = l, key
	return j
}

// WithFailureSink makes sink receive every item that did not succeed: failed
// for good, or left unfinished by an interrupted run (ReasonInterrupted).
// Calls are never concurrent; a slow sink slows the consumers down.
func (j Job[T]) WithFailureSink(sink func(Failure[T])) Job[T] {
	if sink == nil {
		return j.fail("WithFailureSink: the sink is nil")
	}
	j.sink = sink
	return j
}

// WithSkip makes the run skip the items for which skip returns true: they are
// counted as Skipped and as finished for checkpoints. A resumed run uses it
// to skip the items a Checkpointer recorded as done beyond the mark.
func (j Job[T]) WithSkip(skip func(source.Item[T]) bool) Job[T] {
	if skip == nil {
		return j.fail("WithSkip: the skip function is nil")
	}
	j.skip = skip
	return j
}

// WithRetryFor gives the items for which f returns true their own attempts
// and backoff: the MaxAttempts, Base and Max of the Retry f returns, each
// one that is not above zero keeping the run's (WithRetry). The rest of the
// policy (the retry budget, RetryAfterMax) stays the run's. f is called each
// time an item's attempt fails and may be retried; a caller that gives
// values from a validated config does not need them checked again.
func (j Job[T]) WithRetryFor(f func(T) (Retry, bool)) Job[T] {
	if f == nil {
		return j.fail("WithRetryFor: the function is nil")
	}
	j.retryFor = f
	return j
}
