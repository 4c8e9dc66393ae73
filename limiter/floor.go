package limiter

import (
	"math"
	"time"
)

// floorNoise is how many times its expected offset a window's fastest
// answer must rise over the host's fastest before the rise is taken for a
// queue: n answers spread evenly over a width W (the window's standard
// deviation times √12) have their fastest about W/(n+1) above the lowest a
// server gives, and a rise of floorNoise such offsets comes by chance in
// about one window in e^(floorNoise·n/(n+1)); the rise must also pass
// queueBase and floorRatio, and the mean read below the baseline or the
// rise be floorStderrs standard errors of the mean, before slow start acts
// on it.
const floorNoise = 2

// floorStderrs is how many standard errors of a slow-start window's mean
// its fastest answer must rise over the host's fastest to read as a queue
// where the mean reads above the baseline: the level's answers are then
// alike, and all of them well above any the host gave before, as a queue
// at a server whose service time hardly varies makes them; the answers of
// a server whose service times spread widely never are.
const floorStderrs = 10

// floorRatio is the least a window's fastest answer must rise to, over
// the host's fastest, to be read as a queue's: a window of a few answers
// may by chance hold none of a server's fastest.
const floorRatio = 1.25

// minFloorN is the answers a window needs before its fastest one is read.
const minFloorN = 4

// micros is d in whole microseconds, at least 1, as the floor's fields
// keep it.
func micros(d time.Duration) int32 {
	return int32(max(1, min(d/time.Microsecond, math.MaxInt32)))
}

// noteFastest takes a success's RTT into the host's fastest answer and,
// if it counts in the open window, the window's.
func (c *control) noteFastest(rtt time.Duration, inWindow bool) {
	us := micros(rtt)
	if c.lowest == 0 || us < c.lowest {
		c.lowest = us
	}
	if inWindow && (c.watch.fastest == 0 || us < c.watch.fastest) {
		c.watch.fastest = us
	}
}

// floorRise returns how far the open window's fastest answer rose over the
// host's fastest, if by more than the window's noise (see floorNoise), than
// queueBase (a loaded machine's stall delays every answer by a few ms) and
// than floorRatio times that fastest, else 0. Past a server's slots every
// request of a level waits behind others, so the level's fastest answer
// rises with the queue. A client loaded at its cold start delays every
// answer by a varying amount: the baseline, taken from those answers, then
// sits above what a level with a queue shows once the load lifts, and the
// mean does not show the queue, while the fastest answer against the
// fastest since does (HyStart++ compares rounds' fastest RTTs for the same
// reason).
func (c *control) floorRise() time.Duration {
	if c.n < minFloorN {
		return 0
	}
	n := float64(c.n)
	m := float64(c.sum) / n
	sd := max(math.Sqrt(max(0, c.sumSq/n-m*m)), c.spread())
	return c.floorAbove(time.Duration(floorNoise * math.Sqrt(12) * sd / (n + 1)))
}

// floorAbove returns how far the open window's fastest answer rose over
// the host's fastest, if by more than noise, queueBase and floorRatio
// times that fastest, else 0. After slow start the default strategy holds
// its growth past the levels it served on such a rise with no noise
// allowed for (see delayAlgorithm.window): a window of a server whose
// answers spread widely may then hold the limit for a window by chance,
// and a queue one noisy answer hides does not take it past the level
// where the previous window showed one.
func (c *control) floorAbove(noise time.Duration) time.Duration {
	if !c.floorTells() {
		return 0
	}
	return c.above(c.watch.fastest, noise)
}

// above returns how far fastest, an answer in microseconds, lies over the
// host's fastest, if by more than noise, queueBase and floorRatio times
// that fastest, else 0.
func (c *control) above(fastest int32, noise time.Duration) time.Duration {
	rise := time.Duration(fastest-c.lowest) * time.Microsecond
	lowest := time.Duration(c.lowest) * time.Microsecond
	if rise <= max(noise, queueBase) || rise <= time.Duration((floorRatio-1)*float64(lowest)) {
		return 0
	}
	return rise
}

// floorTells reports whether the open window holds answers enough, on a
// host known well enough, for floorAbove to tell a queue.
func (c *control) floorTells() bool {
	return c.n+c.tailN >= minFloorN && c.lowest != 0 && c.watch.fastest != 0 && c.base >= queueBase
}

