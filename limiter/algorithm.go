package limiter

import (
	"math"
	"time"

	"github.com/platinummonkey/go-concurrency-limits/core"
	"github.com/platinummonkey/go-concurrency-limits/limit"
)

// Default strategy tuning (see Config.Algorithm).
const (
	delayGrow     = 1.2              // RTT/base of which a larger rise shrinks the limit in proportion
	delayHold     = 1.1              // RTT/base from which the limit does not probe past the last drop's
	holdFloor     = time.Millisecond // a smaller rise is scheduling noise, not a queue (see queueBase)
	delayProbe    = 4                // windows just below the last drop's limit before probing beyond it
	delayProbeMax = 64               // at most, after drops at that limit again and again
	delayShrink   = 1.4              // RTT/base above which the limit shrinks
	delayStep     = 0.05             // growth per window, relative to the limit
	delayDrop     = 0.85             // the limit after a drop, relative to it
	gateProbe     = 16               // gates' lengths to stay below a level refused with a gate before probing it
	gateProbeMax  = 128              // at most, after refusals at that level again and again
	gateHoldMax   = 5 * time.Minute  // and at most this long, unless gateProbe gates are longer
	gateOnce      = 8                // gates' lengths to stay below a level refused once at the in-flight peak
	luckWindows   = 16               // windows that filled a level without a refusal, after which it was not served by luck
	lossAfter     = 3                // windows that filled a level without a drop, after which its bare drop is loss
	// lossThrottleAfter is lossAfter for a throttle without a Retry-After
	// (see Host.throttleLossLocked): a rate quota refuses at a level it
	// admitted for a while, once its burst is spent.
	lossThrottleAfter = 12
)

func newAlgorithm(cfg Config) algorithm {
	switch cfg.Algorithm {
	case AIMD:
		return &coreAlgorithm{make: func(n int) core.Limit {
			return limit.NewAIMDLimit("limiter", n, 0.9, 1, nil)
		}}
	case Gradient2:
		return &coreAlgorithm{make: func(n int) core.Limit {
			// Its only error is Min > Max, which New rejects.
			l, _ := limit.NewGradient2Limit("limiter", n, cfg.Max, cfg.Min, nil, 0.2, 600, nil, nil)
			return l
		}}
	case Vegas:
		return &coreAlgorithm{make: func(n int) core.Limit {
			return limit.NewVegasLimitWithRegistry("limiter", n, nil, cfg.Max, -1, nil, nil, nil, nil, nil, -1, nil, nil)
		}}
	case Fixed:
		return &coreAlgorithm{make: func(n int) core.Limit {
			return limit.NewFixedLimit("limiter", n, nil)
		}}
	}
	return &delayAlgorithm{}
}

// coreAlgorithm drives one of go-concurrency-limits' core.Limit algorithms
// from this package's windows: one OnSample per window with the window's
// mean RTT (the minimum hides queueing), its highest in-flight count and
// whether it saw a drop. No limit-change listener is registered.
type coreAlgorithm struct {
	make func(initial int) core.Limit
	lim  core.Limit
}

func (a *coreAlgorithm) window(w windowStats) float64 {
	a.lim.OnSample(w.start.UnixNano(), int64(w.mean), w.inFlight, w.drop)
	return float64(a.lim.EstimatedLimit())
}

func (a *coreAlgorithm) reset(n float64) { a.lim = a.make(max(1, int(n))) }

// knee does nothing: go-concurrency-limits' algorithms keep no such level.
func (a *coreAlgorithm) knee(float64) {}

// gated does nothing: go-concurrency-limits' algorithms keep no such level.
func (a *coreAlgorithm) gated(_ windowStats, _ time.Time, served float64) float64 { return served }

