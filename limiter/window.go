package limiter

import "time"

// A fixed window stated only in an API's docs (no quota headers) admits its
// Limit in each window and refuses the rest with a Retry-After to the
// window's end. Read as a token bucket, its Limit looks like a burst and
// the rate fitted to it stays under the window's; paced above it,
// each refusal near a window's end gates the host for most of the next
// window. What tells a window from a bucket: episodes (the requests from one
// gate's end to the next refusal) that lie within one window are each
// admitted the same count however long they took, where a bucket admits more
// the longer the episode (its refill).
const (
	windowSlack = 16                     // the counts within a sixteenth (2 at least) of each other
	windowGate  = 500 * time.Millisecond // the shortest gate read: a Retry-After of a second, read a little late
	windowRead  = 100 * time.Millisecond // how late a Retry-After in whole seconds may be read
	windowGain  = 2                      // a bucket at the window's rate would have added this many requests beyond that slack over the longer episode
)

// windowEpisodes keeps the last two episodes ended by a refusal with a gate
// of a second or more, counted by the numbers of their requests.
type windowEpisodes struct {
	from uint64 // the first request started since the last such refusal (0: none yet)
	own  bool   // the gate in hand is a pause of the limiter's own, not a Retry-After

	n    [2]int           // requests before the refused one in each episode, the latest first
	el   [2]time.Duration // each episode's length
	seen int
	gate time.Duration // the longest gate such a refusal closed
	rate float64       // the window's rate, once read
}

// sent notes that the request numbered seq started: no request starts while
// a gate holds, so the first after a refusal's is its episode's first.
func (w *windowEpisodes) sent(seq uint64) {
	if w.from == 0 {
		w.from = seq
	}
}

// note records an episode of el holding n requests before the refused one,
// whose refusal closed a gate of gate. It reports the rate of a fixed window
// where this episode and the last held the same count (within windowSlack)
// over lengths far enough apart that a bucket refilling at that rate would
// have admitted windowGain more than that slack in the longer one: the count
// per the longest gate seen (a Retry-After to a window's end is at most the
// window), less fitMargin.
func (w *windowEpisodes) note(el, gate time.Duration, n int) (float64, bool) {
	if gate < windowGate || w.own {
		// Not a Retry-After of whole seconds.
		w.seen = 0
		return 0, false
	}
	w.n[1], w.el[1], w.n[0], w.el[0] = w.n[0], w.el[0], n, el
	w.seen = min(w.seen+1, 2)
	if r := gate.Round(time.Second); (r - gate).Abs() < windowRead {
		gate = r // a Retry-After in whole seconds, read late by the answer's way
	}
	w.gate = max(w.gate, gate)
	if w.seen < 2 {
		return 0, false
	}
	lo, hi := min(w.n[0], w.n[1]), max(w.n[0], w.n[1])
	slack := max(2, lo/windowSlack)
	rate := float64(lo) / w.gate.Seconds()
	if lo < minFit || hi-lo > slack || rate*(w.el[0]-w.el[1]).Abs().Seconds() < float64(slack+windowGain) {
		return 0, false
	}
	w.rate = fitMargin * rate
	return w.rate, true
}
