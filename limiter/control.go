package limiter

import (
	"math"
	"math/bits"
	"time"
)

// Window sizing: a window closes after at least one smoothed RTT (and
// minWindow: a shorter window says nothing useful about a network service)
// and a handful of samples, or at once on the first drop.
const (
	minWindow     = time.Millisecond
	sampleTarget  = 32               // timed permits a window holds at least, at a steady rate
	maxMask       = 1<<20 - 1        // at least one permit in 2^20 is timed
	maxNeed       = 10               // samples a window needs at most
	baseDrift     = 30 * time.Second // time constant of the baseline RTT's upward drift
	slowGrowRatio = 1.1              // below this RTT/base (beyond the noise), slow start grows; at or above it, it ends
	slowExitRatio = 1.5              // at or above it, slow start falls back to the last level without queueing
	slowStep      = 1.15             // slow start's growth per window over the level that runs without a queue (see slowStepAt)
	freeRead      = 1.15             // RTT/base at which a whole window of a level without a queue is read, once shown to be one
	tailRatio     = 4                // RTT/base from which an answer is one of a heavy tail's, unless most are (see foldTail)
	minFold       = 8                // answers a window needs before its slow ones are taken for a queue (see foldTooSoon)
	stallJump     = 2.0              // a window's RTT over the smoothed one from which it may be a client's stall (see stalled)

	// inProcessRTT: a host whose baseline RTT is below it answers in-process
	// work (no network round trip is this short, even on loopback), and
	// times one permit in inProcessMask+1 however few it hands out per
	// window: a rise that counts is queueBase/10 or more, hundreds of such
	// RTTs, and reading the clock for each of its permits costs more than
	// the work.
	inProcessRTT  = 10 * time.Microsecond
	inProcessMask = 15

	// queueBase is the smallest baseline RTT/base ratios are taken against:
	// on a faster service, a rise under 1 ms (the default strategy's 1.2×)
	// is scheduling noise on a loaded machine, not a queue at the server.
	queueBase = 5 * time.Millisecond
)

// control is a host's concurrency limit and the sampling loop that moves it.
// It is guarded by the host's mutex.
type control struct {
	min, max  float64
	limit     float64
	slowStart bool
	fixed     bool // Fixed: the limit never moves
	settle    bool // the window after a change shows the old limit: skip it
	rising    bool // slow start's last used window showed the RTT rising
	// filling is set while slow start's raised limit is being filled, filled
	// once it is full: the permits that fill it may find free slots a full
	// limit would not, so slow start counts only those started after it.
	filling, filled bool
	// due is set while a slow-start window that has its answers waits until
	// its level's first permits can be told from ones that waited (see
	// watch). With the flags above, so that it takes no word of its own.
	due bool
	// coldN is the first samples taken for the baseline, up to maxNeed*2
	// or a little more (see observeRTT); in the bools' padding.
	coldN uint8
	alg   algorithm

	// latency sampling: a permit is timed when its seq&mask == 0
	seq    uint64 // permits handed out
	winSeq uint64 // seq when the open window started
	mask   uint64

	// the open window
	winStart    time.Time
	sum         time.Duration
	sumSq       float64 // of the samples in nanoseconds, for the mean's standard error
	n           int32
	winInFlight int32
	drops       int32
	// tailN answers of the open window took tailRatio baselines or more,
	// tailSum in all: they are left out of its mean while they are no more
	// than half of it (see foldTail).
	tailN   int32
	tailSum time.Duration

	srtt time.Duration // smoothed window mean RTT
	base time.Duration // baseline RTT: lowest window mean, drifting up slowly; raised where a rise proved no queue (see undoShrink)
	safe float64       // largest in-flight level slow start saw without queueing
	// exitAt is the limit at which slow start last ended on a rising RTT,
	// while a window without a queue at about that level may still show
	// the rise was noise (see resume); 0 if none. lastExit is the last
	// such limit. climbAt is the level at which slow start last ended on a
	// rising RTT with no refusal since, and climbRTT that window's mean
	// RTT in nanoseconds (then the lowest since), while windows past that
	// level may still show the rise was no queue (see climb), or, where
	// that was its first level, windows below it (see coldUndone); 0 if
	// none. A float32 holds a level to far less than a request.
	exitAt, lastExit, climbAt, climbRTT float32
	// strictAt is the level at which slow start ended before it resumed,
	// 0 if it never resumed: from there a resumed slow start takes a rise
	// within the noise as a rise, and grows by half its step up to
	// slowStep times that level.
	strictAt float32
	cuts     uint32 // windows closed by a drop; a permit carries the count at its start
	level    uint32 // changes of the limit; a permit carries the count at its start

	// refused is the in-flight count, the refused request's included, of a
	// throttle that closed no gate (an in-flight cap's 429), for the window
	// it closes; 0 if none.
	refused int32
	// lowest is the host's fastest answer, in microseconds, 0 if none (see
	// floorRise).
	lowest int32
	// refusals records the kinds of refusal the host has given: capBare
	// once a refusal closed no gate with capMin or more in flight (an
	// in-flight cap's 429), capOther once any other did (see closeWindow)
	// or the host learnt a rate from one (see Host.throttleLocked).
	refusals uint8
	// queued is set while the last window after slow start was one of a
	// wide spread whose fastest answer rose past twice where it typically
	// lies (see windowStats.queued), for the next window's again.
	queued bool
	// lateRun is the windows in a row slow start held as read late (see
	// readLate).
	lateRun uint8
	// coldLow is, while slow start holds a cold start's first level for a
	// window (see windowStats.coldLate), the mean RTT of that level's
	// answers that did not come back late (the ones its server served at
	// once) over the baseline the window set, in 255ths (see
	// windowStats.coldHeld); 0 at any other time.
	coldLow uint8
	// heldN is, while slow start holds that level for a window more (the
	// held windows' fastest answers having passed coldHeldFastest times
	// the host's fastest only), the answers of those held windows; 0 at
	// any other time.
	heldN   uint8
	coldSum time.Duration // the sum of the RTTs of the first samples (coldN); then fastGap

	// shrunkFrom is the limit before the default strategy last lowered it
	// without a drop, and shrunkRTT the mean RTT of the window that made it
	// do so, until the next window tells whether the cut relieved a queue
	// (see undoShrink); 0 if none.
	shrunkFrom, shrunkRTT float32

	// spreadAt is the level slow start last fell back to on a rise, in
	// whole requests, 0 if none; spreadMean is the mean RTT, in
	// nanoseconds, of the spreadN answers of the windows at or below it
	// that read as a wide spread with no queue (see spreadBase).
	spreadAt, spreadN uint16
	spreadMean        float32

	// gatedAt is level once a drop that closed a gate closed its window,
	// until the first window of answers to permits all taken after it
	// closes (see afterGate); 0 if none. preFastest is the fastest of the
	// open window's answers to permits taken before it, in microseconds,
	// 0 if none: the restart's answers, sent into a server the gate
	// emptied, tell nothing of whether the requests out with the refusal
	// waited in a queue (see delayAlgorithm.stepQueued).
	gatedAt    uint32
	preFastest int32

	// watch follows slow start's level for permits that waited in a queue
	// (see levelWatch); see due.
	watch levelWatch
}

// Kinds of refusal in control.refusals.
const (
	capBare  uint8 = 1 << iota // a refusal that closed no gate, capMin or more in flight (an in-flight cap's 429)
	capOther                   // any other
)

