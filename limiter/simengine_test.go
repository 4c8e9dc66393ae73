package limiter

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"
)

// A discrete-event simulation of one client host against a server model, in
// virtual time, driving the limiter's non-blocking core (TryAcquireAt,
// ReleaseAt, GateAt, SetQuotaAt). The client has an unlimited backlog and
// starts a request whenever the limiter allows.

const simBin = 100 * time.Millisecond

type simReq struct {
	permit Permit
	start  time.Duration
	free   bool // outside the server's quota (a crawl's robots.txt; see sim.crawlRobots)
}

// simResponse is what the client receives: the outcome the transport would
// classify, and the headers' meaning.
type simResponse struct {
	outcome    Outcome
	retryAfter time.Duration // > 0: a Retry-After (the client gates)
	quota      *Quota        // non-nil: quota headers
}

type simEvent struct {
	at   time.Duration
	seq  int64
	fn   func()
	resp *simResponse
	req  *simReq
}

type simQueue []*simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simServer is a server model.
type simServer interface {
	// arrive handles a request arriving at s.now; it must eventually call
	// s.respond for it.
	arrive(s *sim, r *simReq)
}

type sim struct {
	h      *Host
	server simServer
	rng    *rand.Rand
	now    time.Duration
	end    time.Duration
	events simQueue
	seq    int64
	retry  time.Duration // a pending client retry event, 0 if none

	bins []simBinStats

	// crawlStart sends one request alone before any other, as a crawl
	// sends its first listing page before the items it lists: untimed and
	// no sample, as the crawl's listing page is (transport.Auxiliary), so
	// that its answer marks nothing on the cold start's watch.
	crawlStart bool
	// crawlTimed makes crawlStart's lone request a timed sample instead,
	// to compare against the simulation's crawl start before it was the
	// crawl's.
	crawlTimed bool
	// crawlRobots sends, before crawlStart's lone request, an auxiliary
	// one alone (a crawl's robots.txt, see AcquireAuxiliary) that the
	// server answers outside its quota; crawlPause holds the requests
	// after crawlStart's lone one this long after its answer (a crawl
	// with state writing the first listing page's items before it fetches
	// them).
	crawlRobots bool
	crawlPause  time.Duration
	resumeAt    time.Duration
	answers     int
	sent        int // requests started

	answered     bool // a response reached the client
	lateRejected int  // 429s that reached the client after the first response

	// stalls are intervals [from, to) in which the client does not run (a
	// loaded machine): responses that arrive then are handled at to.
	stalls [][2]time.Duration

	// onAnswer, if set, sees each answer as it reaches the client, before
	// the limiter does.
	onAnswer func(r *simReq, o Outcome)

	// noise delays each answer's reading by the client a time drawn
	// uniformly from [0, noise) after it reached it, from a generator of its
	// own (see setNoise); 0: none.
	noise    time.Duration
	noiseRng *rand.Rand
	// noiseAt, if set, is the noise at each time (see setLateStart).
	noiseAt func(at time.Duration) time.Duration

	// late delays each of the client's timers (a wait for a token or a
	// gate) a time drawn uniformly from [0, late) after the time it was
	// set for, from a generator of its own (see setLate); 0: none.
	late    time.Duration
	lateRng *rand.Rand

	// startCost is the client's time to start a request (see
	// setStartCost): no two start closer than it; 0: any number at once.
	startCost time.Duration
	busyUntil time.Duration

	// listed, if set, is when each of the client's first requests is there
	// to start (see setTrickle): request i starts at listed[i] at the
	// earliest; those past it are there from the start.
	listed []time.Duration

	// connect, if set, is the range of the time a request that opens a
	// connection takes to reach the server (see setConnect); conns is the
	// connections open, the most requests out at once so far.
	connect    [2]time.Duration
	conns      int
	connectRng *rand.Rand
}

type simBinStats struct {
	attempts, successes, rejected, dropped int
	limit, inFlight                        int
	rate                                   float64
}

func newSim(h *Host, server simServer, seed uint64, end time.Duration) *sim {
	return &sim{
		h:      h,
		server: server,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		end:    end,
		bins:   make([]simBinStats, int(end/simBin)+1),
	}
}

func (s *sim) at(d time.Duration) time.Time { return epoch.Add(d) }

func (s *sim) schedule(at time.Duration, e *simEvent) {
	s.seq++
	e.at, e.seq = at, s.seq
	heap.Push(&s.events, e)
}

// after runs fn at the virtual time at.
func (s *sim) after(at time.Duration, fn func()) { s.schedule(at, &simEvent{fn: fn}) }

// respond delivers resp for r to the client at the virtual time at (later
// by the client's own noise, see setNoise).
func (s *sim) respond(at time.Duration, r *simReq, resp simResponse) {
	if s.noise > 0 {
		noise := s.noise
		if s.noiseAt != nil {
			noise = s.noiseAt(at)
		}
		at += time.Duration(s.noiseRng.Float64() * float64(noise))
	}
	s.schedule(at, &simEvent{req: r, resp: &resp})
}

