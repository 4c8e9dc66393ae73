package redisstate

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/politely/politely/limiter"
)

// Shared is the politeness every worker of a crawl shares (limiter.Shared):
// a GCRA per host in Redis (redis_rate) at the lower of the ceiling and
// the announced quota, or where none is announced the rate the workers
// learnt together (see teamRate), and a gate per host that any worker
// closes for all. Get it from NewShared.
//
// The rate is learnt crawl-wide, from episodes: an episode runs from the end
// of a gate (or the first request) until a throttle closes the gate again.
// The workers add their successes to a count in Redis (in the round trip
// that reads the host's gate and learnt rate, at most every refresh
// interval, and when they close the gate). The episode closes when its
// gate opens; a worker that last reported during it adds its successes
// since at its first refresh after that (its requests waited for the
// gate), and they count in the episode closed: over the episode's length,
// the workers' successes are the rate the server allowed. Once a worker
// reports the throttle, the rate becomes learntCut of that (learnt again
// as such successes come in). An episode paced by the learnt rate and still
// refused learns no more than that rate, and no less than learntFloor of
// it (fewer successes say the workers sent less, not that the server
// allowed less). The rate then grows, by probeUnconfirmed a second until a
// throttle comes at it and probeConfirmed after. A gate this worker closes
// applies to it at once; a gate another worker closes reaches this one
// pushed (Redis pub/sub), not only at its next refresh.
//
// Concurrency is shared once the workers together were refused with a gate
// (a 503 and its Retry-After, not a refusal for rate): each worker's limit
// is capped at its share of one less than the level they were refused at
// (the sum of their limits then, less a margin), the others' limits
// counted as they reported them at their last refresh (see
// hostView.capLocked).
//
// From a cold start, the first worker in slow start to ask for work (or
// whose slow start fills its limit) leads the host's concurrency for all of
// them: while its slow start runs, the others' work waits (their
// robots.txt goes), and once it has ended, the others' limits are capped at
// one and the leader counts their requests as its own in flight: its limit
// alone moves, and it bounds what all of them send, as one process's
// limit would. The leader's limit stays at or below the highest level its
// slow start reached (a slow start resumed may raise it): its strategy
// reads a queue from its own answers, and the others' requests, one each
// and not always in flight, thin the queue it would see at its level, so
// that it grows past what one process holds. Each worker's slow start
// judges only its share of the answers, and several of them together pass
// a tight server's slots before any sees a queue form; one worker's slow
// start (and then its own strategy) over the others' steady share sees it
// as one process would. And the first refusal of a cold start reaches the other workers
// only through Redis: their requests written meanwhile (a few
// milliseconds on a loaded machine, where a worker reads the gate pushed
// to it late) would reach the server inside its Retry-After. The lead ends
// at a gate (its level then caps the limits), when the leader's limit
// reaches its most (the host takes more than one process sends), when it
// stops sending, after probeMax if its slow start has not ended by then,
// or levelHold after it has.
type Shared struct {
	c   *Crawl
	gc  *redis_rate.Limiter
	now func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostView
	apply func(key string, until time.Time) // OnGate's; nil: none
}

// refresh is how often a worker reads a host's shared gate and learnt rate,
// and adds its successes to the crawl's count.
const refresh = 50 * time.Millisecond

// roundTrip bounds each of Shared's round trips, so that a Redis that hangs
// does not hold requests for long.
const roundTrip = 2 * time.Second

// Learning the rate from the workers' successes.
const (
	learntCut        = 0.98                   // the rate learnt, relative to the episode's success rate
	serverBurst      = 100 * time.Millisecond // the server's burst assumed, in time at its rate
	probeUnconfirmed = 0.02                   // the learnt rate's growth per second until a throttle comes at it
	probeConfirmed   = 0.001                  // and after
	learntFloor      = 0.8                    // a throttle at the learnt rate cuts it to at least this share (then learntCut)
)

var _ limiter.SharedGates = (*Shared)(nil)