// capMin is the least in-flight count, the refused request's included, at
// which a refusal that closed no gate is taken for an in-flight cap's: a
// rate limit refuses so too, at the few requests in flight its rate and a
// short service time make (300/s at 5 ms: 2 to 4), and a window of so few
// answers tells little of a queue that the RTT would have to be ignored
// for.
const capMin = 2 * minFloorN

// windowStats is what a closed window tells an algorithm.
type windowStats struct {
	start    time.Time
	mean     time.Duration // mean RTT of the window's successes, 0 if none
	stderr   time.Duration // the mean's standard error, 0 with fewer than two successes
	base     time.Duration
	srtt     time.Duration // the smoothed mean RTT, this window's included
	inFlight int           // highest in-flight count in the window
	limit    float64
	drop     bool
	refused  int // see control.refused
	// gate is how long the gate the window's drop closed lasts from the
	// drop, 0 if it closed none.
	gate time.Duration
	// peak is set if the window's drop was of a request that went out
	// within a moment of the host's in-flight count first reaching its
	// highest.
	peak bool
	// step is set if the window's drop came in slow start's step past the
	// highest level it served: the step's requests go out together and
	// reach the server in any order (a loaded client reads answers late,
	// and sends the next requests as it reads them), so that the one
	// refused need not be the one that took the in-flight count to its
	// peak.
	step bool
	// busy is the host's in-flight count, the dropped request's included,
	// when the request the window's drop refused was taken; 0 if not known.
	busy int
	// first is, if the window's drop is the first the host ever had, the
	// host's in-flight count, the dropped request's included, when that
	// request was taken; 0 otherwise.
	first int
	// waited is, in slow start, the level's permits over those that did not
	// wait in a queue (see levelWatch), 0 if none waited.
	waited float64
	// floorRise is how far the window's fastest answer rose over the
	// host's fastest, in slow start beyond its noise (see floorRise),
	// after it beyond queueBase and floorRatio alone (see floorAbove); 0
	// if not or if a drop closed the window.
	floorRise time.Duration
	// capOnly is set if every refusal the host gave closed no gate (an
	// in-flight cap's 429s), and it gave one.
	capOnly bool
	// wide is set if the host's service times and the window's answers
	// spread as widely as their mean (see wideBase): a rise of the mean
	// that the fastest answer does not show (floorRise) is that spread's.
	wide bool
	// queued is set on such a window if its fastest answer rose past twice
	// where it typically lies (see fastGap), and again if the window
	// before was queued too: a cut for its mean needs both.
	queued, again bool
	// wideHost is set after slow start if the host's service times spread
	// as widely as their mean (see control.wide) and its baseline is
	// queueBase or more, whether or not the window's answers showed it: a
	// window of few answers, or of alike ones, cannot tell where its
	// fastest answer lies.
	wideHost bool
	// calm is set on such a window if its fastest answer lies where it
	// typically lies without a queue (see fastGap): the mean's rise is the
	// spread's, and the limit may grow.
	calm bool
	// coldQueue is set on a cold start's first window (see coldWait) whose
	// answers came back alike but for some of its level's requests that
	// waited in a queue: the initial limit already passes the server's
	// slots.
	coldQueue bool
	// coldLate is set on a cold start's first window whose answers did not
	// come back alike and some of whose level's requests came back
	// coldStragglerAge first answers late or later: a queue the initial
	// limit already makes on a small server, or a server whose service
	// times spread. The level holds for a window, which tells them apart
	// (see coldHeld).
	coldLate bool
	// coldHeld is set on the window after a coldLate one (see
	// control.coldLow) if even its fastest answer took coldHeldFloor times
	// the mean of the first window's answers that did not come back late:
	// every request of the level waited behind another. The level's mean
	// does not tell that from a server with room whose service times
	// spread: over the first window's faster answers, its answers read
	// 1.3 times higher at the median, as high as a level that queued one
	// request in four. Not on a host whose service times spread about as
	// widely as their mean (see control.wide): the first window's answers
	// that did not come back late are its few fastest, and the next
	// window's fastest lies past coldHeldFloor times their mean by chance
	// (a server of 32 slots answering in 0-40 ms ended its cold start at
	// the initial limit so in about one simulated run in six). Nor where
	// it misses that floor but passes coldHeldFastest times the host's
	// fastest answer: the level holds for a window more (coldLate), and
	// coldHeld is set on a later one if its fastest passes either and the
	// held windows hold coldHeldAnswers answers. A held window read while
	// the process ran late (see control.readLate) is not read: the level
	// holds for the next one. heldRise is the window's mean over the first
	// window's answers that did not come back late.
	coldHeld bool
	heldRise float64
	n        int // the successes the window's mean is of
}

// ratio is the window's RTT rise as a ratio to the baseline (see
// queueBase), or 0 if the window has no RTT or there is no baseline yet.
func (w windowStats) ratio() float64 { return w.rise(w.mean) }

// smoothRatio is ratio for the smoothed RTT: it moves a quarter of the way
// to each window's, so one noisy window does not swing it.
func (w windowStats) smoothRatio() float64 { return w.rise(w.srtt) }

// cut is the highest limit after a drop: 0.9× the limit, or just below the
// level of a refusal that closed no gate, if that is higher.
func (w windowStats) cut() float64 {
	c := 0.9 * w.limit
	if w.refused > 0 {
		c = max(c, min(w.limit-1, float64(w.refused-1)))
	}
	return c
}

func (w windowStats) rise(rtt time.Duration) float64 {
	if rtt == 0 || w.base == 0 {
		return 0
	}
	return 1 + float64(rtt-w.base)/float64(max(w.base, queueBase))
}

// algorithm moves the limit after slow start.
type algorithm interface {
	// window returns the new limit after a closed window.
	window(w windowStats) float64
	// reset re-seeds the algorithm at limit (after slow start, a clamp or a
	// forced cut).
	reset(limit float64)
	// knee tells it the limit at which slow start saw a queue form.
	knee(limit float64)
	// gated tells it that a drop at w.limit closed a gate of w.gate, in
	// slow start or not; served is the highest level slow start saw
	// without a queue. It returns the highest level it takes as served
	// now: a level served by luck (see delayAlgorithm.refusedServed) is
	// not.
	gated(w windowStats, now time.Time, served float64) float64
}

func (c *control) init(cfg Config) {
	c.min, c.max = float64(cfg.Min), float64(cfg.Max)
	c.limit = float64(cfg.Initial)
	c.alg = newAlgorithm(cfg)
	c.fixed = cfg.Algorithm == Fixed
	c.slowStart = !c.fixed
	c.alg.reset(c.limit)
}

func (c *control) intLimit() int { return int(c.limit) }

func (c *control) need() int {
	return min(maxNeed, max(2, int(c.limit)/2))
}

// onStart counts a permit handed out, inFlight being the count with it.
func (c *control) onStart(inFlight int) {
	c.seq++
	c.winInFlight = max(c.winInFlight, int32(inFlight))
	if c.filled {
		// This permit takes the slot of one that ended, under the load the
		// full limit makes.
		c.level++
		c.filled = false
	}
	if c.filling && inFlight >= int(c.limit) {
		c.filling, c.filled = false, true
	}
}

// sampled reports whether the last permit handed out is to be timed. Callers
// that read the clock anyway (TryAcquireAt) time every permit.
func (c *control) sampled() bool { return c.seq&c.mask == 0 }

