package crawl

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// timed is a request's context under the wire's timeout, and the body of
// its answer (see wire): one object for both. It is done when its timeout
// runs out (Err is context.DeadlineExceeded), when its caller's context is
// done (Err is that context's), or when the wire ends it (the answer's body
// closed, or no answer: context.Canceled), whichever comes first.
//
// It is cheaper than context.WithTimeout: no runtime timer of its own (the
// wire's deadlines keep one per timeout value), no child registered under
// its caller's context (the deadlines follow each distinct caller's Done
// channel once), and an AfterFunc method, so that a context made under it
// (net/http's, for each request) registers a function instead of a child.
type timed struct {
	d        *deadlines
	parent   context.Context
	expires  time.Time       // when its timeout runs out
	deadline time.Time       // expires, or its caller's deadline if that is earlier
	pdone    <-chan struct{} // its caller's Done channel
	done     chan struct{}
	err      atomic.Pointer[error] // set once, before done is closed

	// Under its deadlines' mu.
	list       *deadlineList // nil once ended
	prev, next *timed
	follow     *follow // the caller's Done channel, followed; nil if it has none

	mu     sync.Mutex // guards afters
	afters []func()   // functions to call when done (AfterFunc's); a nil entry was stopped
	first  [1]func()  // afters' first element, in place

	io.ReadCloser // the answer's body, once it came
	heard
	// fresh says that the wire's sendContext started it for a request the
	// wire's RoundTrip has not taken yet.
	fresh bool
}

// timedKey is the key of a context's own timed (see wire.RoundTrip).
type timedKey struct{}

// Deadline is the request's deadline, or its caller's if that is earlier.
func (c *timed) Deadline() (time.Time, bool) { return c.deadline, true }

// Done is closed when the request's context is done.
func (c *timed) Done() <-chan struct{} {
	c.followCaller()
	return c.done
}

// Err is nil until Done is closed, then why.
func (c *timed) Err() error {
	c.followCaller()
	if e := c.err.Load(); e != nil {
		return *e
	}
	return nil
}

// followCaller ends c if its caller's context is done: the deadlines follow
// that in a goroutine of their own, a little later, and whoever looks at c
// must see it at once, as with a child of the caller's context (net/http
// does not send a request whose context is done when it gets it).
func (c *timed) followCaller() {
	if c.pdone == nil || c.err.Load() != nil {
		return
	}
	select {
	case <-c.pdone:
		c.d.end(c, c.parent.Err())
	default:
	}
}

// Value is the caller's context's value for key, and c itself for
// timedKey.
func (c *timed) Value(key any) any {
	if key == (timedKey{}) {
		return c
	}
	return c.parent.Value(key)
}

// AfterFunc arranges for f to be called in its own goroutine once c is done,
// as context.AfterFunc does; stop stops that if f has not been started.
func (c *timed) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err.Load() != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if c.afters == nil {
		c.afters = c.first[:0]
	}
	i := len(c.afters)
	c.afters = append(c.afters, f)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err.Load() != nil || c.afters[i] == nil {
			return false
		}
		c.afters[i] = nil
		return true
	}
}

// end makes c done with err unless it is done already, and starts the
// functions registered with AfterFunc. Its deadlines' mu is held; it
// returns those functions, for the caller to start once it has let go of
// the lock.
func (c *timed) end(err error) []func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err.Load() != nil {
		return nil
	}
	switch err {
	case context.Canceled:
		c.err.Store(&errCanceled)
	case context.DeadlineExceeded:
		c.err.Store(&errDeadlineExceeded)
	default:
		e := err // on the heap only here
		c.err.Store(&e)
	}
	close(c.done)
	afters := c.afters
	c.afters = nil
	return afters
}

// errCanceled and errDeadlineExceeded are timed.err's for the context
// package's errors, without storing a pointer of its own each time.
var errCanceled, errDeadlineExceeded = context.Canceled, context.DeadlineExceeded

// deadlines are the wire's requests in flight, one list per timeout value,
// each ordered by deadline and with one timer for its head; and the
// callers' Done channels they follow.
type deadlines struct {
	mu      sync.Mutex
	lists   []*deadlineList
	follows map[<-chan struct{}]*follow
	last    *follow // the one looked up last: the engine's tasks share theirs
	swept   int     // len(follows) after the last sweep
}

// deadlineList is the requests of one timeout value, oldest first: each
// added at the tail with its timeout from now, so that the head's expires
// first. Its timer is armed for the head's expiry or earlier.
type deadlineList struct {
	d          *deadlines
	timeout    time.Duration
	head, tail *timed
	timer      *time.Timer
	armed      bool
}

// follow is a caller's Done channel, followed: when it is closed, the
// requests under it end with their caller's error.
type follow struct {
	done <-chan struct{}
	stop func() bool // ends the following; nil while it is being registered
	live int         // requests under it not ended yet
}

