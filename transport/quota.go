package transport

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/politely/politely/limiter"
)

// field is a header: key in canonical form for a map lookup without
// allocation, name as the specifications write it, for error messages.
type field struct{ key, name string }

func (f field) get(h http.Header) string {
	if v := h[f.key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// getList returns a structured-field list that may be split over several
// header lines, joined as RFC 9110 section 5.3 allows.
func (f field) getList(h http.Header) string {
	v := h[f.key]
	if len(v) > 1 {
		return strings.Join(v, ", ")
	}
	return f.get(h)
}

// The headers ParseQuota reads.
var (
	fRateLimit       = field{"Ratelimit", "RateLimit"}
	fRateLimitPolicy = field{"Ratelimit-Policy", "RateLimit-Policy"}
	fLimit           = field{"Ratelimit-Limit", "RateLimit-Limit"}
	fRemaining       = field{"Ratelimit-Remaining", "RateLimit-Remaining"}
	fReset           = field{"Ratelimit-Reset", "RateLimit-Reset"}
	fXLimit          = field{"X-Ratelimit-Limit", "X-RateLimit-Limit"}
	fXRemaining      = field{"X-Ratelimit-Remaining", "X-RateLimit-Remaining"}
	fXReset          = field{"X-Ratelimit-Reset", "X-RateLimit-Reset"}
	fXDashLimit      = field{"X-Rate-Limit-Limit", "X-Rate-Limit-Limit"}
	fXDashRemaining  = field{"X-Rate-Limit-Remaining", "X-Rate-Limit-Remaining"}
	fXDashReset      = field{"X-Rate-Limit-Reset", "X-Rate-Limit-Reset"}
	fReqLimit        = field{"X-Ratelimit-Limit-Requests", "x-ratelimit-limit-requests"}
	fReqRemaining    = field{"X-Ratelimit-Remaining-Requests", "x-ratelimit-remaining-requests"}
	fReqReset        = field{"X-Ratelimit-Reset-Requests", "x-ratelimit-reset-requests"}
	fAnthLimit       = field{"Anthropic-Ratelimit-Requests-Limit", "anthropic-ratelimit-requests-limit"}
	fAnthRemaining   = field{"Anthropic-Ratelimit-Requests-Remaining", "anthropic-ratelimit-requests-remaining"}
	fAnthReset       = field{"Anthropic-Ratelimit-Requests-Reset", "anthropic-ratelimit-requests-reset"}
	fRetryAfter      = field{"Retry-After", "Retry-After"}
	fDate            = field{"Date", "Date"}
)

// Reset values of the RateLimit-Reset and X-RateLimit-Reset headers are read
// by size, because servers disagree on their meaning: below epochSeconds a
// value is a delay in seconds (no current server sends an epoch time before
// 2001), below epochMillis it is a Unix time in seconds, and above it a Unix
// time in milliseconds.
const (
	epochSeconds = 1e9
	epochMillis  = 1e12
)

// MaxReset caps how far ahead a quota's Reset may be: no rate-limit window
// in common use is longer than a month, and a hostile or mistaken value (a
// year, a Unix time in the wrong unit) must not stall a host for good.
const MaxReset = 31 * 24 * time.Hour

// maxCount caps the counts put in a limiter.Quota, so that they fit an int
// on every platform; a server announcing more has no useful limit anyway.
const maxCount = math.MaxInt32

// ParseQuota reads every quota header family of a response and returns the
// tightest quota announced, measured at now, with ok true; ok is false when
// no usable quota is announced. The families:
//
//   - RateLimit (`"default";r=50;t=30`) with RateLimit-Policy
//     (`"default";q=100;w=60`, several policies allowed) from
//     draft-ietf-httpapi-ratelimit-headers: each RateLimit member gives
//     Remaining and Reset (t, or its policy's window when t is missing); its
//     policy gives Limit. A policy no RateLimit member mentions counts as its
//     whole quota over its window.
//   - RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (older drafts).
//   - X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset
//     (GitHub and many others).
//   - X-Rate-Limit-Limit, X-Rate-Limit-Remaining and X-Rate-Limit-Reset
//     (Twitter's API and others).
//   - x-ratelimit-limit-requests, x-ratelimit-remaining-requests and
//     x-ratelimit-reset-requests (OpenAI's and other inference APIs' form):
//     the reset is a Go-like duration ("1s", "20ms", "6m0s", "1m30.5s"), or
//     read as the other Reset headers are. Their -tokens siblings count
//     tokens, not requests, and are not read.
//   - anthropic-ratelimit-requests-limit, -remaining and -reset (an RFC 3339
//     time); the token budgets beside them are not read either.
//
// Remaining and Reset are required in all but the first family; a list value
// such as "100, 100;w=60" counts by its first number, a count with a
// fraction ("599.0", as Reddit sends) by its whole part, and a negative
// Remaining (limiters that count refused requests send "-1", "-2", ...) as 0. Both Reset headers
// are read by size, since servers disagree: below 10^9 a delay in seconds,
// below 10^12 a Unix time in seconds, above it a Unix time in milliseconds;
// a fraction is allowed. A Reset that is not a number may be an HTTP-date or
// an RFC 3339 time. Absolute times are taken on the server's clock: when
// the response has a valid Date header, they are shifted by our clock's
// offset from it.
//
// The tightest quota is the one allowing the lowest rate, Remaining over the
// time to Reset (a time under a second counts as a second); on a tie the
// later Reset wins. A quota whose Reset is not after now says nothing and is
// skipped, and a Reset beyond MaxReset is capped there. Counts above 2^31-1
// are capped there.
//
// A header that cannot be parsed is skipped, and err reports it (naming the
// header, never its value), whether or not ok is true.
func ParseQuota(h http.Header, now time.Time) (q limiter.Quota, ok bool, err error) {
	return parseQuota(h, now, clockRef{h: h, now: now})
}

// parseQuota is ParseQuota with the server's clock offset from clock.
func parseQuota(h http.Header, now time.Time, clock clockRef) (q limiter.Quota, ok bool, err error) {
	var errs []error
	consider := func(c limiter.Quota) {
		if !c.Reset.After(now) {
			return
		}
		if limit := now.Add(MaxReset); c.Reset.After(limit) {
			c.Reset = limit
		}
		if !ok || tighter(c, q, now) {
			q, ok = c, true
		}
	}
	structured, err := structuredQuotas(h, now)
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range structured {
		consider(c)
	}
	for _, fam := range [...][3]field{{fLimit, fRemaining, fReset}, {fXLimit, fXRemaining, fXReset}, {fXDashLimit, fXDashRemaining, fXDashReset}, {fReqLimit, fReqRemaining, fReqReset}, {fAnthLimit, fAnthRemaining, fAnthReset}} {
		c, found, err := legacyQuota(h, now, fam, clock)
		if err != nil {
			errs = append(errs, err)
		}
		if found {
			consider(c)
		}
	}
	return q, ok, errors.Join(errs...)
}

// tighter reports whether a allows a lower rate than b, or the same rate with
// a later reset.
func tighter(a, b limiter.Quota, now time.Time) bool {
	secs := func(q limiter.Quota) float64 { return max(q.Reset.Sub(now).Seconds(), 1) }
	ra, rb := float64(a.Remaining)/secs(a), float64(b.Remaining)/secs(b)
	if ra != rb {
		return ra < rb
	}
	return a.Reset.After(b.Reset)
}

func structuredQuotas(h http.Header, now time.Time) ([]limiter.Quota, error) {
	var errs []error
	var policies []Policy
	if v := fRateLimitPolicy.getList(h); v != "" {
		ps, err := ParsePolicies(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fRateLimitPolicy.name, err))
		}
		policies = ps
	}
	var limits []ServiceLimit
	if v := fRateLimit.getList(h); v != "" {
		ls, err := ParseRateLimit(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", fRateLimit.name, err))
		}
		limits = ls
	}
	var out []limiter.Quota
	for _, sl := range limits {
		p, known := findPolicy(policies, sl.Policy)
		limit := sl.Limit
		if limit == 0 && known {
			limit = p.Quota
		}
		reset := sl.Reset
		if !sl.HasReset {
			if !known || p.Window == 0 {
				continue // no way to know when it refills
			}
			reset = p.Window
		}
		var window time.Duration
		if known && limit == p.Quota {
			window = p.Window // the policy's window is the one this Limit applies to
		}
		out = append(out, limiter.Quota{Limit: capCount(limit), Remaining: capCount(sl.Remaining), Reset: now.Add(reset), Window: window})
	}
	for _, p := range policies {
		mentioned := slices.ContainsFunc(limits, func(sl ServiceLimit) bool { return sl.Policy == p.Name })
		if !mentioned && p.Window > 0 {
			out = append(out, limiter.Quota{Limit: capCount(p.Quota), Remaining: capCount(p.Quota), Reset: now.Add(p.Window), Window: p.Window})
		}
	}
	return out, errors.Join(errs...)
}