// inProcess reports whether the host's work takes microseconds (its RTT
// baseline is under inProcessRTT): no request crosses a network.
func (c *control) inProcess() bool { return c.base > 0 && c.base < inProcessRTT }

// span is the shortest duration of a window.
func (c *control) span() time.Duration { return max(minWindow, c.srtt) }

// resample sets the share of permits to time from the rate at which the
// window that started el ago handed them out: a window of span at that rate
// then holds sampleTarget to 2×sampleTarget timed permits. Tasks much shorter
// than minWindow, or many permits in flight, are timed one in a power of two,
// and so is in-process work (see inProcessRTT).
func (c *control) resample(el time.Duration) {
	// A window shorter than a span (a cold start's first, which closes
	// before the RTT is known) tells the permits of its own length only:
	// stretched over a span of seconds, a few permits read as thousands.
	per := float64(c.seq-c.winSeq) * float64(c.span()) / float64(max(el, c.span()))
	c.mask = 0
	if k := min(per/sampleTarget, maxMask); k >= 2 {
		c.mask = 1<<(bits.Len64(uint64(k))-1) - 1
	}
	if c.inProcess() {
		c.mask = max(c.mask, inProcessMask)
	}
}

// onSuccess adds a latency sample of the permit seq that started at level.
// In slow start only permits started once the current limit was full count:
// the others show the load of a lower one.
//
// late, if not nil, tells how many of the process's threads waited for a
// CPU lately; a slow-start window reads it as it closes (see readLate).
func (c *control) onSuccess(now time.Time, rtt time.Duration, inFlight int, seq uint64, level uint32, late func(time.Time) float64) {
	if level < c.gatedAt {
		if us := micros(rtt); c.preFastest == 0 || us < c.preFastest {
			c.preFastest = us
		}
	}
	if c.coldLow > 0 && seq <= c.watch.from && rtt >= time.Duration(coldSpreadAge*float64(c.lowest))*time.Microsecond {
		// A cold start's first window counted it as a straggler when it
		// closed: the level held does not read it again.
		c.noteFastest(rtt, false)
		return
	}
	c.noteFastest(rtt, !c.slowStart || !c.due && level == c.level && !c.filling && !c.filled)
	if c.slowStart {
		c.watch.mark(now, c.seq, max(c.base, queueBase)/8)
		if c.due {
			// The window has its answers; a permit of its level that
			// comes back late shows a queue.
			if seq > c.watch.from && rtt >= c.lateRTT() {
				c.lateCold(rtt)
			} else if c.base == 0 && seq > c.watch.from {
				// A cold start's first window: its level's answers that
				// did not wait are its baseline's too, not only the
				// fastest that made it due.
				c.add(rtt)
			}
			if c.watchReady(now) {
				c.closeWindow(now, inFlight, 0, false, 0, 0, late)
			}
			return
		}
		if level != c.level || c.filling || c.filled {
			switch {
			case seq <= c.watch.from:
				if level < c.level {
					c.coldSample(rtt)
				}
			case c.base > slowBase && rtt >= c.stragglerWait():
				// A permit that filled the current level of a slow host
				// ran under that level's load: late, it waited in the
				// queue the level makes (see levelWatch), and it says
				// nothing of the levels below (see coldSample).
				c.watch.late++
			}
			return
		}
	}
	if c.slowStart && seq > c.watch.from && c.coldWait() && rtt >= c.lateRTT() {
		// A cold start's first window, and an answer that waited in a queue
		// the initial limit already makes: it must not set the baseline
		// alone (see lateCold).
		c.lateCold(rtt)
	} else {
		c.add(rtt)
	}
	el := now.Sub(c.winStart)
	if c.winStart.IsZero() || el < 0 {
		// The first sample, or a clock that went back: start the window here.
		c.winStart, el = now, 0
		c.winSeq = c.seq
	}
	if int(c.n+c.tailN) >= c.need() && el >= c.span() && !c.foldTooSoon() {
		if c.slowStart && (c.base >= queueBase && c.steady() || c.coldWait()) {
			// Answers this alike come from requests that start and end
			// together: those that waited come back a service time later.
			c.due = true
			if !c.watchReady(now) {
				return
			}
		}
		c.closeWindow(now, inFlight, 0, false, 0, 0, late)
	}
}

// lateCold counts an answer of a cold start's first level that came back
// late (see lateRTT). Where the level's answers spread, it joins the
// window kept apart, as a tail (see foldCold), if it came back within
// stragglerWait: a slow answer of a server with room belongs in the
// baseline, and the window after tells it from a queue (see coldHeld).
func (c *control) lateCold(rtt time.Duration) {
	c.watch.late++
	if c.base == 0 && !c.alike() && rtt < c.stragglerWait() {
		c.tailN++
		c.tailSum += rtt
	}
}

// foldCold takes the late answers of a cold start's first window into its
// mean (see lateCold) and returns the mean of the others, 0 if none.
func (c *control) foldCold() time.Duration {
	if !c.slowStart || c.base != 0 || c.n == 0 {
		return 0
	}
	low := c.sum / time.Duration(c.n)
	if c.tailN == 0 {
		return low
	}
	c.n += c.tailN
	c.sum += c.tailSum
	// As in foldTail, the late answers count at their mean.
	m := float64(c.tailSum) / float64(c.tailN)
	c.sumSq += float64(c.tailN) * m * m
	c.tailN, c.tailSum = 0, 0
	return low
}

// steady reports whether the open window's answers took about the same
// time: their spread is under steadySpread of their mean.
func (c *control) steady() bool {
	return c.n >= 3 && c.alike()
}

// alike reports whether the open window's answers, two or more, took about
// the same time: their spread is under steadySpread of their mean.
func (c *control) alike() bool {
	if c.n < 2 {
		return false
	}
	m := float64(c.sum) / float64(c.n)
	return c.sumSq/float64(c.n)-m*m < steadySpread*steadySpread*m*m
}

// add adds a latency sample to the open window. After slow start, an
// answer of tailRatio baselines or more is kept apart (see foldTail); slow
// start's windows close on their level's first answers, before a tail's.
func (c *control) add(rtt time.Duration) {
	if !c.slowStart && c.base > 0 && rtt >= c.tailAt() {
		c.tailN++
		c.tailSum += rtt
		return
	}
	c.n++
	c.sum += rtt
	c.sumSq += float64(rtt) * float64(rtt)
}

// refusedAt notes that a request was refused for load at the in-flight
// count level, with no gate closed: the server's cap is below level, and a
// refusal there costs no gate, so the limit that follows it need not fall
// further than below level (see onDrop).
func (c *control) refusedAt(level int) { c.refused = int32(level) }

// heldFor reports whether the default strategy's limit, after slow start,
// filled n windows since it last rose or was cut.
func (c *control) heldFor(n uint8) bool {
	a, own := c.alg.(*delayAlgorithm)
	return own && !c.slowStart && a.since >= n
}

// quiet reports whether the default strategy's limit, after slow start,
// shows no queue: its smoothed RTT lies under delayGrow baselines.
func (c *control) quiet() bool {
	_, own := c.alg.(*delayAlgorithm)
	return own && !c.slowStart && c.base > 0 && c.srtt > 0 &&
		windowStats{base: c.base}.rise(c.srtt) < delayGrow
}