// spread is, on a slow host (see slowBase) or one whose service times
// spread about as widely as their mean (see wide), the standard deviation
// of its service times that its fastest answer shows below the baseline (a
// uniform spread's mean lies √3 standard deviations above its lowest), 0
// on others: a slow-start window holds its level's first answers, the
// fastest, whose own spread is well under the server's. Where service
// times spread over 0-40 ms, four such answers come back within 6 ms of
// each other about one window in ten, and their fastest, read against that
// window's own spread, took slow start's end for a queue and rebased the
// baseline to a fifth of the host's mean (see rebase): the limit then held
// at one for the rest of the crawl. On a faster host whose answers spread
// less a loaded client's stalls raise the baseline, and with it this
// spread, where the floor must read the queue the baseline hides.
func (c *control) spread() float64 {
	if c.base <= slowBase && !c.wide() {
		return 0
	}
	return c.hostSpread()
}

// hostSpread is the standard deviation of the host's service times as its
// fastest answer tells it on any host (see spread), 0 if it tells none.
func (c *control) hostSpread() float64 {
	lowest := time.Duration(c.lowest) * time.Microsecond
	if c.lowest == 0 || c.base <= lowest {
		return 0
	}
	return float64(c.base-lowest) / math.Sqrt(3)
}

// spreadNoise is how many times the standard error the host's spread gives
// a window's mean may be before the window's own is taken for a queue's
// (see meanNoise): the fastest of a host's first few answers lies well
// above the lowest it can give, and the spread read from it short of the
// server's by up to a half.
const spreadNoise = 2

// narrowSpread bounds the hosts riseBeyondSpread reads: those whose fastest
// answer lies within this share of the baseline under it (service times
// within about ±30% of their mean). On a host that spreads more, a
// fastest answer read from a cold start's few windows lies far above the
// lowest it can give, and the spread it tells is too narrow to read a
// window against (an in-flight cap whose answers take 10-30 ms, read so,
// ended slow start on chance rises).
const narrowSpread = 0.3

// riseBeyondSpread reports whether w's mean lies above its baseline by more
// than spreadNoise standard errors of its answers, as the host's spread
// gives them (see hostSpread), on a host whose answers spread narrowly (see
// narrowSpread). A window of a few answers, some of which waited in a small
// server's queue while the others were served at once, has a standard
// error of its own as large as that queue's rise (10 in flight on 8 slots +
// 2 queued, ±25%: a mean 1.16 over the baseline, two standard errors of
// its own 0.24), where the host's spread gives five answers one of 0.065.
func (c *control) riseBeyondSpread(w windowStats) bool {
	s := c.hostSpread()
	if s == 0 || w.n < 1 || c.wide() || math.Sqrt(3)*s >= narrowSpread*float64(c.base) {
		return false
	}
	return float64(w.mean-w.base) > spreadNoise*s/math.Sqrt(float64(w.n))
}

// meanNoise is the standard error a window's mean of n answers is read
// against, stderr being the one its own answers give: on a slow host (see
// slowBase), no more than spreadNoise times what the host's spread gives n
// answers. A window of a few answers, some of which waited a whole service
// time in the server's queue, has a standard error as large as the rise
// that queue makes (answers of 1, 2 and 2 s: a mean 0.67 s over a 1 s
// baseline, two standard errors of 0.33 s), while a server whose answers
// take about the same time cannot spread them so by chance. Read against
// its own standard error, the queue reads as noise, and slow start's wider
// step on a slow host (see slowStepAt) takes the level past the server's
// slots and queue.
func (c *control) meanNoise(stderr time.Duration, n int) time.Duration {
	if c.base <= slowBase || n < 1 {
		return stderr
	}
	return min(stderr, time.Duration(spreadNoise*c.spread()/math.Sqrt(float64(n))))
}

// rebase lowers the baseline to w's mean less the rise of its fastest
// answer (see floorRise), the part of the level's RTT that is no queue,
// where that answer rose while w's mean fell below the baseline beyond
// twice its standard error: the sign of a baseline taken from a client
// loaded at its cold start, once the load has lifted. The cold start's
// samples are then done with. A fall alone says less: slow start's
// windows hold a level's first answers, its fastest, which on a server
// whose service times spread widely fall well below the mean of all.
func (c *control) rebase(w *windowStats) {
	if w.floorRise == 0 || w.base-w.mean <= 2*w.stderr {
		return
	}
	b := w.mean - w.floorRise
	if b <= 0 || b >= c.base {
		return
	}
	c.base, w.base = b, b
	c.coldN, c.coldSum = math.MaxUint8, 0
}