// setNoise makes the client read each answer up to noise after it arrived
// (uniformly), each answer apart: a client on a loaded machine, whose
// goroutine that reads an answer runs a little after it came, and whose
// timers fire late, reads every RTT a few tenths of a ms to a few ms long
// (on loopback at a load of 2 on 2 cores: 0.4-2.3 ms over a 20 ms service
// time). Unlike a stall (loadStalls), it delays no two answers alike, and
// unlike -simreach it moves the RTT read, not the order of arrival. Its
// generator has its own seed, so that the service times' draw is the same
// as without it.
func (s *sim) setNoise(seed uint64, noise time.Duration) {
	s.noise = noise
	s.noiseRng = rand.New(rand.NewPCG(seed^0x6e6f697365, seed+1))
}

// setLate makes the client's timers fire up to late after their time
// (uniformly): a loaded runtime's timers and the goroutine they wake run a
// little late, which a pacer that may save no token loses at every token.
// Its generator has its own seed, so that the service times' draw is the
// same as without it.
func (s *sim) setLate(seed uint64, late time.Duration) {
	s.late = late
	s.lateRng = rand.New(rand.NewPCG(seed^0x6c617465, seed+2))
}

// setStartCost makes the client take cost to start each request: a client
// on a loaded machine (a goroutine woken per request, a connection's write)
// starts a cold start's requests a few milliseconds apart, not at once, so
// that a fast server's bucket refills a few tokens over its first burst
// (end to end at 300/s, 2-3 ms a request: 6-9 requests over 12-14 ms).
func (s *sim) setStartCost(cost time.Duration) { s.startCost = cost }

// setTrickle makes the client's first n requests there to start one every
// gap apart on average (each gap drawn uniformly from [0, 2*gap)), the
// first at the start, and the rest from the last of them: a crawl whose
// listing hands a host its first items a page or two apart, so that the
// cold start's first level does not fill at once. Its generator has its
// own seed, so that the service times' draw is the same as without it.
func (s *sim) setTrickle(seed uint64, n int, gap time.Duration) {
	rng := rand.New(rand.NewPCG(seed^0x747269636b6c65, seed+3))
	s.listed = make([]time.Duration, n)
	for i := 1; i < n; i++ {
		s.listed[i] = s.listed[i-1] + time.Duration(rng.Float64()*float64(2*gap))
	}
}

// setConnect makes each request that opens a connection (one more out
// at once than ever before) reach the server a time drawn uniformly from
// [lo, hi] after it started: a crawl's first requests to a host each dial
// and set up a connection on a client that starts every host at once, so
// that the cold start's first answers read a few ms to 15 ms over the
// service time (the mock's 50 ms hosts read 52-65 ms end to end), and the
// requests of its first level reach the server apart. Its generator has
// its own seed, so that the service times' draw is the same as without it.
func (s *sim) setConnect(seed uint64, lo, hi time.Duration) {
	s.connect = [2]time.Duration{lo, hi}
	s.connectRng = rand.New(rand.NewPCG(seed^0x636f6e6e, seed+4))
}

// connectCost returns how long the request just started takes to reach the
// server beyond its own time (see setConnect).
func (s *sim) connectCost() time.Duration {
	if s.connectRng == nil || s.sent-s.answers <= s.conns {
		return 0
	}
	s.conns = s.sent - s.answers
	lo, hi := s.connect[0], s.connect[1]
	return lo + time.Duration(s.connectRng.Float64()*float64(hi-lo))
}

func (s *sim) bin() *simBinStats { return &s.bins[min(len(s.bins)-1, int(s.now/simBin))] }

func (s *sim) run() {
	s.pump()
	for len(s.events) > 0 {
		e := heap.Pop(&s.events).(*simEvent)
		if e.at > s.end {
			break
		}
		s.now = e.at
		switch {
		case e.fn != nil:
			e.fn()
			s.pump()
		case e.req != nil:
			if to := s.stalledUntil(s.now); to > s.now {
				s.schedule(to, e)
				continue
			}
			s.deliver(e.req, e.resp)
			if s.late > 0 && s.retry != 0 {
				// A client waiting for a time (a token, a gate's end)
				// tries again when its timer fires, not at an answer.
				break
			}
			s.pump()
		default: // the client's retry timer
			if s.retry == e.at {
				s.retry = 0
			}
			s.pump()
		}
		b := s.bin()
		snap := s.h.Snapshot()
		b.limit, b.inFlight, b.rate = snap.Limit, snap.InFlight, snap.Rate
	}
}

