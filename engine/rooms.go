package engine

import (
	"container/heap"
	"sync/atomic"
	"time"

	"github.com/politely/politely/internal/clocktimer"
	"github.com/politely/politely/limiter"
)

// A run with Job.WithLimiter keeps a waiting room per host: an item whose
// host may not start a request now (its gate is closed, its bucket is empty
// or it is at its concurrency limit) waits in its host's room and holds no
// consumer.
// Consumers take the permit before they call the handler, from the rooms in
// turn (round robin), so a gated or slow host does not hold up the others.
// A sampled permit's clock starts with the attempt, not under the lock that
// takes it.
// The rooms and the queue hold 2 x queueSize items together (and at most one
// more per consumer that took an item from the queue as they filled): the
// producer reads only while they hold fewer, and the rooms take from the
// queue while they hold fewer themselves, so that when hosts push back their
// items end up in the rooms, not in the queue's order, and the items of the
// hosts that may start are reached past theirs. A room exists only while it
// holds items, so their memory follows the items, not the hosts seen.

// roomState says where a room is.
type roomState uint8

const (
	roomReady   roomState = iota + 1 // in the ring: its host may be able to start
	roomTimed                        // in the heap: its host may start at its time
	roomBlocked                      // waits for a release: woken by one of ours, or polled
)

// room is one host's waiting room. It exists while it holds items.
type room[T any] struct {
	key   string
	host  *limiter.Host
	items fifo[entry[T]]
	state roomState
	at    time.Time // roomTimed: when to try again
	index int       // roomTimed: its place in the heap
}

// task is an item with the permit taken for it.
type task[T any] struct {
	e      entry[T]
	key    string
	host   *limiter.Host // nil when the item needs no permit (its key is "")
	permit limiter.Permit
	start  bool // the permit's latency sample starts with the attempt (limiter.Host.TryAcquireUntimed)
}

// rooms holds the waiting rooms of a run. Its fields are guarded by the run's
// roomsMu, and byKey changes only under takeMu too, so that a consumer
// holding takeMu reads it without roomsMu; held and ready mirror the item
// count and the ring's length for consumers that look without a lock.
type rooms[T any] struct {
	byKey map[string]*room[T]
	ring  fifo[*room[T]] // ready rooms, served in turn
	timed roomHeap[T]
	swept []*room[T] // blocked rooms, polled every pollInterval (may hold stale entries)
	armed time.Time  // when the alarm fires; zero when it waits for no time
	spare []*room[T] // forgotten rooms kept for reuse, at most maxSpare

	held, ready atomic.Int64
}

// maxSpare bounds the rooms kept for reuse: a run over many hosts makes and
// forgets a room per item otherwise.
const maxSpare = 1024

// next returns the next task a consumer may start. While no room is ready it
// takes the queue's next item and starts it at once if its host has no room
// and may start (most items, when no host pushes back); otherwise the item
// goes to its host's room, so that none overtakes the items of its host that
// wait. Items are taken from the queue only under takeMu, and each is started
// or put in its room before the lock is let go, so a host's items start in
// the order they were read (retries aside). ok is false when nothing may
// start now.
func (r *run[T]) next() (t task[T], ok bool) {
	rs := r.rooms
	r.takeMu.Lock()
	defer r.takeMu.Unlock()
	if rs.ready.Load() == 0 && rs.held.Load() < r.roomsHold() {
		select {
		case e := <-r.queue:
			if rs.held.Load() > 0 {
				r.readMore() // the producer may wait for the rooms and the queue to hold fewer
			}
			if t, ok = r.direct(e); ok {
				return t, true
			}
		default:
			if rs.held.Load() == 0 {
				return t, false
			}
		}
	}
	r.roomsMu.Lock()
	defer r.roomsMu.Unlock()
	for {
		if t, ok = r.serveLocked(); ok {
			return t, true
		}
		if rs.held.Load() >= r.roomsHold() {
			return t, false
		}
		select {
		case e := <-r.queue:
			r.addLocked(r.key(e.item.Value), e, nil, false, time.Time{})
		default:
			return t, false
		}
	}
}

// roomsHold is how many items the rooms and the queue hold together at most.
func (r *run[T]) roomsHold() int64 { return 2 * int64(r.queueSize) }

// roomsFull reports whether the rooms and the queue hold as many items as
// they may: the producer then waits.
func (r *run[T]) roomsFull() bool {
	return r.rooms != nil && r.rooms.held.Load()+int64(len(r.queue)) >= r.roomsHold()
}

// readMore tells the producer that it may read again, if it waits.
func (r *run[T]) readMore() {
	select {
	case r.room <- struct{}{}:
	default:
	}
}