// NewShared returns the shared politeness of c's crawl. It listens for the
// gates the other workers close until c is closed.
func NewShared(c *Crawl) *Shared {
	s := &Shared{c: c, gc: redis_rate.NewLimiter(c.rdb), now: time.Now, hosts: map[string]*hostView{}}
	sub := c.rdb.Subscribe(context.Background(), c.key("gates"))
	done := make(chan struct{})
	go s.listen(sub.Channel(), done)
	c.atClose(func() {
		_ = sub.Close()
		<-done
	})
	return s
}

// listen applies the gates pushed on ch ("UNIXMS HOST", published by
// learnScript when a gate closes or moves later) to the hosts' views, and
// hands them to OnGate's apply, until ch is closed: a request this worker
// sends after a gate another worker closed learns of it at once, not at its
// next refresh (requests sent in that time would reach the server inside
// the Retry-After), and so does one whose permit it took before and that
// waits for its connection. A missed message costs nothing more than that:
// the refresh reads the gate too.
func (s *Shared) listen(ch <-chan *redis.Message, done chan<- struct{}) {
	defer close(done)
	for m := range ch {
		ms, key, ok := strings.Cut(m.Payload, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			continue
		}
		v := s.view(key)
		g := time.UnixMilli(n)
		v.mu.Lock()
		if g.After(v.gate) {
			v.gate = g
		}
		v.mu.Unlock()
		s.mu.Lock()
		apply := s.apply
		s.mu.Unlock()
		if apply != nil {
			apply(key, g)
		}
	}
}

// OnGate implements limiter.SharedGates: apply is called with each gate
// pushed (see listen), this worker's own included.
func (s *Shared) OnGate(apply func(key string, until time.Time)) {
	s.mu.Lock()
	s.apply = apply
	s.mu.Unlock()
}

// hostView is what this worker knows of a host's shared state.
type hostView struct {
	mu         sync.Mutex
	fetched    time.Time
	refreshing bool // a refresh is under way: the others use the view as it is
	gate       time.Time
	learnt     float64   // the rate learnt together, with its growth until fetched
	successes  int64     // this worker's successes as last added to the crawl's count
	throttles  int64     // and its throttles
	applied    float64   // the shared rate as last published in the hosts hash
	refused    time.Time // when the GCRA last made a request wait
	drained    time.Time // the gate after which this worker drained the GCRA
	others     int       // the other live workers' concurrency limits, summed
	level      int       // the workers' limits summed when a gate last closed (0: none lately)
	held       bool      // another worker leads the host's concurrency from a cold start
	hold       bool      // and is still in its slow start: this worker's work waits
	leads      bool      // this worker leads the host's concurrency and its slow start has ended: it counts the others' requests as its own (see limiter.SharedAnswer.Lead)
	leadLevel  int       // and the highest level its slow start reached caps its limit (0: none, its slow start runs)
	limit      int       // this worker's concurrency limit, as last reported
	peers      int       // the other live workers that reported limits
	counting   bool      // the host announced a quota: this worker counts its requests in Redis
	sent       int64     // the requests this worker counted there
	workTold   bool      // this worker told Redis it asks for work, not only a robots.txt (its first work request may claim the cold start's lead)
}

func (s *Shared) view(key string) *hostView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.hosts[key]
	if v == nil {
		v = &hostView{applied: -1}
		s.hosts[key] = v
	}
	return v
}

// Allow implements limiter.Shared: a request the GCRA refuses books the
// next free place instead of asking again, so that waiting requests do not
// poll Redis; while the host's rate is contended, requests book at once
// (one round trip each). A request held by the gate asks again at least
// every refresh interval, so that its worker adds its successes to the
// crawl's count while the gate is closed.
//
// A request let go at once is counted, once the host has announced a
// quota, for the quota's readers (see limiter.SharedAnswer.Others).
func (s *Shared) Allow(ctx context.Context, key string, r limiter.SharedRate) (limiter.SharedAnswer, error) {
	v := s.view(key)
	a, err := s.allow(ctx, key, v, r)
	if err != nil {
		return a, err
	}
	v.mu.Lock()
	if v.leads {
		a.Lead = v.peers
	}
	v.mu.Unlock()
	if a.Wait > 0 {
		return a, nil
	}
	return s.count(ctx, key, v, r, a)
}