func findPolicy(ps []Policy, name string) (Policy, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}

// legacyQuota reads one family of Limit/Remaining/Reset headers. found is
// false when the family is absent or incomplete.
func legacyQuota(h http.Header, now time.Time, names [3]field, clock clockRef) (q limiter.Quota, found bool, err error) {
	rv, sv := names[1].get(h), names[2].get(h)
	if rv == "" && sv == "" {
		return q, false, nil
	}
	remaining, err := remainingCount(rv)
	if err != nil {
		return q, false, fmt.Errorf("%s: %w", names[1].name, err)
	}
	reset, err := resetTime(sv, now, clock)
	if err != nil && names[2] == fReqReset {
		reset, err = resetDuration(sv, now)
	}
	if err != nil {
		return q, false, fmt.Errorf("%s: %w", names[2].name, err)
	}
	if lv := names[0].get(h); lv != "" {
		limit, err := firstCount(lv)
		if err != nil {
			return q, false, fmt.Errorf("%s: %w", names[0].name, err)
		}
		q.Limit = capCount(limit)
	}
	q.Remaining, q.Reset = capCount(remaining), reset
	return q, true, nil
}

// firstCount reads a non-negative integer, or the first member of a list
// such as "100, 100;w=60"; of a decimal ("599.0") it keeps the whole part.
// Values too long for an int64 are capped.
func firstCount(v string) (int64, error) {
	if i := strings.IndexAny(v, ",;"); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, errEmpty
	}
	if whole, frac, ok := strings.Cut(v, "."); ok && whole != "" && frac != "" && allDigits(frac) {
		v = whole
	}
	if !allDigits(v) {
		return 0, errNotNonNegative
	}
	v = strings.TrimLeft(v, "0")
	if len(v) > 18 {
		return math.MaxInt64, nil
	}
	var n int64
	for i := range len(v) {
		n = n*10 + int64(v[i]-'0')
	}
	return n, nil
}