// wideFactor is the share of a whole window's RTT without a queue (see
// wideBase) up to which the baseline of a host whose service times spread
// widely is raised: a window's mean is noisy on such a host, and the
// default strategy holds its growth at delayGrow over the baseline, which
// on a tight server must come before its small queue is full.
const wideFactor = 0.75

// wideHold is the share of the baseline by which the fastest answer of a
// window on a host whose service times spread widely must rise, beyond its
// expected offset, for the default strategy to hold its growth (see
// wideBase): HyStart++ ends slow start on a rise of an eighth of the
// lowest RTT in a round's fastest answer.
const wideHold = 1.0 / 8

// wideBase raises the baseline, after slow start, a quarter of the way to
// wideFactor times the mean of a window less the rise of its fastest
// answer, where that is higher by more than its standard error, on a host
// whose service times spread as widely as their mean (see wide) and whose
// window's answers do too. Slow start's windows close on a level's first
// answers, its fastest: on such a host their mean, and the baseline taken
// from it, lie at half the RTT of a whole window, which then reads as a
// queue at any level, and the default strategy cuts the limit window after
// window. A queue delays every answer by about the same time, the fastest
// too; a spread moves the mean of a window's answers but leaves its fastest
// near the host's fastest. So the mean less that rise is the part of the
// RTT no queue of ours made. A window whose mean is high by chance (a long
// tail's slow answers) raises it no further than its noise allows.
//
// It returns that rise if it is wideHold of the baseline or more, else 0
// (a queue that the noisy mean does not show yet), whether the window was
// read so, and whether its fastest answer rose past twice where it
// typically lies (floorNoise): a queue's, not a chance window's. A window
// that is no clear queue teaches where the fastest answer lies (learnGap).
func (c *control) wideBase(mean time.Duration, n int, stderr time.Duration) (time.Duration, bool, bool) {
	if c.slowStart || n < minFloorN || c.lowest == 0 || c.watch.fastest == 0 || c.base < queueBase || !c.wide() {
		return 0, false, false
	}
	f := float64(time.Duration(c.watch.fastest) * time.Microsecond)
	if math.Sqrt(12)*c.restSpread(f) < float64(mean) {
		// The answers but the fastest spread less than a uniform spread
		// of ±50% would: a queue that delays them all, or a few fast
		// answers (a cache's hits) among alike ones.
		return 0, false, false
	}
	// The fastest of n answers lies above the lowest the server gives by
	// about sd/(n+1) where most answers come near that lowest (a long tail
	// of slow ones), and more where they spread evenly: the smaller offset
	// reads a rise where there may be none, which keeps the baseline low.
	// Whether the fastest rose is read against where it typically lies,
	// once the host's windows without a queue have shown that (fastGap,
	// the client's own timing included), else against an even spread's.
	sd := float64(stderr) * math.Sqrt(float64(n))
	gap := time.Duration(c.watch.fastest-c.lowest) * time.Microsecond
	offset := time.Duration(sd / float64(n+1))
	typical := time.Duration(math.Sqrt(12) * sd / float64(n+1))
	if g := c.fastGap(); g > 0 {
		typical = g / time.Duration(n+1)
	}
	rise := max(0, gap-offset)
	if t := time.Duration(wideFactor * float64(mean-rise)); t > c.base+time.Duration(wideFactor*float64(stderr)) {
		c.base += (t - c.base) / 4
	}
	queued := float64(gap) > floorNoise*float64(typical)
	if gap <= 2*floorNoise*typical {
		// Not a clear queue. A window that reads as one by chance counts
		// too, or fastGap, learnt from the others, would only fall.
		c.learnGap(gap, n)
	}
	if float64(rise) < wideHold*float64(c.base) {
		return 0, true, queued
	}
	return rise, true, queued
}

// spreadCV is the spread of a window's answers, relative to their mean,
// from which spreadBase reads them as a wide spread's: ±50% spread evenly
// is 0.29, ±25% 0.14.
const spreadCV = 0.22

// spreadLowest is the share of the baseline under which the host's fastest
// answer must lie for spreadBase: where service times spread ±50% it lies
// at two thirds of a baseline taken from each level's first answers, at
// ±25% at four fifths.
const spreadLowest = 0.75

