package mockapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// headerLimiter is a HeaderQuota model.
type headerLimiter interface {
	// take counts a request at t if consume and the quota has room, and
	// writes the quota's headers (and Retry-After when it refuses).
	take(t time.Time, consume bool, h http.Header) headerVerdict
}

// headerVerdict is a header quota's answer to one request.
type headerVerdict struct {
	status int       // 0: the request may proceed; else 403 or 429
	until  time.Time // zero, or the instant before which the answer told the client not to send
}

func newHeaderLimiter(cfg HeaderQuota, start time.Time) headerLimiter {
	switch cfg.Kind {
	case HeaderQuotaSliding:
		return &slidingWindow{cfg: cfg, index: math.MinInt64}
	case HeaderQuotaTokenBucket:
		return &gcra{cfg: cfg, rate: float64(cfg.Limit) / cfg.Window.Seconds(), tokens: float64(cfg.Burst), last: start}
	}
	return &fixedWindow{cfg: cfg, index: math.MinInt64}
}

// fixedWindow is HeaderQuotaFixed: GitHub's windows aligned to the Unix epoch.
type fixedWindow struct {
	cfg HeaderQuota

	mu    sync.Mutex
	index int64 // which window used counts for
	used  int
}

func (w *fixedWindow) take(t time.Time, consume bool, h http.Header) headerVerdict {
	w.mu.Lock()
	defer w.mu.Unlock()
	length := w.cfg.Window.Nanoseconds()
	idx := floorDiv(t.UnixNano(), length)
	if idx != w.index {
		w.index, w.used = idx, 0
	}
	var v headerVerdict
	if consume {
		if w.used < w.cfg.Limit {
			w.used++
		} else {
			v.status = http.StatusForbidden
		}
	}
	reset := time.Unix(0, (idx+1)*length)
	if w.used >= w.cfg.Limit {
		v.until = reset // Remaining: 0 tells the client to wait for Reset
	}
	if w.cfg.Hidden { // no Remaining: 0 tells a wait; a 403 alone says nothing: 429 + Retry-After until the window's end
		if v.status == 0 {
			return headerVerdict{}
		}
		ra := max(1, seconds(reset.Sub(t)))
		h.Set("Retry-After", strconv.FormatInt(ra, 10))
		return headerVerdict{status: http.StatusTooManyRequests, until: t.Add(time.Duration(ra) * time.Second)}
	}
	if w.cfg.IETF {
		setIETF(h, w.cfg, w.cfg.Limit-w.used, reset.Sub(t))
		return v
	}
	if w.cfg.Requests {
		setRequests(h, w.cfg, w.cfg.Limit-w.used, reset.Sub(t))
		return v
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(w.cfg.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(w.cfg.Limit-w.used))
	h.Set("X-RateLimit-Used", strconv.Itoa(w.used))
	h.Set("X-RateLimit-Reset", resetValue(w.cfg.Reset, HeaderResetEpoch, t, reset))
	h.Set("X-RateLimit-Resource", "core")
	return v
}

// slidingWindow is HeaderQuotaSliding: a sliding-window counter over windows
// aligned to the Unix epoch. A request counts against the current window's
// requests plus the previous window's, weighted by the share of the previous
// window that still lies within one Window of now.
type slidingWindow struct {
	cfg HeaderQuota

	mu         sync.Mutex
	index      int64 // the current window
	curr, prev int   // requests counted in the current and the previous window
}

func (w *slidingWindow) take(t time.Time, consume bool, h http.Header) headerVerdict {
	w.mu.Lock()
	defer w.mu.Unlock()
	length := w.cfg.Window.Nanoseconds()
	idx := floorDiv(t.UnixNano(), length)
	switch {
	case idx == w.index:
	case w.index != math.MinInt64 && idx == w.index+1:
		w.prev, w.curr = w.curr, 0
	default:
		w.prev, w.curr = 0, 0
	}
	w.index = idx
	left := float64((idx+1)*length-t.UnixNano()) / float64(length) // share of the window still to come
	count := float64(w.prev)*left + float64(w.curr)
	var v headerVerdict
	if consume {
		if count+1 <= float64(w.cfg.Limit) {
			w.curr++
			count++
		} else {
			ra := max(1, seconds(w.cfg.Window))
			h.Set("Retry-After", strconv.FormatInt(ra, 10))
			v = headerVerdict{status: http.StatusTooManyRequests, until: t.Add(time.Duration(ra) * time.Second)}
		}
	}
	reset := time.Unix(0, (idx+1)*length)
	remaining := max(0, w.cfg.Limit-int(math.Ceil(count-1e-9)))
	if w.cfg.Hidden {
		return v
	}
	if w.cfg.IETF {
		setIETF(h, w.cfg, remaining, reset.Sub(t))
		return v
	}
	if w.cfg.Requests {
		setRequests(h, w.cfg, remaining, reset.Sub(t))
		return v
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(w.cfg.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", resetValue(w.cfg.Reset, HeaderResetEpoch, t, reset))
	return v
}

// gcra is HeaderQuotaTokenBucket: a bucket of Burst tokens refilled at
// Limit per Window, announcing its tokens and the time until it is full.
type gcra struct {
	cfg  HeaderQuota
	rate float64 // tokens per second

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func (b *gcra) take(t time.Time, consume bool, h http.Header) headerVerdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.After(b.last) {
		b.tokens = min(float64(b.cfg.Burst), b.tokens+t.Sub(b.last).Seconds()*b.rate)
		b.last = t
	}
	var v headerVerdict
	if consume {
		if b.tokens >= 1 {
			b.tokens--
		} else {
			wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
			ra := max(1, seconds(wait))
			h.Set("Retry-After", strconv.FormatInt(ra, 10))
			v = headerVerdict{status: http.StatusTooManyRequests, until: t.Add(time.Duration(ra) * time.Second)}
		}
	}
	full := time.Duration((float64(b.cfg.Burst) - b.tokens) / b.rate * float64(time.Second))
	if b.cfg.Hidden {
		return v
	}
	if b.cfg.IETF {
		setIETF(h, b.cfg, int(b.tokens), full)
		return v
	}
	if b.cfg.Requests {
		setRequests(h, b.cfg, int(b.tokens), full)
		return v
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(b.cfg.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(int(b.tokens)))
	h.Set("X-RateLimit-Reset", resetValue(b.cfg.Reset, HeaderResetDelta, t, t.Add(full)))
	return v
}

// resetValue is X-RateLimit-Reset for a reset at reset, seen at t, in form
// (or dflt, the kind's own, when form is unset): the Unix second at or after
// reset (or millisecond), or the whole seconds from t until it.
func resetValue(form, dflt HeaderResetForm, t, reset time.Time) string {
	if form == "" {
		form = dflt
	}
	switch form {
	case HeaderResetDelta:
		return strconv.FormatInt(seconds(reset.Sub(t)), 10)
	case HeaderResetEpochMillis:
		return strconv.FormatInt((reset.UnixNano()+int64(time.Millisecond)-1)/int64(time.Millisecond), 10)
	}
	return strconv.FormatInt(seconds(time.Duration(reset.UnixNano())), 10)
}

// setIETF writes a header quota's state as HeaderQuota.IETF says: remaining
// requests, resetIn until they refill.
func setIETF(h http.Header, cfg HeaderQuota, remaining int, resetIn time.Duration) {
	h.Set("RateLimit-Policy", `"window";q=`+strconv.Itoa(cfg.Limit)+";w="+strconv.FormatInt(max(1, seconds(cfg.Window)), 10))
	h.Set("RateLimit", `"window";r=`+strconv.Itoa(remaining)+";t="+strconv.FormatInt(seconds(resetIn), 10))
}

// setRequests writes a header quota's state as HeaderQuota.Requests says:
// remaining requests, resetIn until they refill, and a token budget 1,000
// times theirs.
func setRequests(h http.Header, cfg HeaderQuota, remaining int, resetIn time.Duration) {
	reset := max(0, resetIn).Round(time.Millisecond).String()
	h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(cfg.Limit))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset-Requests", reset)
	h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(cfg.Limit*1000))
	h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(remaining*1000))
	h.Set("X-Ratelimit-Reset-Tokens", reset)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