// remainingCount reads a Remaining header as firstCount does, except that a
// negative count ("-1", "-3"), as limiters that go on counting refused
// requests send, reads as 0: the quota is used up until Reset.
func remainingCount(v string) (int64, error) {
	if rest, neg := strings.CutPrefix(strings.TrimSpace(v), "-"); neg {
		if _, err := firstCount(rest); err != nil || strings.HasPrefix(rest, "-") {
			return 0, errNotNonNegative
		}
		return 0, nil
	}
	return firstCount(v)
}

// resetTime reads a Reset header by size (see ParseQuota); an absolute time
// is moved onto our clock by the server's offset from clock.
func resetTime(v string, now time.Time, clock clockRef) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, errEmpty
	}
	whole, frac, hasFrac := strings.Cut(v, ".")
	if !allDigits(whole) || (hasFrac && !allDigits(frac)) || whole == "" || (hasFrac && frac == "") {
		if t, ok := resetDate(v); ok {
			return t.Add(clock.offset()), nil
		}
		return time.Time{}, errNotNonNegative
	}
	n, _ := firstCount(whole) // all digits: cannot fail
	switch {
	case n < epochSeconds:
		d, _ := parseSeconds(v) // checked above: cannot fail
		return now.Add(d), nil
	case n < epochMillis:
		var d time.Duration
		if hasFrac {
			d, _ = parseSeconds("0." + frac)
		}
		return time.Unix(n, 0).Add(d + clock.offset()), nil
	default:
		n = min(n, math.MaxInt64/int64(time.Millisecond)) // keeps UnixMilli's arithmetic in range
		return time.UnixMilli(n).Add(clock.offset()), nil
	}
}

// resetDuration reads a Reset sent as a Go-like duration from now ("6m0s",
// "1m30.5s", "20ms"), as inference APIs send x-ratelimit-reset-requests.
func resetDuration(v string, now time.Time) (time.Time, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return time.Time{}, errNotDuration
	}
	return now.Add(min(d, MaxReset)), nil
}

// resetDate reads a Reset sent as a date and time: an HTTP-date
// ("Tue, 05 Nov 2019 12:15:00 GMT") or an RFC 3339 time
// ("2019-11-05T12:15:00Z", "2019-11-05T12:15:00.5+01:00"), as some APIs send
// the window's end.
func resetDate(v string) (time.Time, bool) {
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// dateOffset is how far our clock at now is ahead of the server's, by the
// Date header of its answer h; ok is false without a valid one. Date has a
// resolution of a second and is truncated, so times converted with it err
// late, the polite side (see serverClocks).
func dateOffset(h http.Header, now time.Time) (time.Duration, bool) {
	v := fDate.get(h)
	if v == "" {
		return 0, false
	}
	d, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return now.Sub(d), true
}

func capCount(n int64) int {
	return int(min(n, maxCount))
}