// start returns a request's context under parent with timeout from now.
func (d *deadlines) start(parent context.Context, timeout time.Duration) *timed {
	pdone := parent.Done()
	c := &timed{d: d, parent: parent, pdone: pdone, done: make(chan struct{})}
	pd, hasDeadline := parent.Deadline()
	d.mu.Lock()
	l := d.list(timeout)
	c.expires = time.Now().Add(timeout) // under the lock: the list stays in order
	c.deadline = c.expires
	if hasDeadline && pd.Before(c.deadline) {
		c.deadline = pd
	}
	c.list, c.prev = l, l.tail
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	if !l.armed {
		l.timer.Reset(timeout)
		l.armed = true
	}
	var isNew bool
	if pdone != nil {
		c.follow, isNew = d.followed(pdone)
		c.follow.live++
	}
	d.mu.Unlock()
	if isNew {
		d.register(c.follow, parent)
	}
	c.followCaller() // done before its follow was registered, or while it ran
	return c
}

// end ends c with err (see timed.end) and takes it out of its list.
func (d *deadlines) end(c *timed, err error) {
	d.mu.Lock()
	d.unlink(c)
	afters := c.end(err)
	d.mu.Unlock()
	startAll(afters)
}

// unlink takes c out of its list, if it is still in one. d.mu is held.
func (d *deadlines) unlink(c *timed) {
	l := c.list
	if l == nil {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.list, c.prev, c.next = nil, nil, nil
	if c.follow != nil {
		c.follow.live--
	}
}

// startAll starts each of fs (non-nil) in its own goroutine.
func startAll(fs []func()) {
	for _, f := range fs {
		if f != nil {
			go f()
		}
	}
}

// list is the list of timeout, made on first use. d.mu is held.
func (d *deadlines) list(timeout time.Duration) *deadlineList {
	for _, l := range d.lists {
		if l.timeout == timeout {
			return l
		}
	}
	l := &deadlineList{d: d, timeout: timeout}
	l.timer = time.AfterFunc(time.Hour, l.expire)
	l.timer.Stop()
	d.lists = append(d.lists, l)
	return l
}

// expire ends the requests of l whose deadline has come, with
// context.DeadlineExceeded, and arms the timer for the next one.
func (l *deadlineList) expire() {
	d := l.d
	var afters []func()
	d.mu.Lock()
	now := time.Now()
	for c := l.head; c != nil && !c.expires.After(now); c = l.head {
		d.unlink(c)
		afters = append(afters, c.end(context.DeadlineExceeded)...)
	}
	l.armed = l.head != nil
	if l.armed {
		l.timer.Reset(l.head.expires.Sub(now))
	}
	d.mu.Unlock()
	startAll(afters)
}

// followed is the follow of a caller's Done channel pdone, and whether it
// is new: then the caller registers it (see follow.register). d.mu is held.
func (d *deadlines) followed(pdone <-chan struct{}) (f *follow, isNew bool) {
	if f := d.last; f != nil && f.done == pdone {
		return f, false
	}
	f = d.follows[pdone]
	if f == nil {
		if d.follows == nil {
			d.follows = map[<-chan struct{}]*follow{}
		}
		d.sweep()
		f, isNew = &follow{done: pdone}, true
		d.follows[pdone] = f
	}
	d.last = f
	return f, isNew
}

// register follows f's caller, parent, with context.AfterFunc; d.mu is not
// held (parent's methods may take it).
func (d *deadlines) register(f *follow, parent context.Context) {
	stop := context.AfterFunc(parent, func() { d.callerDone(f, parent) })
	d.mu.Lock()
	f.stop = stop
	d.mu.Unlock()
}

// sweep stops following the Done channels no request in flight is under,
// when there are twice as many as after the last sweep (and at least 64),
// so that callers that are never done cost no more than those in flight.
// d.mu is held.
func (d *deadlines) sweep() {
	if len(d.follows) < max(64, 2*d.swept) {
		return
	}
	for done, f := range d.follows {
		if f.live == 0 && f.stop != nil { // else still being registered
			f.stop()
			delete(d.follows, done)
			if d.last == f {
				d.last = nil
			}
		}
	}
	d.swept = len(d.follows)
}

// callerDone ends the requests under f with their caller's error, and
// forgets f.
func (d *deadlines) callerDone(f *follow, parent context.Context) {
	err := parent.Err()
	var afters []func()
	d.mu.Lock()
	if d.follows[f.done] == f {
		delete(d.follows, f.done)
	}
	if d.last == f {
		d.last = nil
	}
	for _, l := range d.lists {
		for c := l.head; c != nil; {
			next := c.next
			if c.follow == f {
				d.unlink(c)
				afters = append(afters, c.end(err)...)
			}
			c = next
		}
	}
	d.mu.Unlock()
	startAll(afters)
}

// release stops following the callers' Done channels no request in flight
// is under, and the timers of empty lists: the crawl calls it when it ends,
// so that a caller's context that outlives it keeps nothing of it.
func (d *deadlines) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for done, f := range d.follows {
		if f.live == 0 && f.stop != nil {
			f.stop()
			delete(d.follows, done)
		}
	}
	d.last, d.swept = nil, len(d.follows)
	for _, l := range d.lists {
		if l.head == nil && l.armed {
			l.timer.Stop()
			l.armed = false
		}
	}
}