// delayAlgorithm is the default strategy: grow while the RTT stays near its
// baseline, hold while a small queue forms, shrink in proportion to the RTT
// rise beyond that, cut on drops. It remembers the limit of the last drop:
// after a cut it returns quickly to just below it, and probes beyond it only
// after a few windows there, since a server that answers overload before
// any queue shows (an in-flight cap) gives no other warning. Each probe
// refused at that level again doubles the windows before the next one,
// but a bare refusal at a level served for lossAfter windows is loss, not
// that level's end (see window).
// A refusal that closed no gate cuts only to just below its level.
//
// A refusal that closed a gate costs the whole gate, which may be hundreds
// of windows on a fast server: the limit then stays below the level refused
// until gateProbe times the gate has passed since the gate's end (twice as
// long each time the probe is refused at that level again, up to
// gateProbeMax times or gateHoldMax, whichever is shorter, but never less
// than gateProbe times), so that gates take a small share of the time. Only
// a second refusal just past the highest level served is taken as the
// capacity's end (see gated). After such a refusal the limit goes back to
// the highest level served, not to just below the refused one, and steps
// towards a level refused with a gate one request at a time. A server that
// has refused with a gate past the levels it served may have a queue too
// small to show a rise before it refuses: there a level whose RTT rose to
// delayGrow is taken as that of a drop, and one whose RTT rose to delayHold
// is not grown past. Just below the last drop, a level whose RTT rose over
// the level the limit grew from as a queue there makes it is not probed
// past either (see queuedPastLevel).
type delayAlgorithm struct {
	wmax      float64 // the limit when the last drop came (see window), 0 if none
	gateUntil int64   // Unix nanoseconds: the limit stays below heldLevel until then
	served    int32   // highest in-flight level of a window without a drop
	seen      int32   // the level of the last such drop not yet taken as the capacity's end
	gateLevel int32   // permits in use at the last drop that closed a gate at the capacity's end, 0 if none
	at        uint8   // windows spent just below wmax since the last probe, up to delayProbeMax
	probe     uint8   // windows to spend there before probing: doubles while drops come back at wmax
	since     uint8   // windows that filled the limit since it last rose or was cut, up to 255
	// flags holds refusedPast, set once a refusal with a gate came past
	// every level served, heldOnce, set while the limit stays below
	// gateLevel for a single refusal at the in-flight peak, coldHold,
	// set while that refusal came before anything was served and the
	// cold start's other answers may still show it was no capacity's end
	// (see gated and coldAnswer), in gateTimesMask how many times the wait
	// before gateUntil was gateProbe gates doubled, and gatedCut with its
	// count of full windows in fullMask (see refusedAfterGate).
	flags uint8
	// grewFrom is the in-flight level of the last window this strategy
	// grew the limit from, and grewRTT its smoothed RTT in seconds (see
	// queuedPastLevel); 0 if none since the last drop it read (slow start's
	// own steps and drops do not pass through window). A record left from
	// a lower level only reads a queue that rose by its levels' ratio.
	grewFrom int32
	grewRTT  float32
}

const (
	refusedPast uint8 = 1 << iota
	heldOnce
	coldHold
	// gateTimesShift is where the count of gateProbe's doublings starts
	// in flags (at most 3: gateProbe<<3 is gateProbeMax).
	gateTimesShift = iota
	gateTimesMask  = 3 << gateTimesShift
	// gatedCut is set by a drop that closed a gate and cleared by the
	// fullWindows-th window since served in full at its limit: while it is
	// set, the limit has not been shown to hold since that gate (see
	// refusedAfterGate). The windows are counted in the two bits at
	// fullShift.
	gatedCut  uint8 = 1 << 5
	fullShift       = 6
	fullMask  uint8 = 3 << fullShift
)

// fullWindows is how many windows served in full at the limit show that it
// holds after a gated drop: the first after it may hold the answers of the
// requests out when the gate closed, and the next the restart's, sent
// into a server the gate emptied.
const fullWindows = 3

// gateTimes is how many times the wait before gateUntil was gateProbe
// gates doubled.
func (a *delayAlgorithm) gateTimes() uint8 { return (a.flags & gateTimesMask) >> gateTimesShift }