// spreadBase raises the baseline to the mean of the whole windows read at
// the level slow start fell back to on a rise (spreadAt) or below, less
// their fastest answer's rise, over freeRead, while the host has refused
// nothing, if w is such a window of a wide spread (spreadCV) whose fastest
// answer lies within wideHold of the baseline above the host's fastest, on
// a host whose fastest answer lies well under its baseline (spreadLowest).
//
// Slow start's windows close on a level's first answers, and where service
// times spread ±50% a baseline taken from them lies a quarter under a whole
// window's mean; a window whose answers came from requests started over a
// round trip holds slower ones too and reads as a queue of a quarter, which
// ends slow start far below the slots of a server with room (an in-flight
// cap, which refuses only past them, has no queue to show). Every whole
// window then reads 1.2-1.45 baselines at any level, and the default
// strategy holds the limit there. A queue delays every answer, the fastest
// too; a spread leaves the fastest near the host's fastest. Only the
// windows at or below the level slow start fell back to are pooled, so that
// the levels past a small queue's start, which the fastest answer of a
// wide spread hardly shows, do not raise the baseline with it; and only
// before a refusal, after which an in-flight cap is held by its refusals
// (see windowStats.capOnly) and a server that refuses with a gate is known
// to have levels it refuses.
func (c *control) spreadBase(w *windowStats) {
	if c.refusals != 0 || c.spreadAt == 0 || int(w.limit) > int(c.spreadAt) || w.drop || w.mean == 0 ||
		w.n < minFold || w.inFlight < int(w.limit) || c.lowest == 0 || c.watch.fastest == 0 {
		return
	}
	lowest := time.Duration(c.lowest) * time.Microsecond
	if float64(lowest) >= spreadLowest*float64(c.base) ||
		float64(w.stderr)*math.Sqrt(float64(w.n)) < spreadCV*float64(w.mean) {
		return
	}
	rise := time.Duration(c.watch.fastest-c.lowest) * time.Microsecond
	if float64(rise) > wideHold*float64(c.base) {
		return
	}
	n := float64(c.spreadN)
	c.spreadMean = float32((float64(c.spreadMean)*n + float64(w.mean)*float64(w.n)) / (n + float64(w.n)))
	c.spreadN = uint16(min(math.MaxUint16, int(c.spreadN)+w.n))
	if b := time.Duration((float64(c.spreadMean) - float64(max(0, rise))) / freeRead); b > c.base {
		c.base, w.base = b, b
	}
}

// fastGap is how far the fastest of a window's n answers lies above the
// host's fastest answer, times n+1, in the host's windows without a queue
// (see learnGap); 0 until known. A queue delays every answer, the fastest
// too, but the fastest of a few answers never comes as fast as the host's
// fastest of thousands: n answers spread evenly over a width W have their
// fastest W/(n+1) above the lowest, those of a long tail less, and a
// loaded client adds its own delay to every one (on loopback, at a load of
// 2 on 2 cores, 0.4-2 ms over the server's time). HyStart++ compares a
// round's fastest RTT with the last round's for the same reason, not with
// the connection's lowest. It is kept in coldSum, which the cold start no
// longer needs.
func (c *control) fastGap() time.Duration {
	if c.coldN < maxNeed*2 {
		return 0
	}
	return c.coldSum
}

// learnGap moves fastGap a quarter of the way to gap·(n+1), gap being how
// far the fastest of a window's n answers without a queue lay above the
// host's fastest; the first such window sets it. A window whose fastest
// answer is the host's fastest (gap 0: it set the floor it is read
// against) tells nothing of where a window's fastest lies, and is not
// learnt from: a fastGap of about nothing would read every later window
// as queued (see wideBase), and only windows within it would move it.
func (c *control) learnGap(gap time.Duration, n int) {
	if c.coldN < maxNeed*2 || gap <= 0 {
		return
	}
	g := gap * time.Duration(n+1)
	if c.coldSum == 0 {
		c.coldSum = max(1, g)
		return
	}
	c.coldSum = max(1, c.coldSum+(g-c.coldSum)/4)
}

// restSpread is the standard deviation of the open window's answers but
// its fastest, f nanoseconds.
func (c *control) restSpread(f float64) float64 {
	n := float64(c.n - 1)
	if n < 2 {
		return 0
	}
	m := (float64(c.sum) - f) / n
	return math.Sqrt(max(0, (c.sumSq-f*f)/n-m*m))
}

// wide reports whether the host's fastest answer came in under half its
// baseline: its service times spread about as widely as their mean.
func (c *control) wide() bool {
	return 2*time.Duration(c.lowest)*time.Microsecond < c.base
}