// stalledUntil returns the end of the stall that holds now, or now if none.
func (s *sim) stalledUntil(now time.Duration) time.Duration {
	for _, st := range s.stalls {
		if now >= st[0] && now < st[1] {
			return st[1]
		}
	}
	return now
}

// loadStalls adds stalls from now on until the run's end: one every mean
// apart on average (exponentially), each of a length drawn uniformly from
// [short, long], from a generator of its own seed so that the service
// times' draw is the same as without them.
func (s *sim) loadStalls(seed uint64, mean, short, long time.Duration) {
	rng := rand.New(rand.NewPCG(seed^0x5eed, seed))
	for at := time.Duration(0); ; {
		at += time.Duration(rng.ExpFloat64() * float64(mean))
		if at >= s.end {
			return
		}
		d := short + time.Duration(rng.Float64()*float64(long-short))
		s.stalls = append(s.stalls, [2]time.Duration{at, at + d})
		at += d
	}
}

func (s *sim) deliver(r *simReq, resp *simResponse) {
	now := s.at(s.now)
	b := s.bin()
	if resp.quota != nil && resp.quota.Reset.After(now) {
		// As the transport does: a quota whose Reset has passed says nothing.
		s.h.SetQuotaAt(now, *resp.quota)
	}
	if resp.retryAfter > 0 {
		s.h.GateAt(now, now.Add(resp.retryAfter))
	}
	switch resp.outcome {
	case Success:
		b.successes++
	case Throttled:
		b.rejected++
		if s.answered {
			s.lateRejected++
		}
	case Dropped:
		b.dropped++
	}
	if s.onAnswer != nil {
		s.onAnswer(r, resp.outcome)
	}
	r.permit.ReleaseAt(now, resp.outcome)
	s.answered = true
	s.answers++
	if s.crawlStart && s.crawlPause > 0 && s.answers == s.lone() {
		s.resumeAt = s.now + s.crawlPause
		s.after(s.resumeAt, func() {})
	}
}

// lone returns how many requests of a crawl's start go out one at a time,
// each after the last one's answer.
func (s *sim) lone() int {
	if s.crawlRobots {
		return 2
	}
	return 1
}

// pump starts requests while the limiter allows, and arms a retry at the time
// it names.
func (s *sim) pump() {
	for {
		if s.crawlStart && s.sent > 0 && s.answers < min(s.sent, s.lone()) || s.now < s.resumeAt {
			return
		}
		if s.sent < len(s.listed) && s.listed[s.sent] > s.now {
			if at := s.listed[s.sent]; s.retry == 0 || at < s.retry {
				s.retry = at
				s.schedule(at, &simEvent{})
			}
			return
		}
		if s.startCost > 0 && s.busyUntil > s.now {
			if s.retry == 0 || s.busyUntil < s.retry {
				s.retry = s.busyUntil
				s.schedule(s.busyUntil, &simEvent{})
			}
			return
		}
		robots := s.crawlStart && s.crawlRobots && s.sent == 0
		var p Permit
		var retryAt time.Time
		var ok bool
		if robots {
			s.h.mu.Lock()
			p, retryAt, ok = s.h.takeLocked(s.at(s.now), false)
			s.h.mu.Unlock()
			p = p.Unsampled()
		} else {
			p, retryAt, ok = s.h.TryAcquireAt(s.at(s.now))
		}
		if !ok {
			if !retryAt.IsZero() {
				at := retryAt.Sub(epoch)
				if s.late > 0 {
					at += time.Duration(s.lateRng.Float64() * float64(s.late))
				}
				if s.retry == 0 || at < s.retry {
					s.retry = at
					s.schedule(at, &simEvent{})
				}
			}
			return
		}
		if s.crawlStart && !s.crawlTimed && s.sent == s.lone()-1 {
			p = p.Unsampled()
		}
		s.bin().attempts++
		s.sent++
		s.busyUntil = s.now + s.startCost
		r := &simReq{permit: p, start: s.now, free: robots}
		if d := s.connectCost(); d > 0 {
			s.after(s.now+d, func() { s.server.arrive(s, r) })
			continue
		}
		s.server.arrive(s, r)
	}
}

// uniform returns d ± spread (uniformly).
func (s *sim) uniform(d time.Duration, spread float64) time.Duration {
	return time.Duration(float64(d) * (1 - spread + 2*spread*s.rng.Float64()))
}

// slowTimes is how much slower a capacityServer serves its slowShare.
const slowTimes = 10

