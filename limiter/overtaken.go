package limiter

import "time"

// Overtaken reports whether a request whose permit was taken after p's has
// succeeded already. A request that then gets no answer in time was lost
// (one the server left hanging, or dropped on the way), not held in a queue:
// the host answers the requests sent behind it, and a caller may release p
// Ignored rather than Dropped, so that a host hanging a share of its requests
// keeps the concurrency its answers earn. The zero Permit is never overtaken.
func (p Permit) Overtaken() bool {
	h := p.h
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.okSeq > h.seqOf(p)
}

const (
	// lostWait is how many times its host's smoothed RTT a request waits
	// unanswered before Outwaited takes it for lost rather than queued.
	lostWait = 8
	// lostSpan is how many permits may have been taken since the host's
	// last success for Outwaited to hold: a host that answers no more is
	// cut again after a few bursts of them.
	lostSpan = 16
)

// Outwaited reports whether p's request, unanswered after waited, waited
// lostWait times its host's smoothed RTT or more. A queue at the server
// that our requests built shows in the RTT of the answers before it comes
// to that (the default strategy shrinks the limit from a rise of 40%), and
// answers that waited in a queue raise the smoothed RTT in turn: a request left that long where
// the host answers in a fraction of it was lost (one the server left
// hanging, or dropped on the way), and a caller may release p Ignored
// rather than Dropped, so that a host hanging a share of its requests
// keeps the concurrency its answers earn, also when none overtakes them
// (at a concurrency of one, or once its last items are the ones it
// hangs). Only a host that answers holds: one that has not answered yet
// (no smoothed RTT), or none of the last lostSpan requests taken for it,
// is cut as before (a host that stops answering is not sent whole bursts
// at the limit its answers had earned for long). The zero Permit never
// outwaits.
func (p Permit) Outwaited(waited time.Duration) bool {
	h := p.h
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ctl.srtt > 0 && waited >= lostWait*h.ctl.srtt && h.ctl.seq-h.okSeq <= lostSpan
}
