package mockapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// bucket is the Quota model: a token bucket driven by the instants it is given.
type bucket struct {
	cfg Quota
	// The bucket is announced as a window of w whole seconds (the shortest
	// that holds the burst) in which q requests refill.
	w, q   int64
	policy string // the RateLimit-Policy value

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(cfg Quota, start time.Time) *bucket {
	w := max(1, int64(math.Ceil(float64(cfg.Burst)/cfg.Rate)))
	q := int64(cfg.Rate * float64(w))
	return &bucket{
		cfg: cfg, w: w, q: q,
		policy: `"bucket";q=` + strconv.FormatInt(q, 10) + ";w=" + strconv.FormatInt(w, 10),
		tokens: float64(cfg.Burst), last: start,
	}
}

// take refills the bucket up to t and, if consume, spends a token. It writes
// the quota headers for the state after the take and, when no token was left,
// returns false and how long until one will be.
func (b *bucket) take(t time.Time, consume bool, h http.Header) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.After(b.last) {
		b.tokens = min(float64(b.cfg.Burst), b.tokens+t.Sub(b.last).Seconds()*b.cfg.Rate)
		b.last = t
	}
	if !consume || b.tokens >= 1 {
		if consume {
			b.tokens--
		}
		// What the bucket allows over the next window: its tokens and the refill.
		b.setHeaders(h, int64(b.tokens)+b.q, b.w)
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / b.cfg.Rate * float64(time.Second))
	b.setHeaders(h, 0, max(1, seconds(wait)))
	return false, wait
}

func (b *bucket) setHeaders(h http.Header, remaining, resetIn int64) {
	limit := strconv.FormatInt(int64(b.cfg.Burst)+b.q, 10)
	rem := strconv.FormatInt(remaining, 10)
	reset := strconv.FormatInt(resetIn, 10)
	if b.cfg.Headers == QuotaHeadersBoth || b.cfg.Headers == QuotaHeadersIETF {
		h.Set("RateLimit-Limit", limit)
		h.Set("RateLimit-Remaining", rem)
		h.Set("RateLimit-Reset", reset)
		h.Set("RateLimit-Policy", b.policy)
		h.Set("RateLimit", `"bucket";r=`+rem+";t="+reset)
	}
	if b.cfg.Headers == QuotaHeadersBoth || b.cfg.Headers == QuotaHeadersX {
		h.Set("X-RateLimit-Limit", limit)
		h.Set("X-RateLimit-Remaining", rem)
		h.Set("X-RateLimit-Reset", reset)
	}
}

// seconds rounds d up to whole seconds, as Retry-After and reset headers carry them.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