// lowerToRefusal takes a refusal noted by refusedAt that the last cut
// already answered: several requests past the server's cap were out, and
// the first refusal back may have been the highest of them. The limit goes
// just below the level of this one if that is lower, without a new cut.
func (c *control) lowerToRefusal() {
	level := int(c.refused)
	c.refused = 0
	if level == 0 || c.slowStart || c.fixed || float64(level-1) >= c.limit {
		return
	}
	c.limit = max(c.min, float64(level-1))
	c.alg.reset(c.limit)
	c.alg.knee(float64(level))
	c.settle = true
	c.level++
}

// onDrop closes the window at once and cuts the limit, unless the dropped
// request started before the last cut (epoch is the cut count when it
// started): the cut already answered the load it was part of. So the limit
// is cut when the first drop arrives, then at most once per RTT. It reports
// whether this drop cut the limit. gateEnd is the host's gate as the drop
// was released (zero if none): a drop whose answer closed a gate ends
// before it (see gated). peak is set if the dropped request went out as
// the host's in-flight count first reached its highest, and busy is the
// in-flight count when it was taken (see windowStats).
func (c *control) onDrop(now time.Time, inFlight int, epoch uint32, gateEnd time.Time, peak bool, first, busy int) bool {
	if epoch != c.cuts {
		c.lowerToRefusal()
		return false
	}
	c.drops++
	var gate time.Duration
	if gateEnd.After(now) {
		gate = gateEnd.Sub(now)
	}
	c.closeWindow(now, inFlight, gate, peak, first, busy, nil)
	return true
}

// restore raises the limit to limit, the level held before an outage's
// refusals cut it (see Host.outageOverLocked), with slow start on again if
// slow; it reports whether it raised the limit. The levels the outage's
// drops left with the default strategy are forgotten (it refused them
// all) but for the first, the level restored.
func (c *control) restore(limit float64, slow bool) bool {
	if c.fixed || limit <= c.limit {
		return false
	}
	old := c.limit
	c.set(limit)
	if c.limit <= old {
		return false
	}
	c.alg.reset(c.limit)
	if a, own := c.alg.(*delayAlgorithm); own {
		// As after the run's first drop alone: the level is held a few
		// windows before the limit probes past it.
		a.wmax, a.at, a.probe = c.limit, 0, delayProbe
	}
	if slow && !c.slowStart {
		c.slowStart, c.rising = true, false
		c.watch.reset(c.seq)
	}
	c.settle = true
	c.level++
	c.filling, c.filled = c.slowStart, false
	return true
}

// answered tells the default strategy that a request taken at the
// in-flight count busy came back, refused for load or not, while it holds
// a level refused at a cold start on trust (see delayAlgorithm.coldAnswer).
func (c *control) answered(busy int, refused bool) {
	if a, own := c.alg.(*delayAlgorithm); own && a.flags&coldHold != 0 {
		a.coldAnswer(int32(busy), refused)
		c.belowColdHold()
	}
}

// belowColdHold brings the limit below a level the default strategy holds
// for a refusal at a cold start (see delayAlgorithm.gated): the limit that
// slow start falls back to after a refusal with nothing served may be at
// that level or above it.
func (c *control) belowColdHold() {
	a, own := c.alg.(*delayAlgorithm)
	if !own || a.flags&coldHold == 0 || c.limit < float64(a.gateLevel) {
		return
	}
	c.limit = max(c.min, float64(a.gateLevel-1))
	c.alg.reset(c.limit)
}

// closeWindow closes the open window at now; gate is how long the gate
// that a drop closing it closed lasts from now, 0 if none, peak whether
// the dropped request went out at the host's in-flight peak, first the
// in-flight count when it was taken if it is the host's first drop, and
// busy that count for any drop (see windowStats).
func (c *control) closeWindow(now time.Time, inFlight int, gate time.Duration, peak bool, first, busy int, late func(time.Time) float64) {
	w := windowStats{start: c.winStart, inFlight: int(c.winInFlight), limit: c.limit, drop: c.drops > 0, refused: int(c.refused), peak: peak, first: first, busy: busy}
	if w.drop {
		if w.refused >= capMin && gate == 0 {
			c.refusals |= capBare
		} else {
			c.refusals |= capOther
		}
	}
	w.capOnly = c.refusals == capBare
	w.step = w.drop && c.slowStart && c.safe > 0 && w.limit > c.safe
	if c.slowStart && !w.drop && c.due {
		w.waited = c.watch.waited(now, c.stragglerWait(), c.coldLead())
		// A due window with no baseline is a cold start's first, made due
		// by coldWait; a slow host's answers may have stopped coming back
		// alike since (two alike by chance on a server that spreads).
		cold := c.coldFirst() > 0
		w.coldQueue = w.waited > 0 && cold && c.alike()
		w.coldLate = w.waited > 0 && cold && !w.coldQueue
	}
	// The low the level held once more is read against, and the answers
	// of the held windows that made it hold.
	again, heldN := 0.0, uint8(0)
	// A held window read late tells nothing: the level holds for the next
	// (see below), with the answers counted before it.
	heldLow, heldBefore := 0.0, c.heldN
	if c.coldLow > 0 && c.slowStart && !w.drop && c.n > 0 {
		// The window after a coldLate one, read against the first
		// window's answers that did not come back late, and against the
		// host's fastest answer.
		low := float64(c.base) * float64(c.coldLow) / math.MaxUint8
		heldLow = low
		w.coldHeld = float64(c.watch.fastest)*float64(time.Microsecond) >= coldHeldFloor*low && !c.wide()
		w.heldRise = float64(c.sum/time.Duration(c.n)) / low
		if !w.coldHeld && !c.wide() && float64(c.watch.fastest) >= coldHeldFastest*float64(c.lowest) {
			n := int(c.heldN) + int(c.n)
			if c.heldN > 0 && n >= coldHeldAnswers {
				w.coldHeld = true
			} else {
				again, heldN = low, uint8(min(n, math.MaxUint8))
			}
		}
	}
	c.coldLow, c.heldN = 0, 0
	low := c.foldCold()
	switch {
	case w.drop:
	case c.slowStart:
		w.floorRise = c.floorRise()
	default:
		w.floorRise = c.floorAbove(0)
	}
	if w.drop {
		w.gate = gate
	}
	c.refused, c.due = 0, false
	folded := c.foldTail()
	stall := false
	if c.n > 0 {
		n := float64(c.n)
		w.mean = c.sum / time.Duration(c.n)
		w.n = int(c.n)
		if w.coldLate && low > 0 {
			c.coldLow = uint8(max(1, math.Round(math.MaxUint8*min(1, float64(low)/float64(w.mean)))))
		}
		w.coldLate = w.coldLate || again > 0
		if c.n > 1 {
			m := float64(w.mean)
			w.stderr = time.Duration(math.Sqrt(max(0, c.sumSq/n-m*m) / (n - 1)))
		}
		stall = !w.drop && (c.stalled(folded, w.mean) || c.readLate(now, w.mean, late))
		if stall && c.slowStart {
			// Read late: the baseline takes it only where it lies lower.
			c.srtt += (w.mean - c.srtt) / 4
			c.lowerBase(now, w.mean, int(c.n), c.meanNoise(w.stderr, int(c.n)))
		} else {
			c.observeRTT(now, w.mean, int(c.n), c.meanNoise(w.stderr, int(c.n)))
		}
		if stall && heldLow > 0 {
			again, heldN = heldLow, heldBefore
		}
		if again > 0 {
			// Against the baseline this window moved.
			c.coldLow = uint8(max(1, math.Round(math.MaxUint8*min(1, again/float64(c.base)))))
			c.heldN = heldN
		}
		if !w.drop && !stall {
			var r time.Duration
			known := c.fastGap() > 0
			if r, w.wide, w.queued = c.wideBase(w.mean, w.n, w.stderr); r > 0 && w.floorRise == 0 {
				w.floorRise = r
			}
			// Up to the levels slow start saw without a queue: past them a
			// tight server's small queue hardly moves the fastest answer
			// before it refuses.
			w.calm = known && w.wide && !w.queued && w.floorRise == 0 && c.limit+max(1, delayStep*c.limit) <= c.safe
			w.wideHost = !c.slowStart && c.lowest != 0 && c.base >= queueBase && c.wide()
			w.again = c.queued
			c.queued = w.floorRise > 0 && w.queued
		}
	}
	w.base, w.srtt = c.base, c.srtt
	if c.slowStart && !w.drop && !stall && w.waited == 0 && w.floorRise == 0 && w.n >= minFloorN && w.ratio() < slowGrowRatio &&
		c.watch.fastest > 0 && c.wide() {
		// A level without a queue: where its fastest answer lies.
		c.learnGap(time.Duration(c.watch.fastest-c.lowest)*time.Microsecond, w.inFlight)
	}
	if a, own := c.alg.(*delayAlgorithm); own && !w.drop && !c.slowStart {
		told, queued := c.floorTells(), w.floorRise > 0
		if c.gatedAt != 0 {
			// Since a gate: only the answers of the requests out when
			// it closed tell.
			told = told && c.preFastest != 0
			queued = told && c.above(c.preFastest, 0) > 0
		}
		a.stepQueued(w.start, told, queued)
	}
	if c.gatedAt != 0 && c.preFastest == 0 && !w.drop && w.n > 0 {
		c.afterGate(w)
	}
	old := c.limit
	switch {
	case stall:
		// The limit does not move.
	case w.drop:
		if w.gate > 0 && !c.fixed {
			c.safe = min(c.safe, c.alg.gated(w, now, c.safe))
		}
		c.decide(w)
		c.belowColdHold()
		c.cuts++
	case c.settle && !c.slowStart:
		// The window after a change mostly holds requests started under the
		// old limit (slow start counts only those started under the new one).
	case w.mean > 0:
		c.decide(w)
	}
	c.settle = c.limit != old
	if c.settle {
		c.level++
		c.filling, c.filled = c.slowStart && c.limit > old, false
	}
	c.settle = c.settle || stall
	if !w.drop {
		// A window closed early by a drop is too short to tell the rate.
		c.resample(now.Sub(c.winStart))
	}
	if w.drop && w.gate > 0 {
		if c.limit == old {
			// The permits out when the gate closed are told from the
			// restart's by their level count.
			c.level++
		}
		c.gatedAt = c.level
	}
	c.preFastest = 0
	c.winStart, c.n, c.sum, c.sumSq, c.drops = now, 0, 0, 0, 0
	c.tailN, c.tailSum = 0, 0
	c.winSeq = c.seq
	c.watch.fastest = 0
	if c.slowStart {
		c.watch.reset(c.seq)
	}
	c.winInFlight = int32(inFlight)
}