// setGateTimes sets gateTimes to n (at most 3).
func (a *delayAlgorithm) setGateTimes(n uint8) {
	a.flags = a.flags&^gateTimesMask | n<<gateTimesShift&gateTimesMask
}

func (a *delayAlgorithm) window(w windowStats) float64 {
	l := w.limit
	ratio := w.ratio()
	// A move needs the window and the smoothed RTT to agree: a single
	// noisy window neither grows the limit past a small queue nor cuts it.
	hi, lo := max(ratio, w.smoothRatio()), min(ratio, w.smoothRatio())
	if hi >= tailRatio && ratio < delayHold && w.floorRise == 0 && l >= 2*minFloorN {
		// The smoothed RTT still holds a window of slow answers (a
		// client's stall, or a cache's misses: see mixed) that this one,
		// at the baseline with its fastest answer near the host's, does
		// not show: a queue that raised it would delay this window's
		// answers too.
		hi = ratio
	}
	floorRise := w.floorRise
	if w.calm && hi < tailRatio {
		// Answers that spread as widely as their mean, whose fastest lies
		// where it does without a queue: the mean's rise is the spread's.
		hi, lo = min(hi, 1), min(lo, 1)
	}
	if w.capOnly {
		// A server that refuses past its cap at once and at no cost tells
		// its level by its refusals: the RTT, which says little there
		// (service times that spread widely, a baseline read low), neither
		// holds nor cuts the limit.
		hi, lo, floorRise = 1, 1, 0
	}
	if !w.drop && w.mean > 0 {
		a.served = max(a.served, int32(w.inFlight))
		if w.inFlight >= int(l) && a.flags&gatedCut != 0 {
			if n := a.flags&fullMask>>fullShift + 1; n >= fullWindows {
				a.flags &^= gatedCut | fullMask
			} else {
				a.flags = a.flags&^fullMask | n<<fullShift
			}
		}
	}
	switch {
	case w.drop:
		// A server refuses past its capacity at once, within a window of
		// the level that passed it. A bare refusal (no 429, no gate) at a
		// level that lossAfter windows filled without one is loss: a share
		// of requests refused at any load (one sick backend behind a load
		// balancer, a flaky upstream), which comes at lower levels too. It
		// is cut for, but it neither makes the probe past the last drop's
		// level rarer nor lowers that level, or such refusals would take
		// the limit to its floor one by one.
		loss := w.refused == 0 && w.gate == 0 && a.since >= lossAfter
		again := a.refusedAfterGate(w)
		if a.wmax > 0 && l <= a.wmax+1 && !loss {
			// A probe past the last drop's level was refused again: probe
			// less often.
			a.probe = min(2*a.probe, delayProbeMax)
		} else {
			a.probe = delayProbe
		}
		if !loss || l > a.wmax {
			a.wmax = l
		}
		a.at = 0
		if w.refused > 0 {
			// A refusal without a gate (an in-flight cap) names its level.
			a.wmax = min(l, float64(w.refused))
		}
		l = max(l*delayDrop, min(l-1, float64(w.refused-1)))
		if w.gate > 0 {
			// A whole request fewer: under 1/(1-delayDrop) requests a cut
			// may keep the limit's whole number, and the gate's end would
			// send as many into the same refusal.
			l = min(l, max(1, math.Floor(w.limit)-1))
		}
		if again {
			// The level refused is not the one to climb back towards:
			// the restart's first windows read the RTT of a server the
			// gate emptied, whatever its capacity.
			l *= delayDrop
			a.wmax = l
		}
		if w.gate > 0 && a.served > 0 && float64(a.served)+1 < a.wmax {
			// A refusal with a gate past the highest level served: back
			// to that level, which was served, not to just below the
			// refused one, which a growth step may have overshot.
			a.wmax = float64(a.served) + 1
		}
	case ratio == 0:
	case lo > delayShrink && !w.mixed(l) && (!w.wideHost || w.floorRise > 0 && w.queued && w.again):
		l *= max(0.5, delayGrow/lo)
	case lo > delayShrink:
		// Answers of a server whose service times spread widely, not a
		// queue: the limit holds. (Where they spread as widely as their
		// mean, a queue that delays them all shows in the fastest answer,
		// floorRise, window after window: a rise of the mean it does not
		// show is the spread's, and so is a single window whose fastest
		// answer lies high, as the fastest of a few answers spread that
		// widely does one window in seven or so. A window of too few
		// answers to tell, or of alike ones, holds too.)
	case w.inFlight < int(l):
	case hi >= delayGrow:
		if a.flags&refusedPast != 0 && l > a.wmax && lo >= delayGrow {
			// A server that refused with a gate past the levels it served
			// may refuse before a queue shows more than this rise: a level
			// where the window and the smoothed RTT both show it is probed
			// past as that of a drop.
			a.knee(l)
		}
	case l+1 < a.wmax:
		// Back towards the level of the last drop, half the way a window.
		l = min(a.wmax-1, max(l+max(1, l*delayStep), l+(a.wmax-1-l)/2))
	case a.wmax > 0 && l < a.wmax+1 && (a.at < a.probe || hi >= delayHold && w.mean-w.base >= max(holdFloor, 2*w.stderr) || a.queuedPastLevel(w)):
		// Just below the last drop: probe beyond it only now and then, and
		// not while a queue shows (a small one may be all the server has),
		// against the baseline or against the level the limit grew from.
		a.at = min(a.at+1, delayProbeMax)
	case a.flags&refusedPast != 0 && hi >= delayHold && w.mean-w.base >= max(holdFloor, 2*w.stderr):
		// A server that refused with a gate past the levels it served,
		// and a queue shows: its queue may be too small to show delayGrow
		// before it refuses again (one of an eighth of its slots delays
		// the mean by an eighth at most), and past its slots a level more
		// serves no faster. The limit holds, as just below the last drop.
	case floorRise > 0 && l+1 > float64(a.served):
		// Past every level served, and the level's fastest answer rose
		// well over the host's fastest: its requests wait in a queue that
		// the RTT against a baseline raised by a loaded client's cold
		// start does not show, and the next level may be refused.
	case w.capOnly && a.wmax > 0 && l < a.wmax+1:
		// Probing an in-flight cap past the level it refused: a request
		// more, so that a probe it refuses again costs one refusal.
		a.at = 0
		l++
	default:
		a.at = 0
		l = a.grow(l)
	}
	if level := a.heldLevel(); level > 0 && w.start.UnixNano() < a.gateUntil {
		// Not past a level refused with a gate before its time; the windows
		// spent below it count as those before a probe.
		if hold := max(w.limit, float64(level-1)); l > hold {
			l, a.at = hold, a.probe
		}
	}
	switch {
	case w.drop:
		a.grewFrom, a.grewRTT = 0, 0
	case l > w.limit && w.srtt > 0 && w.inFlight >= int(w.limit):
		a.grewFrom, a.grewRTT = int32(w.inFlight), float32(w.srtt.Seconds())
	}
	switch {
	case w.drop || l > w.limit:
		a.since = 0
	case w.inFlight >= int(w.limit) && a.since < math.MaxUint8:
		a.since++
	}
	return l
}