func (s *Shared) allow(ctx context.Context, key string, v *hostView, r limiter.SharedRate) (limiter.SharedAnswer, error) {
	now := s.now()
	if err := s.refreshIfDue(ctx, key, v, r, now); err != nil {
		return limiter.SharedAnswer{}, err
	}
	v.mu.Lock()
	gate, learnt := v.gate, v.learnt
	rate, burst := teamRate(r, learnt)
	contendedNow := now.Sub(v.refused) <= contended
	capLimit := v.capLocked()
	if gate.After(now) {
		v.mu.Unlock()
		return limiter.SharedAnswer{Wait: min(gate.Sub(now), refresh), Again: true, Learnt: learnt, Gate: gate}, nil
	}
	if v.hold && !r.Auxiliary {
		v.mu.Unlock()
		return limiter.SharedAnswer{Wait: refresh, Again: true, Learnt: learnt}, nil
	}
	if rate <= 0 || r.Booked {
		v.mu.Unlock()
		return limiter.SharedAnswer{Learnt: learnt, Cap: capLimit}, nil
	}
	drain := !gate.IsZero() && !v.drained.Equal(gate)
	v.drained = gate
	v.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, roundTrip)
	defer cancel()
	// redis_rate takes whole requests per period: a period of 1000 s keeps
	// three decimals of the rate.
	lim := redis_rate.Limit{Rate: max(1, int(math.Round(rate*1000))), Period: 1000 * time.Second, Burst: burst}
	gcra := s.c.key("host:" + key)
	if drain {
		// The gate has opened: the burst the GCRA saved up while it was
		// closed is not the server's (its bucket refilled no faster than
		// the rate, and the throttle said it was empty).
		if err := drainScript.Run(ctx, s.c.rdb, []string{"rate:" + gcra}, lim.Burst, lim.Rate, lim.Period.Seconds()).Err(); err != nil {
			return limiter.SharedAnswer{}, err
		}
	}
	if !contendedNow {
		res, err := s.gc.Allow(ctx, gcra, lim)
		if err != nil {
			return limiter.SharedAnswer{}, err
		}
		if res.Allowed > 0 {
			return limiter.SharedAnswer{Learnt: learnt, Cap: capLimit}, nil
		}
		s.refusedAt(v, now)
	}
	wait, err := reserveScript.Run(ctx, s.c.rdb, []string{"rate:" + gcra}, lim.Burst, lim.Rate, lim.Period.Seconds()).Float64()
	if err != nil {
		return limiter.SharedAnswer{}, err
	}
	if wait > 0 {
		s.refusedAt(v, now)
	}
	return limiter.SharedAnswer{Wait: time.Duration(wait * float64(time.Second)), Learnt: learnt, Cap: capLimit}, nil
}

// count adds a request to key's count of the requests the workers sent,
// once the host has announced a quota to this worker, and sets a's Others
// to the other workers' share of it.
func (s *Shared) count(ctx context.Context, key string, v *hostView, r limiter.SharedRate, a limiter.SharedAnswer) (limiter.SharedAnswer, error) {
	v.mu.Lock()
	v.counting = v.counting || r.Quota > 0
	counting := v.counting
	v.mu.Unlock()
	if !counting {
		return a, nil
	}
	ctx, cancel := context.WithTimeout(ctx, roundTrip)
	defer cancel()
	k := s.c.key("sent:" + key)
	var n *redis.IntCmd
	if _, err := s.c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, k)
		p.Expire(ctx, k, time.Hour)
		return nil
	}); err != nil {
		// The request is let go all the same: the readers miss it, as
		// they miss a request on its way.
		return a, nil
	}
	v.mu.Lock()
	v.sent++
	a.Others = uint64(max(0, n.Val()-v.sent))
	v.mu.Unlock()
	return a, nil
}

