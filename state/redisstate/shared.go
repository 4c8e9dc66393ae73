package redisstate

import (
	"context"
	"errors"
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
// a GCRA per host in Redis (redis_rate) at the lowest of the ceiling, the
// announced quota and the rate the workers learnt together, and a gate per
// host that any worker closes for all. Get it from NewShared.
//
// The rate learnt together is the sum of the workers' learnt rates (each
// learns from its own share of the traffic), known once every live worker
// that sends to the host has learnt one. Each worker reads a host's gate and
// the others' learnt rates at most every refresh interval, in one round
// trip with the publication of its own; a gate this worker closes applies
// to it at once.
type Shared struct {
	c   *Crawl
	gc  *redis_rate.Limiter
	now func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostView
}

// refresh is how often a worker reads a host's shared gate and learnt rates.
const refresh = 200 * time.Millisecond

// learntTTL is how long a worker's learnt rate counts after it published it
// (it republishes every refresh while it sends).
const learntTTL = 5 * time.Second

var _ limiter.Shared = (*Shared)(nil)

// NewShared returns the shared politeness of c's crawl.
func NewShared(c *Crawl) *Shared {
	return &Shared{c: c, gc: redis_rate.NewLimiter(c.rdb), now: time.Now, hosts: map[string]*hostView{}}
}

// hostView is what this worker knows of a host's shared state.
type hostView struct {
	mu        sync.Mutex
	fetched   time.Time
	gate      time.Time
	others    float64   // the sum of the other live workers' learnt rates
	unknown   bool      // a live worker sends to the host without a learnt rate
	published float64   // this worker's learnt rate as last published
	applied   float64   // the shared rate as last published in the hosts hash
	refused   time.Time // when the GCRA last made a request wait
}

func (s *Shared) view(key string) *hostView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.hosts[key]
	if v == nil {
		v = &hostView{published: -1, applied: -1}
		s.hosts[key] = v
	}
	return v
}

// Allow implements limiter.Shared: a request the GCRA refuses books the
// next free place instead of asking again, so that waiting requests do not
// poll Redis; while the host's rate is contended, requests book at once
// (one round trip each).
func (s *Shared) Allow(ctx context.Context, key string, r limiter.SharedRate) (time.Duration, bool, error) {
	v := s.view(key)
	v.mu.Lock()
	defer v.mu.Unlock()
	now := s.now()
	if now.Sub(v.fetched) >= refresh || r.Learnt != v.published {
		if err := s.refresh(ctx, key, v, r, now); err != nil {
			return 0, false, err
		}
	}
	if v.gate.After(now) {
		return v.gate.Sub(now), true, nil
	}
	rate := v.rate(r)
	if rate <= 0 {
		return 0, false, nil
	}
	// redis_rate takes whole requests per period: a period of 1000 s keeps
	// three decimals of the rate.
	lim := redis_rate.Limit{Rate: max(1, int(math.Round(rate*1000))), Period: 1000 * time.Second, Burst: max(1, r.Burst)}
	gcra := s.c.key("host:" + key)
	if now.Sub(v.refused) > contended {
		res, err := s.gc.Allow(ctx, gcra, lim)
		if err != nil {
			return 0, false, err
		}
		if res.Allowed > 0 {
			return 0, false, nil
		}
		v.refused = now
	}
	wait, err := reserveScript.Run(ctx, s.c.rdb, []string{"rate:" + gcra}, lim.Burst, lim.Rate, lim.Period.Seconds()).Float64()
	if err != nil {
		return 0, false, err
	}
	if wait > 0 {
		v.refused = now
	}
	return time.Duration(wait * float64(time.Second)), false, nil
}

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

// refresh reads key's gate and the other workers' learnt rates, and
// publishes this worker's learnt rate and the rate in force, in one round
// trip. The caller holds v.mu.
func (s *Shared) refresh(ctx context.Context, key string, v *hostView, r limiter.SharedRate, now time.Time) error {
	pipe := s.c.rdb.Pipeline()
	gate := pipe.Get(ctx, s.c.key("gate:"+key))
	learntKey := s.c.key("learnt:" + key)
	mine := strconv.FormatFloat(r.Learnt, 'g', 6, 64) + "|" + strconv.FormatInt(now.Add(learntTTL).UnixMilli(), 10)
	pipe.HSet(ctx, learntKey, s.c.o.worker, mine)
	pipe.PExpire(ctx, learntKey, time.Hour)
	all := pipe.HGetAll(ctx, learntKey)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	v.fetched, v.published = now, r.Learnt
	v.gate = time.Time{}
	if ms, err := strconv.ParseInt(gate.Val(), 10, 64); err == nil {
		v.gate = time.UnixMilli(ms)
	}
	v.others, v.unknown = 0, false
	for w, val := range all.Val() {
		if w == s.c.o.worker {
			continue
		}
		rateText, untilText, ok := strings.Cut(val, "|")
		if !ok {
			continue
		}
		until, err1 := strconv.ParseInt(untilText, 10, 64)
		lr, err2 := strconv.ParseFloat(rateText, 64)
		if err1 != nil || err2 != nil || now.UnixMilli() > until {
			continue // a worker that stopped sending, or a record that is not ours
		}
		if lr <= 0 {
			v.unknown = true
		}
		v.others += lr
	}
	if rate := v.rate(r); rate != v.applied {
		// For status only: a failure is not worth failing the request for.
		if err := s.c.rdb.HSet(ctx, s.c.key("hosts"), key, strconv.FormatFloat(rate, 'f', 3, 64)).Err(); err == nil {
			v.applied = rate
		}
	}
	return nil
}

// rate is the shared rate built from r and what the other workers learnt.
func (v *hostView) rate(r limiter.SharedRate) float64 {
	rate := lowest(r.Ceiling, r.Quota)
	if !v.unknown && r.Learnt > 0 {
		rate = lowest(rate, r.Learnt+v.others)
	}
	return rate
}

// gateScript moves a host's gate later, never earlier; the key expires when
// the gate opens.
var gateScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1]) end
return 0
`)

// Gate implements limiter.Shared.
func (s *Shared) Gate(ctx context.Context, key string, until time.Time) error {
	v := s.view(key)
	v.mu.Lock()
	if until.After(v.gate) {
		v.gate = until
	}
	v.mu.Unlock()
	return gateScript.Run(ctx, s.c.rdb, []string{s.c.key("gate:" + key)}, until.UnixMilli()).Err()
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