// gateAlike is the spread of a window's answers, relative to their mean,
// under which afterGate takes them for a server's time without a queue;
// gateAnswers is the fewest answers it reads so.
const (
	gateAlike   = 0.2
	gateAnswers = 3
)

// afterGate takes w, the first window of answers to permits all taken
// after a gate (see gatedAt): they went into a server the gate emptied,
// read by a client that has had the whole gate to catch up, so that their
// mean is the server's time without a queue. Where it lies below the
// baseline beyond twice its standard error the baseline becomes it: a
// baseline taken while a loaded client read its cold start's answers late
// sits well above it, and hides the queue that a full server's slots make.
// Only where w holds gateAnswers answers or more, alike (a spread under
// gateAlike of their mean), on a host whose service times do not spread
// widely (see wide): a window closes on its first answers, which after a
// gate are the server's fastest, well below the mean of all where service
// times spread.
func (c *control) afterGate(w windowStats) {
	c.gatedAt = 0
	if c.wide() || w.n < gateAnswers || w.mean < queueBase || w.base-w.mean <= 2*w.stderr ||
		float64(w.stderr)*math.Sqrt(float64(w.n)) >= gateAlike*float64(w.mean) {
		return
	}
	c.base = w.mean
	c.coldN, c.coldSum = math.MaxUint8, 0
}

// stalled reports whether a window of the default strategy after slow
// start is taken for a stall of the client, which moves the smoothed RTT
// but not the limit: most of its answers took tailRatio baselines or more
// (folded: see foldTail), or its mean RTT is stallJump times the smoothed
// one or more, where the smoothed RTT was below tailRatio baselines and
// the window before was read as it was. A queue of ours does not grow that
// much in one window at a limit that grows by a step a window, but a
// client that stopped running (a loaded machine, a pause of its runtime)
// delays every answer that comes back meanwhile, and a cut for it halves
// the limit. The window after it still holds answers that were out across
// the stall: it moves the limit no more than one after a change does
// (settle). By the one after that the smoothed RTT has risen, and a
// server that did get slower is cut then. A stall also ends the chance of
// slow start resuming (see resume): the windows around it tell nothing of
// the rise it ended on.
func (c *control) stalled(folded bool, mean time.Duration) bool {
	if _, own := c.alg.(*delayAlgorithm); !own || c.slowStart || c.settle || c.base < queueBase || c.srtt == 0 || c.srtt >= c.tailAt() {
		return false
	}
	if !folded && float64(mean) < stallJump*float64(c.srtt) {
		return false
	}
	c.exitAt = 0
	return true
}

// readLate reports whether slow start's window, of mean RTT mean, was read
// while the process waited for a CPU or its goroutines to run (late's
// reading, lateWait threads or goroutines or more): its answers' RTTs hold the process's own delay, which a loaded
// start (every host, the listing and robots.txt at once) sheds level after
// level as it grows, so that a queue's rise hides in the fall. Slow start
// holds the limit and leaves the baseline as it is, for lateHolds windows in
// a row at most: past them the machine is loaded, not the start; a window
// that reads lower than the baseline still lowers it (see lowerBase). Not
// where the window's RTT is half slowBase or more: a loaded client's delay
// of 5-20 ms moves it a tenth or less.
func (c *control) readLate(now time.Time, mean time.Duration, late func(time.Time) float64) bool {
	if !c.slowStart || late == nil {
		return false
	}
	if mean >= slowBase/2 || late(now) < lateWait {
		c.lateRun = 0
		return false
	}
	if c.lateRun >= lateHolds {
		return false
	}
	c.lateRun++
	return true
}

// tailAt is the RTT from which an answer is one of the server's slow few:
// tailRatio baselines (see queueBase).
func (c *control) tailAt() time.Duration {
	return c.base + time.Duration((tailRatio-1)*float64(max(c.base, queueBase)))
}

// foldTooSoon reports whether the open window's slow answers outnumber
// the rest in too few answers to tell a queue from a heavy tail (a tail
// whose slow answers are a fifth of all makes half of three answers slow
// one window in ten): the window stays open for more. Only where every
// permit is timed (a low rate): a window of sampled permits that holds few
// answers shows a rate that fell, and its first slow answers tell it.
func (c *control) foldTooSoon() bool {
	return c.mask == 0 && c.tailN > c.n && c.n+c.tailN < minFold
}