// teamRate is the rate and burst the workers' GCRA holds them to: the
// lowest of the ceiling, the announced quota and the rate learnt together,
// with the burst r's process paces its own requests with. An announced
// quota replaces the learnt rate, as it does in each process (the rate was
// learnt while no quota was announced, right after a refusal), and the
// GCRA under it keeps no burst: the quota's rate already spreads what the
// server holds (Remaining counts its tokens), and the tokens each process
// reads beyond the refill are measured against its own requests only, so
// they count the others' share of the refill as tokens the server holds.
func teamRate(r limiter.SharedRate, learnt float64) (rate float64, burst int) {
	if r.Quota > 0 {
		rate = lowest(r.Ceiling, r.Quota)
		if rate == r.Quota {
			return rate, 1
		}
		return rate, max(1, r.Burst)
	}
	return lowest(r.Ceiling, learnt), max(1, r.Burst)
}

// capLocked is the most this worker's concurrency limit may be: its limit
// and its share of the room left under the level the workers were refused
// at with a gate, less one, once the limits of all of them are counted (a
// share of the room taken from each, where they are past it); 0 (no cap)
// when no gate closed lately or no other worker sends to the host (a
// worker alone judges its level itself). Each worker takes only its share
// of the room: the workers read the others' limits at their own refreshes,
// and each given the whole room, two of them grow into it at once.
func (v *hostView) capLocked() int {
	if v.held {
		return 1
	}
	if v.leads {
		return v.leadLevel
	}
	if v.level <= 0 || v.others <= 0 {
		return 0
	}
	room := v.level - 1 - v.others - v.limit
	share := room / (v.peers + 1)
	if room < 0 && room%(v.peers+1) != 0 {
		share-- // rounded down: each worker gives back at least its share
	}
	return max(1, v.limit+share)
}

func (s *Shared) refusedAt(v *hostView, now time.Time) {
	v.mu.Lock()
	v.refused = now
	v.mu.Unlock()
}

// The workers' concurrency limits together (see hostView.capLocked): a
// worker's limit counts while it reported it within limitsLive (or
// limitsLive after the last gate opened: no worker sends while it is
// closed), and the level they were refused at holds for levelHold after the
// last gate, then the sum may probe past it again.
//
// A first gate sets the level levelMargin of the sum below it (a gate at
// or below the level held sets it one lower): the sum of the limits the
// workers reported is above what was in flight when the server refused
// (a limit a worker grew since its last report counts in nobody's share,
// and a walker's listing request in none), and one request past a tight
// server's queue costs every worker a whole Retry-After, where a level a
// tenth below a server without a queue costs a tenth of its pace.
const (
	limitsLive  = 5 * refresh
	levelHold   = 30 * time.Second
	levelMargin = 0.1
)

// probeMax bounds a cold start's lead (see Shared) while the leader is in
// slow start: a slow start that has not ended by then holds the others back
// no longer.
const probeMax = 2 * time.Second

// contended is how long after a refusal requests book their place at once.
const contended = time.Second

// reserveScript books the next place under redis_rate's GCRA (the same key
// and arithmetic as its allow script): it always counts the request and
// returns how long, in seconds, it waits for its place.
var reserveScript = redis.NewScript(`
redis.replicate_commands()
local burst = tonumber(ARGV[1])
local emission_interval = tonumber(ARGV[3]) / tonumber(ARGV[2])
local burst_offset = emission_interval * burst
local jan_1_2017 = 1483228800
local now = redis.call("TIME")
now = (now[1] - jan_1_2017) + (now[2] / 1000000)
local tat = redis.call("GET", KEYS[1])
if not tat then tat = now else tat = tonumber(tat) end
tat = math.max(tat, now)
local new_tat = tat + emission_interval
local wait = math.max(0, new_tat - burst_offset - now)
redis.call("SET", KEYS[1], new_tat, "EX", math.ceil(new_tat - now))
return tostring(wait)
`)