// queuedPastLevel reports whether w, a window of a level above grewFrom,
// the one the limit last grew from, reads a queue against that level's
// RTT: its mean or the smoothed RTT lies nearer the RTT a server whose
// slots end at grewFrom gives the window's level (grewRTT times the levels'
// ratio, by Little's law) than grewRTT. Past its slots a level more serves
// no faster, and on a server whose queue holds a few requests it is the one
// refused: on 8 slots + 1 queued × 5 ms, 9 in flight read 1.125 over 8, a
// rise of 0.6 ms that the baseline test reads as scheduling noise (see
// holdFloor), and the probe to 10 was refused with a 1 s gate in every
// cold start. Read against a level served in the same steady state, not
// the baseline: slow start's baseline is taken from each level's first
// answers, its fastest, and a server with room whose service times spread
// reads a rise of a tenth against it at any level. Not for an in-flight cap
// known to refuse at no cost (capOnly), whose RTT says little.
func (a *delayAlgorithm) queuedPastLevel(w windowStats) bool {
	at := a.queueAt(w)
	return at > 0 && max(w.mean, w.srtt) >= at
}

// queueAt is the RTT from which w reads a queue against the level the
// limit grew from (see queuedPastLevel), 0 if it reads none.
func (a *delayAlgorithm) queueAt(w windowStats) time.Duration {
	if a.grewRTT == 0 || w.capOnly || int32(w.inFlight) <= a.grewFrom {
		return 0
	}
	queued := float64(w.inFlight) / float64(a.grewFrom)
	return time.Duration(float64(a.grewRTT) * (1 + (queued-1)/2) * float64(time.Second))
}

