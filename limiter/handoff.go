package limiter

import (
	"context"
	"sync/atomic"
	"unsafe"
)

// Handoff is a context that carries a permit down a call: a scheduler that
// took a host's permit before calling code that sends the request (an engine
// consumer before its handler) passes a Handoff as that code's context, and
// the first request to the same host under it uses the permit (TakePermit)
// instead of acquiring a second one. Whoever made the Handoff calls Reclaim
// when the call returns and releases the permit if nobody took it.
type Handoff struct {
	context.Context
	p     Permit
	taken atomic.Bool
}

type handoffKey struct{}

// NewHandoff returns a Handoff of p under parent.
func NewHandoff(parent context.Context, p Permit) *Handoff {
	return &Handoff{Context: parent, p: p}
}

// Value returns the Handoff itself for TakePermit's key, and parent's values
// otherwise.
func (c *Handoff) Value(key any) any {
	if key == (handoffKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// Reclaim takes the permit back: it returns the permit and true if no request
// took it (the caller must release it), or the zero Permit and false if one
// did (that request releases it). After Reclaim nobody can take it.
func (c *Handoff) Reclaim() (Permit, bool) {
	if c.taken.CompareAndSwap(false, true) {
		return c.p, true
	}
	return Permit{}, false
}

// TakePermit returns the permit that a Handoff in ctx carries for h, once: the
// first call for h gets it and must release it; later calls, calls for other
// hosts and calls after Reclaim get false and acquire as usual.
func TakePermit(ctx context.Context, h *Host) (Permit, bool) {
	c, _ := ctx.Value(handoffKey{}).(*Handoff)
	if c == nil || c.p.h != h || !c.taken.CompareAndSwap(false, true) {
		return Permit{}, false
	}
	return c.p, true
}

// handoffBatch is how many Handoffs one allocation of Handoffs holds: as many
// as fit in 512 bytes, the largest object the allocator gives no header (6
// Handoffs of 80 bytes). Few, because a used Handoff keeps its permit's host
// in memory until its whole batch is garbage: a run over many distinct hosts
// keeps a forgotten host at most that much longer.
const handoffBatch = 512 / int(unsafe.Sizeof(Handoff{}))

// Handoffs makes Handoffs many at a time, for a caller that makes one
// per call (an engine consumer, one per attempt): one allocation serves
// several calls. Each Handoff is still used for one call only, so a
// context retained past its call never sees a later call's permit; it keeps
// its batch in memory meanwhile. A Handoffs is not safe for concurrent use.
type Handoffs struct{ buf []Handoff }

// New returns a Handoff of p under parent, as NewHandoff does.
func (s *Handoffs) New(parent context.Context, p Permit) *Handoff {
	if len(s.buf) == 0 {
		s.buf = make([]Handoff, handoffBatch)
	}
	c := &s.buf[0]
	s.buf = s.buf[1:]
	c.Context, c.p = parent, p
	return c
}
