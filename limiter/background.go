package limiter

import "math"

// A server may refuse a share of requests at any load (one sick backend
// behind a load balancer, a flaky upstream): it refuses at every level,
// the lowest included, at a steady share, and a cut does not stop it. A
// full server refuses only past its capacity, and no more once a cut took
// the limit below the level it refused; a rate limit refuses the requests
// past its rate in runs. background tells a share refused at any load from
// them, so that a bare drop within that share is not cut for.
const (
	bgMax      = 0.1       // the highest share of requests taken for refused at any load (see share)
	bgPrior    = 20        // answers that count as served before any below the level is seen (see share)
	bgLowMax   = 500       // answers below the level the share is kept over (halved past it)
	bgRecent   = 400       // answers since the last cut a drop is tested over (halved past it)
	bgShort    = 16        // answers the recent drops are counted over at least (see background.rn)
	bgAlpha    = 0.01      // the chance under the share below which drops are too many for it
	bgMinLimit = minFloorN // the lowest limit a drop is not cut for at
)

// background is what a host's bare drops (no gate) tell of a share of
// requests refused at any load. Its zero value knows no share: every drop
// is cut for.
type background struct {
	// lowN counts the answers to requests taken after the last cut with
	// 2 to low in flight, low being one below the in-flight count of the
	// last bare drop that cut the limit (or, where it ended slow start,
	// the limit it left): levels a full server served before it refused.
	// lowK counts the bare drops among them.
	lowN, lowK float32
	// n counts the answers to requests taken since the last cut and k the
	// bare drops among them; rn and rk the same, each answer weighing
	// 1-1/max(bgShort, 2×limit) of the one after it: a rate limit refuses
	// in runs, once its burst is spent.
	n, k, rn, rk float32
	low          int32
	// run counts the bare drops in a row among the last answers counted,
	// no success between: a rate limit whose burst is spent refuses in
	// runs, a share refused at any load only by chance.
	run uint8
}

// answer counts the answer to a request taken at the in-flight count busy
// under limit, a bare drop if drop, if it was taken after the last cut
// (after): the answers of the requests out at the cut tell nothing of
// whether the cut stopped the drops.
func (b *background) answer(busy int, drop, after bool, limit float64) {
	switch {
	case !drop:
		b.run = 0
	case b.run < math.MaxUint8:
		b.run++
	}
	if !after {
		return
	}
	one := float32(0)
	if drop {
		one = 1
	}
	keep := float32(1 - 1/max(bgShort, 2*limit))
	b.rn, b.rk = b.rn*keep+1, b.rk*keep+one
	if b.n, b.k = b.n+1, b.k+one; b.n > bgRecent {
		b.n, b.k = b.n/2, b.k/2
	}
	if busy < 2 || busy > int(b.low) {
		// A request sent alone that a server refuses tells of a rate or
		// an outage (see Host.droppedAloneLocked), not of a level.
		return
	}
	if b.lowN, b.lowK = b.lowN+1, b.lowK+one; b.lowN > bgLowMax {
		b.lowN, b.lowK = b.lowN/2, b.lowK/2
	}
}

// share is the share of requests refused at any load, as far as the
// answers below the last cut's level tell: 0 where they tell more than
// bgMax, a server that refuses below that level for its load (a rate
// limit, or a capacity that fell).
func (b *background) share() float64 {
	if s := float64(b.lowK) / (float64(b.lowN) + bgPrior); s <= bgMax {
		return s
	}
	return 0
}

// drop counts a bare drop of a request taken at the in-flight count busy
// under limit (see answer) and reports whether the share the answers
// before it tell explains it: a request since the last cut succeeded (a
// server that refuses everything for a while refuses every request after
// a cut too), the bare drops right before it, no success between, come in
// a row with a chance of bgAlpha or more at the share (a rate limit whose
// burst is spent refuses every request until its next token), and under a
// Poisson law of the share's mean as many drops or more as came since the
// cut, and as came lately (rk over rn), come with a chance of bgAlpha or
// more.
func (b *background) drop(busy int, after bool, limit float64) bool {
	share, run := b.share(), b.run
	b.answer(busy, true, after, limit)
	return math.Pow(share, float64(run)) >= bgAlpha && b.k < b.n &&
		poissonTail(share*float64(b.n), int(math.Round(float64(b.k)))) >= bgAlpha &&
		poissonTail(share*float64(b.rn), int(math.Round(float64(b.rk)))) >= bgAlpha
}

// cut notes a cut for a bare drop of a request taken at busy in flight
// that left the limit at limit; slow is set if it ended slow start, whose
// step may have been refused far past the capacity.
func (b *background) cut(busy int, limit float64, slow bool) {
	b.n, b.k, b.rn, b.rk = 0, 0, 0, 0
	b.low = int32(max(1, busy-1))
	if slow {
		b.low = int32(max(1, limit))
	}
}

// poissonTail is the chance that a Poisson variable of mean mean is k or
// more.
func poissonTail(mean float64, k int) float64 {
	if k <= 0 {
		return 1
	}
	if mean <= 0 {
		return 0
	}
	term, below := math.Exp(-mean), 0.0
	for i := range k {
		below += term
		term *= mean / float64(i+1)
	}
	return max(0, 1-below)
}