// heldLevel is the level the limit stays below until gateUntil: gateLevel,
// or the level of a refusal in slow start's step that no window has told
// from a flap yet (see stepQueued), 0 if none.
func (a *delayAlgorithm) heldLevel() int32 {
	if a.gateLevel == 0 && a.gateUntil != 0 {
		return a.seen
	}
	return a.gateLevel
}

// mixed reports whether w, a window of the default strategy at limit l
// whose mean RTT is tailRatio baselines or more, holds answers of a server
// whose service times spread widely (a cache's hits and misses, 20 ms and
// 1 s) rather than ones a queue delayed: its fastest answer stayed near the
// host's fastest (see floorAbove) and its answers lie far apart. A queue
// that raises the mean that much delays every answer, the fastest too, and
// them all alike. Below 2×minFloorN a window may hold too few answers to
// tell, and under queueBase the floor is not read.
func (w windowStats) mixed(l float64) bool {
	return w.floorRise == 0 && l >= 2*minFloorN && w.base >= queueBase && w.ratio() >= tailRatio &&
		32*w.stderr >= w.mean-w.base
}

// refusedAfterGate reports whether the drop w closed a gate right after
// another drop closed one, with the limit still below that drop's level and
// fewer than fullWindows windows since served in full at the limit, and its
// request went out with half the limit or more in flight: the server took
// part of the restart after the gate and refused the rest, so its capacity
// fell below what the last cut left (a neighbour's batch job, the time of
// day), and a cut of delayDrop alone would be refused gate after gate. A
// blackout refuses a restart's first requests, sent with few in flight, and
// is not taken for it. It notes whether w closed a gate, for the next drop.
func (a *delayAlgorithm) refusedAfterGate(w windowStats) bool {
	again := w.gate > 0 && a.flags&gatedCut != 0 && a.wmax > 0 && w.limit < a.wmax && float64(w.busy) >= w.limit/2
	a.flags &^= gatedCut | fullMask
	if w.gate > 0 {
		a.flags |= gatedCut
	}
	return again
}

// grow returns the limit l grown by a step, or by one request where the
// step would reach one below a level refused with a gate that l is below
// (the last refusal not yet taken as the capacity's end, or the level
// held): a server refuses there again, and a smaller overshoot is refused
// at the same level, which confirms it (see gated).
func (a *delayAlgorithm) grow(l float64) float64 {
	next := l + max(1, l*delayStep)
	for _, level := range [...]int32{a.seen, a.gateLevel} {
		if level > 0 && l < float64(level) && next >= float64(level-1) {
			next = l + 1
		}
	}
	return next
}

// gated takes the level of a drop that closed a gate of w.gate at now, if
// it was at most one slow-start step (slowStepAt) above the highest level
// served without a drop (served, or one a window showed) and the last such
// drop came at that level or one above: the level where the server's
// capacity ends. (Slow start's step, not the settled limit's: a server
// with no queue shows no RTT rise before it refuses, so its first refusal
// comes a whole slow-start step past the level served; taken for less, it
// was forgotten, and the limit stepped back into it for a second gate.) A
// refusal at a level already served says nothing about the level (a
// blackout refuses them all) unless it recurs there (see refusedServed);
// the host's first refusal, with none served
// yet, of a request sent with others in flight is held on trust (see
// coldAnswer). The limit does not reach
// that level again for gateProbe gates' lengths after the gate, or twice
// the last wait if the drop came back at that level. Any refusal with a
// gate past every level served marks the server as one that may refuse
// before its queue shows (refusedPast).
func (a *delayAlgorithm) gated(w windowStats, now time.Time, served float64) float64 {
	a.gate(w, now, served)
	return float64(a.served)
}