// more wakes an idle consumer when work is left for it: an item on the queue
// or a ready room.
func (r *run[T]) more() {
	if len(r.queue) > 0 || r.rooms.ready.Load() > 0 {
		r.signal()
	}
}

// canTake reports whether next may find a task: a ready room, or an item on
// the queue that the rooms may take.
func (r *run[T]) canTake() bool {
	rs := r.rooms
	return rs.ready.Load() > 0 || (len(r.queue) > 0 && rs.held.Load() < r.roomsHold())
}

// direct takes a permit for e if its host has no room (no item of its host
// waits) and may start now, or else puts e in its host's room. takeMu is held.
func (r *run[T]) direct(e entry[T]) (task[T], bool) {
	key := r.key(e.item.Value)
	if key == "" {
		return task[T]{e: e}, true
	}
	rs := r.rooms
	if rs.held.Load() > 0 {
		if rs.byKey[key] != nil {
			r.roomsMu.Lock()
			r.addLocked(key, e, nil, false, time.Time{})
			r.roomsMu.Unlock()
			return task[T]{}, false
		}
	}
	h := r.hosts.get(key)
	p, start, at, ok := h.TryAcquireUntimed()
	if ok {
		return task[T]{e: e, key: key, host: h, permit: p, start: start}, true
	}
	r.roomsMu.Lock()
	defer r.roomsMu.Unlock()
	// Refused for a slot (a zero at), the room is made ready, not parked: the
	// permit may have been released since TryAcquire, and that release's
	// giveBack, finding no room, woke nobody. The next serve tries again
	// under the lock, where a release cannot be missed.
	r.addLocked(key, e, h, !at.IsZero(), at)
	return task[T]{}, false
}

// addLocked puts e in the room of key; takeMu and roomsMu are held. A new room is ready, or, when its host
// h was just tried and refused, parked until at.
func (r *run[T]) addLocked(key string, e entry[T], h *limiter.Host, refused bool, at time.Time) {
	rs := r.rooms
	rs.held.Add(1)
	if rm := rs.byKey[key]; rm != nil {
		rm.items.push(e)
		return
	}
	rm := rs.room(key)
	if h == nil && key != "" {
		h = r.hosts.get(key)
	}
	rm.host = h
	rm.items.push(e)
	rs.byKey[key] = rm
	if refused {
		r.parkLocked(rm, at)
		return
	}
	r.readyLocked(rm)
}

func (r *run[T]) readyLocked(rm *room[T]) {
	rm.state = roomReady
	r.rooms.ring.push(rm)
	r.rooms.ready.Add(1)
}

// serveLocked tries the ready rooms in turn and takes the first permit one
// can have, with that room's first item. Rooms whose host may not start move
// to the heap (a time is known) or wait for a release.
func (r *run[T]) serveLocked() (task[T], bool) {
	rs := r.rooms
	for rs.ring.len() > 0 {
		rm := rs.ring.pop()
		rs.ready.Add(-1)
		var p limiter.Permit
		var start bool
		if rm.host != nil {
			if rm.host.Forgotten() {
				rm.host = r.hosts.get(rm.key)
			}
			var at time.Time
			var ok bool
			if p, start, at, ok = rm.host.TryAcquireUntimed(); !ok {
				r.parkLocked(rm, at)
				continue
			}
		}
		e := rm.items.pop()
		if rs.held.Add(-1)+int64(len(r.queue)) < r.roomsHold() {
			r.readMore()
		}
		t := task[T]{e: e, key: rm.key, host: rm.host, permit: p, start: start}
		if rm.items.len() > 0 {
			r.readyLocked(rm)
		} else {
			rs.forget(rm)
		}
		return t, true
	}
	return task[T]{}, false
}

// parkLocked makes rm wait until at, or for a release when at is zero.
func (r *run[T]) parkLocked(rm *room[T], at time.Time) {
	rs := r.rooms
	if at.IsZero() {
		rm.state = roomBlocked
		rs.swept = append(rs.swept, rm)
		at = r.clock.Now().Add(pollInterval)
	} else {
		rm.state, rm.at = roomTimed, at
		heap.Push(&rs.timed, rm)
	}
	if rs.armed.IsZero() || at.Before(rs.armed) {
		rs.armed = at
		select {
		case r.rearm <- struct{}{}:
		default:
		}
	}
}

// giveBack tells the rooms that an attempt of t has ended: its host's room,
// if it waits for a release, is tried again.
func (r *run[T]) giveBack(t *task[T]) {
	if t.host == nil || r.rooms.held.Load() == 0 {
		return
	}
	r.roomsMu.Lock()
	defer r.roomsMu.Unlock()
	if rm := r.rooms.byKey[t.key]; rm != nil && rm.state == roomBlocked {
		r.readyLocked(rm)
		r.wakeIdle()
	}
}