// drainScript leaves one request's place in redis_rate's GCRA (the same key
// and arithmetic as reserveScript): what it saved up beyond that is spent.
var drainScript = redis.NewScript(`
redis.replicate_commands()
local burst = tonumber(ARGV[1])
local emission_interval = tonumber(ARGV[3]) / tonumber(ARGV[2])
local jan_1_2017 = 1483228800
local now = redis.call("TIME")
now = (now[1] - jan_1_2017) + (now[2] / 1000000)
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
local new_tat = math.max(tat, now + emission_interval * (burst - 1))
redis.call("SET", KEYS[1], new_tat, "EX", math.ceil(new_tat - now) + 1)
return 1
`)

// refreshIfDue refreshes v when the refresh interval has passed since the
// last one, or the gate it knew of has opened since (the rate learnt from
// the episode it ended is known then), or this worker's first work request
// has not been told (it may claim the cold start's lead), unless another
// request is refreshing it: that one's view is as good.
func (s *Shared) refreshIfDue(ctx context.Context, key string, v *hostView, r limiter.SharedRate, now time.Time) error {
	v.mu.Lock()
	due := now.Sub(v.fetched) >= refresh || (v.fetched.Before(v.gate) && !now.Before(v.gate)) ||
		(!r.Auxiliary && !v.workTold)
	if !due || v.refreshing {
		v.mu.Unlock()
		return nil
	}
	v.refreshing = true
	v.mu.Unlock()
	err := s.learn(ctx, key, v, r, now, time.Time{})
	v.mu.Lock()
	v.refreshing = false
	v.mu.Unlock()
	return err
}