// capacityServer: slots × service time, a FIFO queue, and beyond it an
// immediate full answer (a 429 with no headers, or a 503 with Retry-After).
type capacityServer struct {
	slots, queueCap int
	service         time.Duration
	constant        bool          // every request takes service exactly (else ± spread)
	spread          float64       // the service times' spread, ±25% if 0
	slowShare       float64       // the share of requests served slowTimes slower (a heavy tail), 0 if none
	slowFactor      float64       // how much slower that share is served, slowTimes if 0
	drift           time.Duration // added to the service time per second since the start (a server that slows down)
	full            simResponse   // the answer to a request beyond the queue
	rejectAfter     time.Duration // how long that answer takes to reach the client
	back            time.Duration // how long a success takes to reach the client once its slot is free
	reach           time.Duration // a request reaches the server up to this long after it started (0: at once), so that requests started together may arrive out of order
	busy            int
	queue           []*simReq
}

func (c *capacityServer) arrive(s *sim, r *simReq) {
	if c.reach > 0 {
		s.after(s.now+time.Duration(s.rng.Float64()*float64(c.reach)), func() { c.reached(s, r) })
		return
	}
	c.reached(s, r)
}

// reached handles r once it reaches the server.
func (c *capacityServer) reached(s *sim, r *simReq) {
	switch {
	case c.busy < c.slots:
		c.serve(s, r)
	case len(c.queue) < c.queueCap:
		c.queue = append(c.queue, r)
	default:
		s.respond(s.now+c.rejectAfter, r, c.full)
	}
}

func (c *capacityServer) serve(s *sim, r *simReq) {
	c.busy++
	service := c.service + time.Duration(float64(c.drift)*s.now.Seconds())
	done := s.now + service
	if !c.constant {
		spread := c.spread
		if spread == 0 {
			spread = 0.25
		}
		done = s.now + s.uniform(service, spread)
	}
	if c.slowShare > 0 && s.rng.Float64() < c.slowShare {
		k := c.slowFactor
		if k == 0 {
			k = slowTimes
		}
		done = s.now + time.Duration(k*float64(done-s.now))
	}
	s.after(done, func() {
		c.busy--
		s.respond(s.now+c.back, r, simResponse{outcome: Success})
		c.startQueued(s)
	})
}

func (c *capacityServer) startQueued(s *sim) {
	for c.busy < c.slots && len(c.queue) > 0 {
		r := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.serve(s, r)
	}
}

// setSlots changes the capacity at the current time.
func (c *capacityServer) setSlots(s *sim, n int) {
	c.slots = n
	c.startQueued(s)
}

// quotaServer: a token bucket quota in front of unlimited capacity. With
// headers it announces the quota on every response (RateLimit-* style:
// Remaining and the time until the bucket is full again, stamped when the
// request is admitted); without, a 429 carries only a Retry-After in whole
// seconds.
type quotaServer struct {
	rate        float64 // tokens/s
	burst       float64
	service     time.Duration
	rejectAfter time.Duration
	headers     bool
	noWait      bool          // without headers, a 429 carries no Retry-After either
	jitter      time.Duration // a request reaches the bucket up to this long after it started (a loopback's and a runtime's timing)
	fixedRA     time.Duration // without headers, a 429's Retry-After whatever the time to the next token (0: that time, in whole seconds)

	tokens float64
	last   time.Duration
}

func (q *quotaServer) arrive(s *sim, r *simReq) {
	if q.jitter > 0 {
		s.after(s.now+time.Duration(s.rng.Float64()*float64(q.jitter)), func() { q.reach(s, r) })
		return
	}
	q.reach(s, r)
}

// reach takes r at the bucket.
func (q *quotaServer) reach(s *sim, r *simReq) {
	if r.free {
		s.respond(s.now+q.rejectAfter, r, simResponse{outcome: Success})
		return
	}
	q.tokens = math.Min(q.burst, q.tokens+q.rate*(s.now-q.last).Seconds())
	q.last = s.now
	admitted := q.tokens >= 1
	if admitted {
		q.tokens--
	}
	var quota *Quota
	if q.headers {
		untilFull := time.Duration((q.burst - q.tokens) / q.rate * float64(time.Second))
		quota = &Quota{Limit: int(q.rate), Remaining: int(q.tokens), Window: time.Second}
		// The client turns the delta into a time when the answer arrives.
		lat := q.rejectAfter
		if admitted {
			lat = s.uniform(q.service, 0.25)
		}
		quota.Reset = s.at(s.now + lat + untilFull)
		resp := simResponse{outcome: Success, quota: quota}
		if !admitted {
			resp.outcome = Throttled
		}
		s.respond(s.now+lat, r, resp)
		return
	}
	if admitted {
		s.respond(s.now+s.uniform(q.service, 0.25), r, simResponse{outcome: Success})
		return
	}
	if q.noWait {
		s.respond(s.now+q.rejectAfter, r, simResponse{outcome: Throttled})
		return
	}
	wait := (1 - q.tokens) / q.rate
	ra := time.Duration(math.Ceil(wait)) * time.Second
	if q.fixedRA > 0 {
		ra = q.fixedRA
	}
	s.respond(s.now+q.rejectAfter, r, simResponse{outcome: Throttled, retryAfter: ra})
}