// foldTail takes the open window's slow answers into its mean when they are
// most of it, and reports whether it did: a queue of ours delays every
// answer that waits in it, a server's heavy tail only some, and a few
// answers ten times slower than the rest would read as a queue in the mean
// of all.
func (c *control) foldTail() bool {
	if c.tailN == 0 || c.tailN <= c.n {
		return false
	}
	// The tail's own spread is not kept: its answers count at their mean.
	m := float64(c.tailSum) / float64(c.tailN)
	c.n += c.tailN
	c.sum += c.tailSum
	c.sumSq += float64(c.tailN) * m * m
	c.tailN, c.tailSum = 0, 0
	return true
}

// coldSample takes the answer of a permit started at a lower level of slow
// start than the current one into the cold start's baseline (see
// observeRTT), on a slow host (see slowBase) or one whose service times
// spread about as widely as their mean (see wide): every level below the
// current one ran without a queue, and its answers that come back after its
// window closed are its slowest, which a baseline of windows' first answers
// leaves out. On a server whose service times spread widely (model
// inference, reports, exports: 1 to 5 s) such a baseline lies a third below
// the mean of all answers, and a window that holds a whole level's answers
// reads as a queue of half a service time: slow start ends at a third of
// the slots, and the default strategy holds there while the baseline
// drifts up. Where they spread over 0-40 ms the baseline lay lower still,
// and a window of a few answers read two to six baselines: slow start
// ended below 16 in about half of the simulated cold starts against 32
// slots, most at the initial limit.
func (c *control) coldSample(rtt time.Duration) {
	if c.coldN == 0 || c.coldN >= maxNeed*2 || c.base <= slowBase && !c.wide() {
		return
	}
	c.coldSum += rtt
	c.coldN++
	c.base = c.coldSum / time.Duration(c.coldN)
	if c.coldN >= maxNeed*2 {
		c.coldSum = 0 // see fastGap
	}
}

// lowerBase takes a window read while the process ran late (see readLate)
// into the baseline only if its mean lies below it (or there is none yet):
// such a window's RTTs hold the process's delay on top of the server's
// time, an upper bound of the server's. In the cold start the baseline
// becomes that mean, as if every answer before had read it; not on a host
// whose service times spread about as widely as their mean (see wide),
// where a mean of a few answers lies anywhere from a fifth of the host's
// mean up (a crawl on a loaded machine took three answers of 7 ms for the
// baseline of a server answering in 0-40 ms, and ended slow start on the
// next window at 5 in flight): there it joins the baseline as any window
// does.
func (c *control) lowerBase(now time.Time, mean time.Duration, n int, stderr time.Duration) {
	switch {
	case c.base > 0 && mean >= c.base:
	case c.coldN < maxNeed*2 && !c.wide():
		c.base = mean
		c.coldN = uint8(min(max(int(c.coldN), n), maxNeed*2-1))
		c.coldSum = mean * time.Duration(c.coldN)
	default:
		c.observeRTT(now, mean, n, stderr)
	}
}

func (c *control) observeRTT(now time.Time, mean time.Duration, n int, stderr time.Duration) {
	if c.srtt == 0 {
		c.srtt = mean
	} else {
		c.srtt += (mean - c.srtt) / 4
	}
	// The baseline follows lower window means a quarter of the way (a
	// noisy low window must not set it alone, nor the lowest few pull it
	// below the host's usual RTT), higher ones only with a long time
	// constant, and not in a slow host's slow start.
	// Until windows hold enough samples it is the mean of all samples
	// but those of windows that rose beyond the noise.
	rise := max(2*stderr, time.Duration((slowGrowRatio-1)*float64(max(c.base, queueBase))))
	switch {
	case c.coldN < maxNeed*2 && (c.coldN == 0 || mean-c.base <= rise):
		// A window that shows a rise (slow start passed the server's slots)
		// must not raise the baseline it is measured against.
		c.coldSum += mean * time.Duration(n)
		cold := int(c.coldN) + n
		c.base = c.coldSum / time.Duration(cold)
		c.coldN = uint8(min(cold, math.MaxUint8))
		if c.coldN >= maxNeed*2 {
			c.coldSum = 0 // see fastGap
		}
	case mean < c.base:
		c.base -= (c.base - mean) / 4
	case c.slowStart && c.base > slowBase:
		// Slow start looks for the level whose RTT rises over the
		// baseline, and a slow host's windows are long against
		// baseDrift: a baseline that followed the rise would hide the
		// queue.
	default:
		dt := now.Sub(c.winStart)
		c.base += time.Duration(float64(mean-c.base) * min(1, float64(dt)/float64(baseDrift)))
	}
}

// decide moves the limit after a window.
func (c *control) decide(w windowStats) {
	if c.slowStart {
		c.slowStartWindow(w)
		if !c.slowStart && !w.drop {
			c.spreadAt = uint16(min(math.MaxUint16, c.limit))
		}
		return
	}
	if w.drop {
		c.exitAt, c.climbAt = 0, 0
	} else if c.resume(w) || c.undoShrink(w) || c.climb(w) {
		return
	}
	c.spreadBase(&w)
	c.shrunkFrom = 0
	next := c.alg.window(w)
	if _, own := c.alg.(*delayAlgorithm); own && !w.drop && next <= w.limit && w.mean > 0 {
		// The default strategy reads the RTT against this baseline (the
		// others keep their own): a cut or a hold for a rise is checked.
		switch {
		case next < w.limit && c.coldUndone(w):
			return
		case w.inFlight <= 1 && (next < w.limit && w.base >= queueBase ||
			next == w.limit && int(w.limit) <= 1 && max(w.ratio(), w.smoothRatio()) >= delayGrow):
			// A request alone waits behind none of ours: the rise is
			// the server's own time, not a queue a cut would relieve,
			// and a limit of one held for it would stay there, even
			// where a rebase took the baseline under queueBase.
			c.base = max(c.base, time.Duration(float64(w.mean)/freeRead))
			return
		case next < w.limit && w.base >= queueBase:
			c.shrunkFrom, c.shrunkRTT = float32(w.limit), float32(w.mean)
		}
	}
	if cut := w.cut(); w.drop && !c.fixed && next > cut {
		// Every adaptive algorithm shrinks on a drop (Gradient2 ignores
		// drops, Vegas barely reacts): enforce a cut and re-seed it there.
		next = cut
		c.alg.reset(next)
	}
	c.set(next)
}