// learnScript adds a worker's successes to a host's count (to the episode
// closed last, within limitsLive of its gate's opening, when the worker last
// reported during that episode), closes the episode whose gate has opened,
// learns from it once a throttle is reported,
// and with a gate time (ARGV[4] > 0) closes the gate and ends the episode
// now. It returns the gate, the learnt rate, when it started to grow and how
// fast it grows.
//
// It also records the worker's concurrency limit, and returns the other
// live workers' limits summed and the level the workers were refused at: a
// gate that closes sets it to the workers' limits summed less levelMargin
// of them (or one below the level it had, if that is lower), for
// levelHold; a throttle (a refusal for rate) deletes it (the limiter
// reports a throttle as soon as it counts it, see Host.shareThrottle,
// before the gate opens). The level is returned only once its gate has
// opened: a 429 closes its gate a moment before its throttle is counted,
// and a worker that read the level in between would cap its limit by a
// refusal for rate. And it runs the cold start's lead (pw, pu: the
// worker leading and when its lead ends; led: its slow start has ended;
// pw empty: none was run): the first worker in slow start asking for work
// (ARGV[19]) or with its limit full claims it for probeMax, extended to
// levelHold when its slow start ends; a gate, a throttle, its limit at its
// most or its report lapsing (see limitsLive) ends it; ll is the highest
// limit the leader reported in slow start, or that its slow start ended
// at (lss: its last report was in slow start). It returns whether
// another worker leads now (held: 2 while the leader's slow start runs, 1
// after; 3: this worker leads, its slow start over or resumed), how many
// other live workers reported limits, and the level that caps the
// leader's limit (0: none, while its slow start runs).
//
// KEYS: the gate, the host's learning hash (ok: the successes; from, base:
// the episode's start and the count then; end, until: when the throttle
// ended it and its gate opens; n, el, paced: a closed episode's successes,
// length and pacing rate, until it is learnt from; thr: a throttle was
// reported for it; cf, cn, cel, cp, cr: the episode closed last, its start,
// successes, length, pacing rate, and whether the rate was learnt from it;
// rate, grows, probe), the channel a gate closed is
// published on ("UNIXMS HOST"), the workers' limits (worker: "LIMIT:UNIXMS"),
// the level. ARGV: now (ms), successes and throttles to add, the gate (ms,
// 0: none), learntCut, serverBurst (s), learntProbe before and after a
// throttle at the learnt rate, learntFloor, the host, the worker, its
// limit, levelHold (ms), limitsLive (ms), levelMargin, its slow start (0:
// over, 1: on, 2: on with its limit full, 3: its limit at its most),
// probeMax (ms), the worker's last report (ms, 0: none), 1 if the request
// asking is work (not a robots.txt, see limiter.SharedRate.Auxiliary).
var learnScript = redis.NewScript(`
local G, L = KEYS[1], KEYS[2]
local now, dok, dthr, gu = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if dok > 0 then redis.call('HINCRBY', L, 'ok', dok) end
redis.call('HSETNX', L, 'from', now)
local f = redis.call('HMGET', L, 'ok', 'from', 'base', 'end', 'until', 'rate', 'grows', 'probe', 'n', 'el', 'paced', 'thr',
  'cf', 'cn', 'cel', 'cp', 'cr')
local ok, from, base = tonumber(f[1] or '0'), tonumber(f[2]), tonumber(f[3] or '0')
local e, u = tonumber(f[4] or '0'), tonumber(f[5] or '0')
local rate, grows, probe = tonumber(f[6] or '0'), tonumber(f[7] or '0'), tonumber(f[8] or '0')
local n, el, paced, thr = tonumber(f[9] or '-1'), tonumber(f[10] or '0'), tonumber(f[11] or '0'), f[12] == '1'
local cf, cn, cel, cp = tonumber(f[13] or '0'), tonumber(f[14] or '0'), tonumber(f[15] or '0'), tonumber(f[16] or '0')
local function learnt(n, el, paced)
  local est, pr = n / (math.max(el, 1) / 1000 + tonumber(ARGV[6])), tonumber(ARGV[7])
  if paced > 0 then
    est = math.min(math.max(est, tonumber(ARGV[9]) * paced), paced)
    pr = tonumber(ARGV[8])
  end
  return tonumber(ARGV[5]) * est, pr
end
local prev = tonumber(ARGV[18])
if dok > 0 and not (e > 0 and now >= u) and cf > 0 and prev >= cf and prev < from and now - from <= tonumber(ARGV[14]) then
  -- This worker last reported during the episode closed last, and the
  -- gate that closed it opened moments ago: its successes since are that
  -- episode's (its requests waited for the gate).
  cn, base = cn + dok, base + dok
  redis.call('HSET', L, 'cn', cn, 'base', base)
  if n >= 0 then
    n = n + dok
    redis.call('HSET', L, 'n', n)
  elseif f[17] == '1' then
    rate = learnt(cn, cel, cp)
    redis.call('HSET', L, 'rate', rate)
  end
end
if e > 0 and now >= u then
  n, el, paced = ok - base, e - from, rate * (1 + probe * math.max(0, e - grows) / 1000)
  cf, from, base, e = from, u, ok, 0
  redis.call('HSET', L, 'from', from, 'base', base, 'end', 0, 'n', n, 'el', el, 'paced', paced,
    'cf', cf, 'cn', n, 'cel', el, 'cp', paced, 'cr', 0)
end
local newGate = false
if gu > 0 then
  if gu > tonumber(redis.call('GET', G) or '0') then
    newGate = true
    redis.call('SET', G, gu, 'PXAT', gu)
    redis.call('PUBLISH', KEYS[3], ARGV[4] .. ' ' .. ARGV[10])
  end
  if e == 0 then
    redis.call('HSET', L, 'end', now, 'until', gu)
    redis.call('HDEL', L, 'thr', 'n', 'el', 'paced')
    n, thr = -1, false
  elseif gu > u then
    redis.call('HSET', L, 'until', gu)
  end
end
if dthr > 0 then
  -- A refusal for rate: the gate says nothing of the workers' concurrency.
  redis.call('DEL', KEYS[5])
end
if dthr > 0 and not thr then
  redis.call('HSET', L, 'thr', '1')
  thr = true
end
if thr and n >= 0 then
  rate, probe = learnt(n, el, paced)
  grows = from
  redis.call('HSET', L, 'rate', rate, 'grows', grows, 'probe', probe, 'cr', 1)
  redis.call('HDEL', L, 'n', 'el', 'paced', 'thr')
end
redis.call('PEXPIRE', L, 3600000)
local others, peers, opened = 0, 0, math.min(now, tonumber(redis.call('HGET', L, 'until') or '0'))
local lims = redis.call('HGETALL', KEYS[4])
for i = 1, #lims, 2 do
  if lims[i] ~= ARGV[11] then
    local l, t = string.match(lims[i + 1], '^(%d+):(%d+)$')
    if l and now - math.max(tonumber(t), opened) <= tonumber(ARGV[14]) then
      others, peers = others + tonumber(l), peers + 1
    else
      redis.call('HDEL', KEYS[4], lims[i])
    end
  end
end
redis.call('HSET', KEYS[4], ARGV[11], ARGV[12] .. ':' .. ARGV[1])
redis.call('PEXPIRE', KEYS[4], 3600000)
local lvl = tonumber(redis.call('GET', KEYS[5]) or '0')
if newGate then
  local sum = others + tonumber(ARGV[12])
  if lvl > 0 and lvl <= sum then
    sum = lvl - 1
  else
    sum = sum - math.floor(sum * tonumber(ARGV[15]))
  end
  lvl = sum
  redis.call('SET', KEYS[5], lvl, 'PX', ARGV[13])
end
local held, pw, ll = '0', redis.call('HGET', L, 'pw'), '0'
local pu = tonumber(redis.call('HGET', L, 'pu') or '0')
if newGate or dthr > 0 then
  if not pw then
    redis.call('HSET', L, 'pw', '', 'pu', now)
  elseif now < pu then
    redis.call('HSET', L, 'pu', now)
  end
elseif not pw then
  if (ARGV[16] == '2' or (ARGV[16] == '1' and ARGV[19] == '1')) and lvl == 0 then
    redis.call('HSET', L, 'pw', ARGV[11], 'pu', now + tonumber(ARGV[17]))
  end
elseif now < pu then
  if pw ~= ARGV[11] then
    if redis.call('HEXISTS', KEYS[4], pw) == 1 then
      held = '1'
      if redis.call('HEXISTS', L, 'led') == 0 then held = '2' end
    else
      redis.call('HSET', L, 'pu', now)
    end
  elseif ARGV[16] == '3' then
    redis.call('HSET', L, 'pu', now)
  elseif ARGV[16] == '0' then
    if redis.call('HSETNX', L, 'led', '1') == 1 then
      redis.call('HSET', L, 'pu', now + tonumber(ARGV[13]))
    end
    ll = redis.call('HGET', L, 'll') or '0'
    if redis.call('HGET', L, 'lss') ~= '0' and tonumber(ARGV[12]) > tonumber(ll) then
      -- The level its slow start ended at, where its reports missed a higher one.
      ll = ARGV[12]
    end
    redis.call('HSET', L, 'll', ll, 'lss', '0')
    held = '3'
  else
    if tonumber(ARGV[12]) > tonumber(redis.call('HGET', L, 'll') or '0') then
      redis.call('HSET', L, 'll', ARGV[12])
    end
    redis.call('HSET', L, 'lss', '1')
    if redis.call('HEXISTS', L, 'led') == 1 then held = '3' end
  end
end
local gate = redis.call('GET', G)
if gate and tonumber(gate) > now then lvl = 0 end
return {gate or '', tostring(rate), tostring(grows), tostring(probe), tostring(others), tostring(lvl), held, tostring(peers), ll}
`)

