package engine

import (
	"errors"
	"fmt"
	"io"
)

// produce reads the source onto the queue. It reads only when the queue has
// room, fewer than queueSize items wait for a retry and, with rooms, the rooms
// and the queue hold fewer than they may together (roomsHold).
func (r *run[T]) produce() {
	defer r.wg.Done()
	defer func() {
		r.producerDone.Store(true)
		r.checkDrained()
	}()
	var read int64
	var prev string // the previous item's key, for meet
	for {
		for r.pending.Load() >= int64(r.queueSize) || r.roomsFull() {
			select {
			case <-r.room:
			case <-r.readCtx.Done():
				return
			}
		}
		it, err := r.src.Next(r.readCtx)
		if err != nil {
			if !errors.Is(err, io.EOF) && r.readCtx.Err() == nil {
				r.srcErr = err
			}
			return
		}
		e := entry[T]{item: it}
		r.meet(&e, &prev)
		if r.tracker != nil {
			if e.page, err = r.tracker.add(it.Page, it.Next, it.Index, it.Count); err != nil {
				r.srcErr = err
				return
			}
		}
		if r.skip != nil && r.skip(it) {
			r.skipped.Add(1)
			if e.page != nil {
				if err := r.tracker.finish(e.page, it.Index, false); err != nil {
					r.abortWith(fmt.Errorf("checkpoint: %w", err))
				}
			}
			continue
		}
		read++
		r.read.Store(read)
		select {
		case r.queue <- e:
		default:
			select {
			case r.queue <- e:
			case <-r.readCtx.Done():
				r.interrupted(e)
				return
			}
		}
		r.arrived()
	}
}

// meet shows the limiter the host of an item that follows another of the
// same host, as the producer reads it: the consumers' limit (the sum of the
// hosts' limits) then counts the hosts of a listing that holds each host's
// items together, whose hosts the consumers would otherwise reach one at a
// time, each after the items of the one before. The hosts of a listing that
// takes them in turn the consumers reach as soon, and meet spares the
// lookup. prev is the previous item's key.
func (r *run[T]) meet(e *entry[T], prev *string) {
	if r.rooms == nil {
		return
	}
	key := r.key(e.item.Value)
	if key != "" && key == *prev {
		r.met.get(key)
	}
	*prev = key
}

// arrived tells the rooms' idle consumers that an item is on the queue: with
// rooms they wait on idleWake, not on the queue, so that items are taken only
// under takeMu.
func (r *run[T]) arrived() {
	if r.rooms != nil {
		r.signal()
	}
}

// checkDrained ends the run's work when every item read is finished and the
// source has ended.
func (r *run[T]) checkDrained() {
	if r.producerDone.Load() && r.finished.Load() == r.read.Load() {
		r.once.Do(func() { close(r.drained) })
	}
}

// interrupted reports e, which the run stops before finishing, from outside
// the consumers.
func (r *run[T]) interrupted(e entry[T]) {
	r.lost.Add(1)
	r.report(&e, ReasonInterrupted, e.err, nil)
}

// report hands an item that did not succeed to the failure sink.
func (r *run[T]) report(e *entry[T], reason Reason, err error, stack []byte) {
	if r.sink == nil {
		return
	}
	r.sinkMu.Lock()
	defer r.sinkMu.Unlock()
	r.sink(Failure[T]{Item: e.item, Reason: reason, Attempts: e.attempts, Err: err, Stack: stack})
}