func (c *control) slowStartWindow(w windowStats) {
	ratio := w.ratio()
	// Growth divides by a rise within the noise too: past the server's
	// slots, a window may show less of a rise than there is. Not by a
	// window too noisy to tell a rise of a tenth (one that mixes two
	// latencies).
	grow := 1.0
	if ratio >= 1+(slowGrowRatio-1)/5 && float64(w.stderr) < (slowGrowRatio-1)*float64(w.base) {
		grow = ratio
	}
	if w.mean-w.base <= 2*c.meanNoise(w.stderr, w.n) && (c.strictAt == 0 || w.limit < float64(c.strictAt)) {
		// Within the noise of the window's few samples: no rise.
		ratio = min(ratio, 1)
	}
	if w.waited > 0 {
		// Some of the level's requests waited a whole service time or so:
		// a queue, however few samples the window holds.
		ratio = max(ratio, slowGrowRatio, w.waited)
		grow = max(grow, ratio)
	}
	if w.floorRise > 0 && (w.mean < w.base && w.base <= slowBase || w.floorRise > floorStderrs*w.stderr) {
		// The level's fastest answer rose though its mean reads below the
		// baseline, or barely above it with every answer alike: a queue
		// that a baseline raised by a loaded client hides. Not a mean
		// below the baseline on a slow host: a loaded client hardly moves
		// its answers, and where its service times spread widely a level's
		// first answers read so by chance (the rebased baseline then sat at
		// the fastest answers, and a server with room read as queued).
		c.rebase(&w)
		ratio = max(ratio, w.ratio(), slowGrowRatio)
		grow = max(grow, ratio)
	}
	switch {
	case w.coldLate && !w.drop:
		// The limit holds for a window (see coldLate), whatever the
		// stragglers' share: a spread server's slow answers may be most
		// of the level's.
	case w.coldHeld && !w.drop:
		// The cold start's first level queued (see coldHeld): slow start
		// ends at the level its answers served at once say runs without
		// a queue (Little's law).
		c.slowStart = false
		c.exited(w.limit, w.mean)
		c.limit = max(c.min, min(c.max, w.limit/max(w.heldRise, 1)))
		c.alg.reset(c.limit)
		c.alg.knee(w.limit)
	case w.drop || ratio >= slowExitRatio && (w.n >= minFloorN || c.rising):
		// A rise this large on fewer than minFloorN answers (a cold
		// start's first levels, 2 to 3 answers a window) may be two slow
		// answers of a server whose service times spread widely, against
		// a baseline of two fast ones: it holds for a window first, as a
		// smaller rise does (below).
		if !w.drop {
			// A rise this large in one window may be a client's stall:
			// its mean tells nothing of the level's RTT (see climb).
			c.exited(w.limit, 0)
		}
		next := c.safe
		if next == 0 || next >= w.limit {
			next = w.limit / 2
		}
		c.slowStart = false
		c.limit = max(c.min, min(c.max, next))
		c.alg.reset(c.limit)
		if w.refused > 0 {
			// Just below the refused level, which is where probing starts.
			c.limit = max(c.min, min(c.max, max(c.limit, w.cut())))
			c.alg.reset(c.limit)
			c.alg.knee(float64(w.refused))
		}
	case w.inFlight < int(w.limit):
		// The caller did not use the limit: growing it would prove nothing.
	case ratio < slowGrowRatio:
		c.safe = max(c.safe, float64(w.inFlight))
		c.rising = false
		// Grow by slowStep over the level that runs without a queue (the
		// in-flight level over the RTT ratio, by Little's law), so that a
		// server whose queue holds a quarter of its slots is never sent more
		// than slots + queue: that answer may close the gate for a whole
		// Retry-After.
		next := max(float64(int(w.limit)+1), slowStepAt(w.base)*w.limit/grow)
		if r := w.ratio(); r >= slowGrowRatio && c.riseBeyondSpread(w) {
			// A rise of a tenth or more, within the noise of the window's
			// own few answers but beyond what the host's spread gives them
			// (see riseBeyondSpread): a small server's queue, one or two
			// requests past its slots, whose waits mixed with the answers
			// served at once. The step then stops at the level that runs
			// without a queue by Little's law, with no whole request more:
			// on 8 slots + 2 queued, 10 in flight read 1.16 over the
			// baseline, and the request that floor added was refused.
			next = max(w.limit, slowStepAt(w.base)*w.limit/max(grow, r))
		}
		if w.limit < slowStep*float64(c.strictAt) {
			// Resumed, and not yet clear of the level that showed a rise:
			// half the step, and not a whole request more where that is
			// less, so that a rise that was real costs no more than a small
			// queue.
			next = max(w.limit, (1+(slowStep-1)/2)*w.limit/grow)
			if w.limit < float64(c.strictAt) {
				next = max(next, float64(int(w.limit)+1))
			}
		}
		c.set(next)
	case !c.rising && !w.coldQueue:
		// The RTT has risen: a queue may be forming at the server, or the
		// window was noisy. Hold the limit for a window to tell them apart.
		c.rising = true
	default:
		// A queue has started to form at the server: any further growth
		// could pass its slots + queue, and the overload answer may close
		// the gate for a whole Retry-After. End slow start at the level the
		// RTT rise says runs without a queue (Little's law: the in-flight
		// level over the RTT ratio), or the last level seen without one.
		c.slowStart = false
		c.exited(w.limit, w.mean)
		c.limit = max(c.min, min(c.max, max(c.safe, w.limit/ratio)))
		c.alg.reset(c.limit)
		if (c.strictAt == 0 || w.limit < slowStep*float64(c.strictAt)) && c.kneeRise(w, ratio) {
			// The first rise, or the same one back at about its level.
			c.alg.knee(w.limit)
		}
		// Else slow start resumed and grew well past the level where it
		// first ended: the knee stays there, as it would have without the
		// resume, rather than move up to a rise that may be noise again.
		// Or the rise fell short of one the default strategy stops
		// growing at, by more than its noise: slow start's baseline, taken
		// from each level's fastest answers, sits below a whole window's
		// mean, and a server with room may read so at any level; the
		// default strategy's own rule then tells a queue from it.
	}
}

// Slow start's step on a slow server (see slowStepAt).
const (
	slowStepMax    = 1.5         // slow start's growth per window at most
	slowGate       = time.Second // the gate a refusal is taken to close: Retry-After's usual second
	slowGateRounds = 5           // a gate of fewer round trips than this makes a host slow (slowBase)
	stepGateRounds = 10          // round trips a gate costs at least where slow start grows by slowStep

	// slowBase is the baseline RTT above which a host is slow: a refusal's
	// gate costs it fewer than slowGateRounds round trips, and a loaded
	// client's stall of tens of ms hardly moves its answers.
	slowBase = slowGate / slowGateRounds
)

// slowStepAt is slow start's growth per window over a level without a
// queue on a server whose baseline RTT is base: slowStep where a refusal's
// gate (slowGate) costs stepGateRounds round trips or more (a baseline of
// 100 ms or less), and more where it costs fewer, up to slowStepMax (from
// 300 ms). A step past a tight server's slots and queue costs a gate and a
// cut; on a fast server that is hundreds of round trips, on a slow one a few
// or less, while a slow climb costs the same number of round trips on both.
// From a gate of ten round trips (rather than five), servers of 150 to
// 300 ms reach their slots in about a third fewer round trips; the cost is
// a refusal in more cold starts of small tight servers, whose level one or
// two requests past their slots reads no rise within a window's noise (8
// slots + 2 queued: 0.2-0.3% of the requests refused at 150-200 ms, 0.7%
// at 300 ms, where it was 0.05-0.25%).
func slowStepAt(base time.Duration) float64 {
	rounds := stepGateRounds * float64(base) / float64(slowGate)
	if rounds <= 1 {
		return slowStep
	}
	return min(slowStepMax, math.Pow(slowStep, rounds))
}

// kneeRise reports whether w's rise, ratio, which ended slow start, is one
// to take as a knee: requests of the level were seen waiting, or the rise
// is within a standard error of the default strategy's delayGrow or beyond
// it (see slowStartWindow).
func (c *control) kneeRise(w windowStats, ratio float64) bool {
	return w.waited > 0 || ratio+float64(w.stderr)/float64(max(w.base, queueBase)) >= delayGrow
}