// learn runs learnScript for this worker: it adds the successes and
// throttles r counts beyond those added before, and with a non-zero gate
// closes the gate until then. It updates v with the gate and the rate.
func (s *Shared) learn(ctx context.Context, key string, v *hostView, r limiter.SharedRate, now, gate time.Time) error {
	v.mu.Lock()
	dok, dthr := r.Successes-v.successes, r.Throttles-v.throttles
	if dok < 0 || dthr < 0 {
		// The limiter forgot the host and counts afresh.
		dok, dthr = max(0, r.Successes), max(0, r.Throttles)
	}
	v.successes, v.throttles = r.Successes, r.Throttles
	var prev int64
	if !v.fetched.IsZero() {
		prev = v.fetched.UnixMilli()
	}
	v.mu.Unlock()
	var gateMS int64
	if !gate.IsZero() {
		// Rounded up: a gate is never told earlier than it is.
		gateMS = gate.Add(time.Millisecond - 1).UnixMilli()
	}
	ctx, cancel := context.WithTimeout(ctx, roundTrip)
	defer cancel()
	res, err := learnScript.Run(ctx, s.c.rdb, []string{s.c.key("gate:" + key), s.c.key("learn:" + key), s.c.key("gates"),
		s.c.key("limits:" + key), s.c.key("level:" + key)},
		now.UnixMilli(), dok, dthr, gateMS, learntCut, serverBurst.Seconds(), probeUnconfirmed, probeConfirmed, learntFloor, key,
		s.c.o.worker, max(0, r.Limit), levelHold.Milliseconds(), limitsLive.Milliseconds(), levelMargin, slowStart(r),
		probeMax.Milliseconds(), prev, !r.Auxiliary).StringSlice() // go-redis sends a bool as 1 or 0
	if err != nil {
		v.mu.Lock()
		v.successes, v.throttles = v.successes-dok, v.throttles-dthr // added next time
		v.mu.Unlock()
		return err
	}
	var g time.Time
	if ms, err := strconv.ParseInt(res[0], 10, 64); err == nil {
		g = time.UnixMilli(ms)
	}
	learnt, _ := strconv.ParseFloat(res[1], 64)
	grows, _ := strconv.ParseFloat(res[2], 64)
	probe, _ := strconv.ParseFloat(res[3], 64)
	learnt *= 1 + probe*max(0, now.Sub(time.UnixMilli(int64(grows))).Seconds())
	others, _ := strconv.Atoi(res[4])
	level, _ := strconv.Atoi(res[5])
	peers, _ := strconv.Atoi(res[7])
	leadLevel, _ := strconv.Atoi(res[8])
	v.mu.Lock()
	v.fetched = now
	v.workTold = v.workTold || !r.Auxiliary
	v.others, v.level, v.peers, v.limit = others, level, peers, max(0, r.Limit)
	v.held, v.hold, v.leads, v.leadLevel = res[6] == "1" || res[6] == "2", res[6] == "2", res[6] == "3", leadLevel
	if g.After(v.gate) {
		v.gate = g
	}
	v.learnt = learnt
	rate, _ := teamRate(r, learnt)
	// The learnt rate grows a little at every refresh: it is published
	// when it moved by a hundredth.
	publish := math.Abs(rate-v.applied) > v.applied/100 || (rate == 0) != (v.applied == 0)
	v.applied = rate
	v.mu.Unlock()
	if publish {
		// For status only: a failure is not worth failing the request for.
		if err := s.c.rdb.HSet(ctx, s.c.key("hosts"), key, strconv.FormatFloat(rate, 'f', 3, 64)).Err(); err != nil {
			v.mu.Lock()
			v.applied = -1
			v.mu.Unlock()
		}
	}
	return nil
}

// Gate implements limiter.Shared: it closes the gate for every worker and
// ends the host's episode now, adding this worker's successes to the count
// first.
func (s *Shared) Gate(ctx context.Context, key string, until time.Time, r limiter.SharedRate) error {
	v := s.view(key)
	v.mu.Lock()
	if until.After(v.gate) {
		v.gate = until
	}
	v.mu.Unlock()
	return s.learn(ctx, key, v, r, s.now(), until)
}

// slowStart is r's slow start as learnScript reads it.
func slowStart(r limiter.SharedRate) int {
	switch {
	case r.AtMost:
		return 3
	case r.Full:
		return 2
	case r.Probing:
		return 1
	}
	return 0
}

// lowest is the lowest of the positive rates, 0 when none is.
func lowest(rates ...float64) float64 {
	out := 0.0
	for _, r := range rates {
		if r > 0 && (out == 0 || r < out) {
			out = r
		}
	}
	return out
}