// room returns an empty room for key, reused if one is spare.
func (rs *rooms[T]) room(key string) *room[T] {
	n := len(rs.spare)
	if n == 0 {
		return &room[T]{key: key}
	}
	rm := rs.spare[n-1]
	rs.spare[n-1] = nil
	rs.spare = rs.spare[:n-1]
	rm.key = key
	return rm
}

// forget drops rm, now empty, from the rooms. Its buffer is kept for the
// next room when it is small, or when no other room is spare: a run over
// one host empties its room whenever the consumers catch up with the
// source, and would otherwise grow a new buffer for every page; at most one
// spare buffer is larger than 64 items.
func (rs *rooms[T]) forget(rm *room[T]) {
	delete(rs.byKey, rm.key)
	buf := rm.items.buf // empty: pop cleared its entries
	*rm = room[T]{}
	if len(rs.spare) < maxSpare && (len(buf) <= 64 || len(rs.spare) == 0) {
		rm.items.buf = buf
		rs.spare = append(rs.spare, rm)
	}
}

// signal wakes one idle consumer, if one waits and no consumer woken before
// still searches: a room may start, or an item arrived on the queue. The
// woken consumer counts as searching from the signal until it has looked for
// a task, so that work that arrives meanwhile wakes no other: consumers that
// keep finding work take it without a wake-up, and idle ones are woken one
// at a time while work is left. A token left on idleWake while no consumer
// waits in select counts as searching until the next consumer to park takes
// it.
// When no consumer is idle, it starts one if the limit allows (fill).
func (r *run[T]) signal() {
	if r.searching.Load() > 0 {
		r.fill()
		return
	}
	r.wakeIdle()
}

// wakeIdle wakes one idle consumer, if one waits, whether or not one woken
// before still searches: a release or a room's time made a room ready, and
// each such room wants a consumer of its own at once. When every consumer
// holds a task, it starts one if the limit allows (fill).
func (r *run[T]) wakeIdle() {
	if r.idle.Load() > 0 {
		r.searching.Add(1)
		select {
		case r.idleWake <- struct{}{}:
		default:
			r.searching.Add(-1)
		}
	}
	r.fill()
}

// alarm wakes the rooms whose time has come and, every pollInterval, the
// blocked ones (their host may be held by requests outside the run).
func (r *run[T]) alarm() {
	defer r.wg.Done()
	var timer clocktimer.Timer
	defer timer.Stop()
	for {
		r.roomsMu.Lock()
		at := r.rooms.armed
		r.roomsMu.Unlock()
		if !at.IsZero() && timer.Set(r.clock, at) {
			r.wakeDue(r.clock.Now()) // its time came before the timer was set
			continue
		}
		select {
		case <-timer.C():
			r.wakeDue(r.clock.Now())
		case <-r.rearm:
			timer.Stop()
		case <-r.done:
			return
		}
	}
}

// wakeDue puts the rooms due at now, and the blocked ones, back in the ring.
func (r *run[T]) wakeDue(now time.Time) {
	r.roomsMu.Lock()
	defer r.roomsMu.Unlock()
	rs := r.rooms
	woke := false
	for rs.timed.Len() > 0 && !rs.timed[0].at.After(now) {
		r.readyLocked(heap.Pop(&rs.timed).(*room[T]))
		woke = true
	}
	for i, rm := range rs.swept {
		if rm.state == roomBlocked { // else woken already, or forgotten
			r.readyLocked(rm)
			woke = true
		}
		rs.swept[i] = nil
	}
	rs.swept = rs.swept[:0]
	rs.armed = time.Time{}
	if rs.timed.Len() > 0 {
		rs.armed = rs.timed[0].at
	}
	if woke {
		r.wakeIdle()
	}
}

// closeRooms reports every item left in the rooms as interrupted, once the
// consumers have stopped.
func (r *run[T]) closeRooms() {
	r.roomsMu.Lock()
	defer r.roomsMu.Unlock()
	for _, rm := range r.rooms.byKey {
		for rm.items.len() > 0 {
			r.interrupted(rm.items.pop())
		}
	}
	r.rooms.held.Store(0)
}

type roomHeap[T any] []*room[T]

func (h roomHeap[T]) Len() int           { return len(h) }
func (h roomHeap[T]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h roomHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *roomHeap[T]) Push(x any) {
	rm := x.(*room[T])
	rm.index = len(*h)
	*h = append(*h, rm)
}
func (h *roomHeap[T]) Pop() any {
	old := *h
	rm := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return rm
}