// exited notes that slow start ended at limit on a rising RTT. A rise on a
// loaded client (a stall that delays every answer for a few ms) looks like
// a queue at the server; resume tells them apart. Slow start may resume
// again only after it ended at a level slowStep times higher than any
// before, so a rise that comes back at about the same level ends it for
// good.
//
// It also notes limit and mean, the RTT of the window that ended slow
// start, for climb; a mean of 0 notes none.
func (c *control) exited(limit float64, mean time.Duration) {
	c.climbAt, c.climbRTT = 0, 0
	if mean > 0 {
		c.climbAt, c.climbRTT = float32(limit), float32(mean)
	}
	c.exitAt = 0
	if limit >= slowStep*float64(c.lastExit) {
		c.exitAt, c.lastExit = float32(limit), float32(limit)
	}
}

// resume restarts slow start after it ended on a rising RTT (exitAt), if
// w, a window that used the limit at one below that level or more, shows
// no rise beyond the noise: the rise was not a queue at the server (as
// HyStart++ returns to slow start when the RTT falls back). It grows the
// limit as slow start would from w and reports whether it did. Not on a
// host whose service times spread as widely as their mean (see wide): its
// baseline is raised after slow start (see wideBase) above what slow
// start's windows, of each level's first answers, read, and a resumed
// slow start would read no rise at any level.
func (c *control) resume(w windowStats) bool {
	if c.exitAt == 0 || w.inFlight < int(w.limit) || int(w.limit) < int(c.exitAt)-1 || c.wide() {
		return false
	}
	if a, own := c.alg.(*delayAlgorithm); own {
		if at := a.queueAt(w); at > 0 && min(w.mean, w.srtt) >= at {
			// A queue against the level the limit grew from, in the window
			// and the smoothed RTT both: a baseline that drifted up while the
			// level was held there reads none (4 slots + 4 queued × 1 s: 6 in
			// flight held for 40 s, then slow start resumed and stepped to 10,
			// past the queue). Both, since a resume a noisy window holds back
			// may not come again.
			return false
		}
	}
	if r := w.ratio(); r >= 1+(slowGrowRatio-1)/2 && (r >= slowGrowRatio || w.mean-w.base > 2*w.stderr) {
		// A rise, within the noise or not, or one beyond the noise even if
		// smaller than slow start's.
		return false
	}
	exit := float64(int(c.exitAt))
	c.exitAt, c.strictAt = 0, float32(exit)
	c.slowStart, c.rising = true, false
	c.watch.reset(c.seq)
	c.slowStartWindow(w)
	if w.limit < exit {
		// Back to the level that showed the rise first, to see it again.
		c.limit = min(c.limit, exit)
	}
	return true
}

// climbStep is the default strategy's growth per window while windows past
// the level where slow start ended on a rise show that rise was no queue
// (see climb).
const climbStep = 1.1

// climbMin is the lowest limit climb grows: below it, the default
// strategy's step of one request is climbStep or more.
const climbMin = 10

// climbRise is the RTT over the lowest since slow start ended (see climb)
// up to which a window shows no queue.
const climbRise = 1.05

// climb grows the limit by climbStep after slow start ended on a rising
// RTT at climbAt that no refusal has confirmed, if w, a window that used a
// limit climbStep times that level or more, read no more than climbRise
// over the lowest of the window that ended slow start and those that
// climbed since (climbRTT): a queue's RTT rises with the requests in
// flight, and a rise that stays flat while they grow by a tenth and more
// was a baseline read low or a loaded client, not a queue. A window that
// rose by the step (or to delayGrow over the baseline) ends the climb for
// good: the level's queue has shown. It reports whether it grew the limit.
func (c *control) climb(w windowStats) bool {
	if c.climbAt == 0 || w.mean == 0 || w.inFlight < int(w.limit) || w.limit < max(climbMin, climbStep*float64(c.climbAt)) {
		return false
	}
	a, own := c.alg.(*delayAlgorithm)
	if !own {
		c.climbAt = 0
		return false
	}
	low := float64(c.climbRTT)
	switch {
	case w.ratio() >= delayGrow || float64(w.mean) >= climbStep*low:
		// A rise as large as the step: a queue.
		c.climbAt = 0
		return false
	case float64(w.mean) > climbRise*low:
		return false
	}
	c.climbRTT = float32(min(low, float64(w.mean)))
	c.shrunkFrom = 0
	// As the default strategy's own growth step: the windows that filled
	// the limit count again from here (see delayAlgorithm.since).
	a.at, a.since = 0, 0
	c.set(w.limit * climbStep)
	return true
}

// coldUndone takes back where slow start ended at its first level on a
// queue that level seemed to show (see exited: climbAt is that level, and
// safe is 0), if w, a window the default strategy would cut for its rise,
// is one at the lower level slow start fell back to: that level runs
// without a queue if the first one had one, and its RTT would have fallen
// to the baseline. One that rose beyond the default strategy's cut
// instead says the baseline, taken from the first level's fastest
// answers, lies under the server's time: its service times spread, and
// the first level's late answers were slow ones, not queued ones. The
// limit goes back to that level, which the server took without a refusal,
// as a knee (probed past as a drop's), and the baseline rises so that w
// reads freeRead. It reports whether it did so, once per cold start.
func (c *control) coldUndone(w windowStats) bool {
	if c.safe != 0 || c.climbAt == 0 || w.limit >= float64(c.climbAt) {
		return false
	}
	back := float64(c.climbAt)
	c.climbAt, c.climbRTT = 0, 0
	c.base = max(c.base, time.Duration(float64(min(w.mean, w.srtt))/freeRead))
	c.alg.reset(back)
	c.alg.knee(back)
	c.set(back)
	return true
}

// undoShrink takes back the default strategy's last cut made without a
// drop if w, the first window after it, shows that the cut relieved no
// queue: a queue's RTT falls with the in-flight count, and w's held within
// half that fall, by a margin beyond w's noise. The rise that made the cut
// was then the baseline's: slow start takes it from each level's fastest
// answers, far below a whole window's mean when service times spread
// widely (a third below at ±50%), so that a server with room reads as
// queued and each cut leads to the next, down to one request at a time.
// The limit goes back, the baseline rises so that w reads freeRead, and
// the level is taken as a knee: the limit probes past it only as past a
// drop's. It reports whether it undid a cut.
func (c *control) undoShrink(w windowStats) bool {
	from, rtt := float64(c.shrunkFrom), float64(c.shrunkRTT)
	c.shrunkFrom = 0
	if from == 0 || w.mean == 0 {
		return false
	}
	half := rtt * (1 - w.limit/from) / 2
	if math.Abs(rtt-float64(w.mean)) >= half || 2*float64(w.stderr) > half {
		// It fell (a queue), or rose on (a server slowing down, which a
		// cut answers too), or w cannot tell.
		return false
	}
	c.base = max(c.base, time.Duration(float64(w.mean)/freeRead))
	c.alg.reset(from)
	c.alg.knee(from)
	c.set(from)
	return true
}

// set clamps next to [min, max] and re-seeds the algorithm if it was clamped.
func (c *control) set(next float64) {
	clamped := max(c.min, min(c.max, next))
	if clamped != next {
		c.alg.reset(clamped)
	}
	c.limit = clamped
}