// gate is gated but for its result.
func (a *delayAlgorithm) gate(w windowStats, now time.Time, served float64) {
	a.served = max(a.served, int32(served))
	a.flags &^= coldHold
	level := int32(w.limit)
	if w.inFlight > 0 {
		level = min(level, int32(w.inFlight))
	}
	if a.served == 0 && w.first >= 2 {
		// A cold start's first requests went out together, more than a
		// server of a slot or two takes: it refuses those past its slots
		// and queue, and the limit would step back into that level right
		// after the gate. The level of the refused request is held
		// as a refusal at the peak, on trust until the others' answers
		// tell a capacity (those below it served, those above refused)
		// from a blackout or a flap (see coldAnswer).
		level = min(level, int32(w.first))
		a.seen, a.gateLevel = level, level
		a.flags |= heldOnce | coldHold
		a.gateUntil = now.Add(w.gate + gateOnce*w.gate).UnixNano()
		return
	}
	if a.served == 0 {
		return
	}
	if level <= a.served {
		if w.busy >= int(w.limit)-1 {
			// Not a restart's first requests, which a blackout refuses.
			a.refusedServed(max(level, int32(w.busy)), w.gate, now)
		}
		return
	}
	step := slowStepAt(w.base)
	wide := step > slowStep
	if wide && w.busy > int(a.served) {
		// A slow host's step (see slowStepAt) sends many requests at
		// once past the level served: the server refused from the first
		// one past its capacity on, so that request's in-flight count
		// names the level, not the step's top.
		level = min(level, int32(w.busy))
	}
	a.flags |= refusedPast
	if float64(level) > float64(a.served)*step+1 {
		return
	}
	if a.seen == 0 || level < a.seen-1 || level > a.seen {
		// The first refusal there: a blackout's may come at any level
		// once; a capacity's end refuses at the same level again, or one
		// below. A limit that got past the level of the last refusal
		// before it was refused (a ramp through a server that flaps)
		// names a new level.
		a.seen = level
		if w.peak || wide {
			// A refusal of a request sent as the in-flight count first
			// rose to its peak is where a capacity's end refuses, and a
			// flap seldom: the level is held for gateOnce gates, so
			// that a small server's cold start pays a single gate. So
			// is the first refused of a slow host's wide step, whose
			// later requests went out at higher counts.
			a.gateLevel, a.flags = level, a.flags|heldOnce
			a.gateUntil = now.Add(w.gate + gateOnce*w.gate).UnixNano()
		} else if w.step {
			// A refusal in slow start's step past the levels it served,
			// of another request than the peak's: a capacity's end or a
			// flap. It is held as the peak's once a window that follows
			// shows that the requests out with it waited in a queue, and
			// let go once one shows they did not (see stepQueued); until
			// then only its time is kept, and the limit stays below it
			// (see heldLevel).
			a.gateUntil = now.Add(w.gate + gateOnce*w.gate).UnixNano()
		}
		return
	}
	if a.gateLevel > 0 && level >= a.gateLevel-1 && level <= a.gateLevel+1 && a.flags&heldOnce == 0 {
		if gateProbe<<(a.gateTimes()+1) <= gateProbeMax {
			a.setGateTimes(a.gateTimes() + 1)
		}
	} else {
		a.setGateTimes(0)
	}
	wait := max(gateProbe*w.gate, min(time.Duration(gateProbe<<a.gateTimes())*w.gate, gateHoldMax))
	a.gateLevel, a.flags = level, a.flags&^heldOnce
	a.gateUntil = now.Add(w.gate + wait).UnixNano()
}

// stepQueued takes a window after a refusal in slow start's step past the
// levels it served that was not held at once (see gate), told being
// whether the window holds answers enough to tell a queue (see
// floorTells) and queued whether its fastest answer rose (see
// floorAbove): the requests out with the refused one waited in a queue,
// so the server was full, not flapping, and the level is held as a
// refusal at the in-flight peak is. A window that tells no queue lets the
// refusal go as one a flap may have made; one too small to tell leaves it
// to the next (a small server's window after its gate closes on two or
// three answers, all of them queued, and a refusal let go on it stepped
// the limit back into the level for a second gate). A refusal no window
// told by its time, gateUntil, is let go.
func (a *delayAlgorithm) stepQueued(start time.Time, told, queued bool) {
	if a.gateLevel != 0 || a.gateUntil == 0 {
		return
	}
	if start.UnixNano() >= a.gateUntil {
		a.gateUntil = 0
		return
	}
	if !told && !queued {
		return
	}
	if queued {
		a.gateLevel, a.flags = a.seen, a.flags|heldOnce
		return
	}
	a.gateUntil = 0
}

// refusedServed takes a refusal with a gate of gate at now, of a request
// taken with level in flight, at a level already served. A blackout
// refuses every level and a flap any once, but a server whose capacity
// ends just below a level served by luck (answers still in flight to the
// client free the server's slots for requests the client counts one
// higher; requests sent together arrive out of order) refuses there again
// each time the limit comes back to it, within luckWindows of a rise or a
// cut: the third such refusal in a row at that level or one below it is
// taken as the capacity's end, and the level is held for gateOnce gates,
// as a refusal at the in-flight peak is. So is one at a level held or
// refused so before, or one below it. The level served falls below it.
func (a *delayAlgorithm) refusedServed(level int32, gate time.Duration, now time.Time) {
	if level < 2 || a.since >= luckWindows {
		return
	}
	held := a.gateLevel > 0 && now.UnixNano() < a.gateUntil
	switch {
	case a.gateLevel > 0 && level >= a.gateLevel-1 && level <= a.gateLevel:
		a.served = min(a.served, level-1)
		a.seen, a.gateLevel, a.flags = level, level, a.flags|heldOnce
		a.gateUntil = now.Add(gate + gateOnce*gate).UnixNano()
	case !held && a.seen > 0 && level >= a.seen-1 && level <= a.seen:
		// The second: the level is marked, not held.
		a.seen, a.gateLevel = level, level
	default:
		a.seen = level
	}
}

// coldAnswer takes the answer to a request taken at the in-flight count
// busy while a level refused at a cold start is held on trust (coldHold):
// a refusal of a request sent alone means a blackout, which refuses every
// level, and a success above the held level a flap; either ends the hold.
// A refusal below the level lowers it (the cold start's refusals come back
// in any order), and a success at it raises it by one: the server frees a
// slot as it sends an answer the client has not read yet, so that a
// request the client counts one higher finds it.
func (a *delayAlgorithm) coldAnswer(busy int32, refused bool) {
	switch {
	case refused && busy <= 1, !refused && busy > a.gateLevel:
		a.seen, a.gateLevel, a.gateUntil = 0, 0, 0
		a.flags &^= heldOnce | coldHold
	case !refused && busy == a.gateLevel:
		a.seen, a.gateLevel = busy+1, busy+1
	case refused && busy < a.gateLevel:
		a.seen, a.gateLevel = busy, busy
	}
}

// knee takes the level where slow start ended as that of a drop.
func (a *delayAlgorithm) knee(l float64) {
	a.wmax, a.at, a.probe, a.since = l, 0, max(a.probe, delayProbe), 0
}

// reset forgets the last drop's level when the limit is re-seeded far
// below it.
func (a *delayAlgorithm) reset(l float64) {
	if l < a.wmax*delayDrop*delayDrop {
		a.wmax, a.at = 0, 0
	}
}
