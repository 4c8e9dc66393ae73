package transport

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseQuota(t *testing.T) {
	epoch := strconv.FormatInt(now.Unix(), 10)
	epochPlus := func(s int64) string { return strconv.FormatInt(now.Unix()+s, 10) }
	tests := []struct {
		name    string
		h       http.Header
		want    limiter.Quota
		ok      bool
		wantErr string
	}{
		{name: "no headers", h: header()},
		{name: "inference API's requests form: a Go-like duration", ok: true,
			h: header("x-ratelimit-limit-requests", "500", "x-ratelimit-remaining-requests", "499", "x-ratelimit-reset-requests", "120ms",
				"x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "1m0s"),
			want: limiter.Quota{Limit: 500, Remaining: 499, Reset: now.Add(120 * time.Millisecond)}},
		{name: "requests form: minutes and seconds", ok: true,
			h:    header("x-ratelimit-limit-requests", "10000", "x-ratelimit-remaining-requests", "9000", "x-ratelimit-reset-requests", "6m0s"),
			want: limiter.Quota{Limit: 10000, Remaining: 9000, Reset: now.Add(6 * time.Minute)}},
		{name: "requests form: a fraction of a second", ok: true,
			h:    header("x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "1m30.5s"),
			want: limiter.Quota{Limit: 60, Remaining: 0, Reset: now.Add(90*time.Second + 500*time.Millisecond)}},
		{name: "requests form: a reset in plain seconds", ok: true,
			h:    header("x-ratelimit-remaining-requests", "7", "x-ratelimit-reset-requests", "2.5"),
			want: limiter.Quota{Remaining: 7, Reset: now.Add(2500 * time.Millisecond)}},
		{name: "requests form: a reset of zero says nothing",
			h: header("x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "60", "x-ratelimit-reset-requests", "0s")},
		{name: "requests form: a negative reset is an error",
			h:       header("x-ratelimit-remaining-requests", "3", "x-ratelimit-reset-requests", "-1s"),
			wantErr: "x-ratelimit-reset-requests"},
		{name: "requests form: a reset that is no duration is an error",
			h:       header("x-ratelimit-remaining-requests", "3", "x-ratelimit-reset-requests", "soon"),
			wantErr: "x-ratelimit-reset-requests"},
		{name: "requests form: a reset beyond MaxReset is capped", ok: true,
			h:    header("x-ratelimit-remaining-requests", "3", "x-ratelimit-reset-requests", "99999h"),
			want: limiter.Quota{Remaining: 3, Reset: now.Add(MaxReset)}},
		{name: "tokens alone say nothing",
			h: header("x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "1m0s")},
		{name: "requests form beside X-RateLimit: the tighter wins", ok: true,
			h: header("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", "60",
				"x-ratelimit-limit-requests", "100", "x-ratelimit-remaining-requests", "10", "x-ratelimit-reset-requests", "1s"),
			want: limiter.Quota{Limit: 100, Remaining: 10, Reset: now.Add(time.Second)}},
		{name: "anthropic's requests form: an RFC 3339 reset", ok: true,
			h: header("anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49",
				"anthropic-ratelimit-requests-reset", now.Add(1200*time.Millisecond).UTC().Format(time.RFC3339Nano)),
			want: limiter.Quota{Limit: 50, Remaining: 49, Reset: now.Add(1200 * time.Millisecond)}},
		{name: "RateLimit with its policy", ok: true,
			h:    header("RateLimit-Policy", `"default";q=100;w=60`, "RateLimit", `"default";r=50;t=30`),
			want: limiter.Quota{Limit: 100, Remaining: 50, Reset: now.Add(30 * time.Second), Window: time.Minute}},
		{name: "RateLimit without policy: limit unknown", ok: true,
			h:    header("RateLimit", `"default";r=50;t=30`),
			want: limiter.Quota{Remaining: 50, Reset: now.Add(30 * time.Second)}},
		{name: "RateLimit without t uses the policy window", ok: true,
			h:    header("RateLimit-Policy", `"default";q=100;w=60`, "RateLimit", `"default";r=5`),
			want: limiter.Quota{Limit: 100, Remaining: 5, Reset: now.Add(time.Minute), Window: time.Minute}},
		{name: "RateLimit without t and without policy says nothing",
			h: header("RateLimit", `"default";r=5`)},
		{name: "policy alone: its quota over its window", ok: true,
			h:    header("RateLimit-Policy", `"default";q=100;w=60`),
			want: limiter.Quota{Limit: 100, Remaining: 100, Reset: now.Add(time.Minute), Window: time.Minute}},
		{name: "several policies: the tightest wins", ok: true,
			h:    header("RateLimit-Policy", `"burst";q=100;w=1, "daily";q=86400;w=86400, "hourly";q=1800;w=3600`),
			want: limiter.Quota{Limit: 1800, Remaining: 1800, Reset: now.Add(time.Hour), Window: time.Hour}},
		{name: "policies over several header lines", ok: true,
			h:    header("RateLimit-Policy", `"burst";q=100;w=1`, "RateLimit-Policy", `"hourly";q=1800;w=3600`),
			want: limiter.Quota{Limit: 1800, Remaining: 1800, Reset: now.Add(time.Hour), Window: time.Hour}},
		{name: "older unnamed policies", ok: true,
			h:    header("RateLimit-Policy", `10;w=1, 50;w=60`),
			want: limiter.Quota{Limit: 50, Remaining: 50, Reset: now.Add(time.Minute), Window: time.Minute}},
		{name: "exhausted limit beats an unmentioned policy", ok: true,
			h:    header("RateLimit-Policy", `"a";q=10;w=1, "b";q=1000;w=3600`, "RateLimit", `"a";r=0;t=1`),
			want: limiter.Quota{Limit: 10, Remaining: 0, Reset: now.Add(time.Second), Window: time.Second}},
		{name: "two exhausted limits: the later reset wins", ok: true,
			h:    header("RateLimit", `"a";r=0;t=1, "b";r=0;t=20`),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(20 * time.Second)}},
		{name: "older dictionary RateLimit", ok: true,
			h:    header("RateLimit", `limit=100, remaining=50, reset=5`),
			want: limiter.Quota{Limit: 100, Remaining: 50, Reset: now.Add(5 * time.Second)}},
		{name: "RateLimit-* trio, delta reset", ok: true,
			h:    header("RateLimit-Limit", "100", "RateLimit-Remaining", "7", "RateLimit-Reset", "20"),
			want: limiter.Quota{Limit: 100, Remaining: 7, Reset: now.Add(20 * time.Second)}},
		{name: "RateLimit-Limit as a list counts by its first number", ok: true,
			h:    header("RateLimit-Limit", "100, 100;w=60", "RateLimit-Remaining", "7", "RateLimit-Reset", "20"),
			want: limiter.Quota{Limit: 100, Remaining: 7, Reset: now.Add(20 * time.Second)}},
		{name: "X-RateLimit epoch seconds", ok: true,
			h:    header("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", epochPlus(3600)),
			want: limiter.Quota{Limit: 5000, Remaining: 4999, Reset: now.Add(time.Hour)}},
		{name: "X-RateLimit epoch with a fraction", ok: true,
			h:    header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", epochPlus(2)+".25"),
			want: limiter.Quota{Remaining: 1, Reset: now.Add(2250 * time.Millisecond)}},
		{name: "X-RateLimit epoch milliseconds", ok: true,
			h:    header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", epochPlus(2)+"500"),
			want: limiter.Quota{Remaining: 1, Reset: now.Add(2500 * time.Millisecond)}},
		{name: "X-Rate-Limit (Twitter) epoch seconds", ok: true,
			h:    header("X-Rate-Limit-Limit", "900", "X-Rate-Limit-Remaining", "899", "X-Rate-Limit-Reset", epochPlus(900)),
			want: limiter.Quota{Limit: 900, Remaining: 899, Reset: now.Add(15 * time.Minute)}},
		{name: "decimal counts (Reddit) by their whole part", ok: true,
			h:    header("X-RateLimit-Remaining", "598.0", "X-RateLimit-Used", "2", "X-RateLimit-Reset", "421"),
			want: limiter.Quota{Remaining: 598, Reset: now.Add(421 * time.Second)}},
		{name: "a count with an empty fraction is an error", h: header("X-RateLimit-Remaining", "5.", "X-RateLimit-Reset", "5"),
			wantErr: "X-RateLimit-Remaining: not a non-negative number"},
		{name: "X-RateLimit delta seconds tolerated", ok: true,
			h:    header("X-RateLimit-Remaining", "10", "X-RateLimit-Reset", "60"),
			want: limiter.Quota{Remaining: 10, Reset: now.Add(time.Minute)}},
		{name: "epoch on a server clock 10 s behind ours", ok: true,
			h: header("Date", now.Add(-10*time.Second).Format(http.TimeFormat),
				"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Unix()-10+30, 10)),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(30 * time.Second)}},
		{name: "X-RateLimit-Reset as an RFC 3339 time", ok: true,
			h:    header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", now.Add(90*time.Second).UTC().Format(time.RFC3339)),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(90 * time.Second)}},
		{name: "RateLimit-Reset as an RFC 3339 time with an offset and a fraction", ok: true,
			h:    header("RateLimit-Remaining", "3", "RateLimit-Reset", now.Add(2500*time.Millisecond).In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)),
			want: limiter.Quota{Remaining: 3, Reset: now.Add(2500 * time.Millisecond)}},
		{name: "X-RateLimit-Reset as an HTTP-date on a server clock 10 s behind ours", ok: true,
			h: header("Date", now.Add(-10*time.Second).Format(http.TimeFormat),
				"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", now.Add(20*time.Second).UTC().Format(http.TimeFormat)),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(30 * time.Second)}},
		{name: "a date in the past says nothing",
			h: header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", now.Add(-time.Minute).UTC().Format(time.RFC3339))},
		{name: "epoch reset in the past says nothing", h: header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch)},
		{name: "zero delta says nothing", h: header("RateLimit-Remaining", "0", "RateLimit-Reset", "0")},
		{name: "a year is capped at MaxReset", ok: true,
			h:    header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "31536000"),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(MaxReset)}},
		{name: "2^63 reset is capped", ok: true,
			h:    header("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "9223372036854775808"),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(MaxReset)}},
		{name: "huge counts are capped", ok: true,
			h:    header("X-RateLimit-Limit", "99999999999999999999", "X-RateLimit-Remaining", "99999999999", "X-RateLimit-Reset", "60"),
			want: limiter.Quota{Limit: maxCount, Remaining: maxCount, Reset: now.Add(time.Minute)}},
		{name: "tightest across families", ok: true,
			h: header("X-RateLimit-Remaining", "100", "X-RateLimit-Reset", "10",
				"RateLimit-Remaining", "5", "RateLimit-Reset", "10"),
			want: limiter.Quota{Remaining: 5, Reset: now.Add(10 * time.Second)}},
		{name: "remaining without reset is an error", h: header("X-RateLimit-Remaining", "5"),
			wantErr: "X-RateLimit-Reset: empty value"},
		{name: "negative remaining reads as used up", ok: true,
			h:    header("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "-3", "X-RateLimit-Reset", "5"),
			want: limiter.Quota{Limit: 10, Remaining: 0, Reset: now.Add(5 * time.Second)}},
		{name: "negative remaining of the older drafts too", ok: true,
			h:    header("RateLimit-Remaining", " -1.0", "RateLimit-Reset", "2"),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(2 * time.Second)}},
		{name: "negative remaining beats a larger family", ok: true,
			h: header("X-RateLimit-Remaining", "-1", "X-RateLimit-Reset", "5",
				"RateLimit-Remaining", "100", "RateLimit-Reset", "5"),
			want: limiter.Quota{Remaining: 0, Reset: now.Add(5 * time.Second)}},
		{name: "a lone minus is an error", h: header("X-RateLimit-Remaining", "-", "X-RateLimit-Reset", "5"),
			wantErr: "X-RateLimit-Remaining: not a non-negative number"},
		{name: "a double minus is an error", h: header("X-RateLimit-Remaining", "--1", "X-RateLimit-Reset", "5"),
			wantErr: "X-RateLimit-Remaining: not a non-negative number"},
		{name: "garbage reset is an error", h: header("RateLimit-Remaining", "1", "RateLimit-Reset", "soon"),
			wantErr: "RateLimit-Reset: not a non-negative number"},
		{name: "garbage limit is an error", h: header("RateLimit-Limit", "x", "RateLimit-Remaining", "1", "RateLimit-Reset", "5"),
			wantErr: "RateLimit-Limit: not a non-negative number"},
		{name: "a broken family does not hide a good one", ok: true,
			h:       header("RateLimit", `"a";r=oops`, "X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "3"),
			want:    limiter.Quota{Remaining: 3, Reset: now.Add(3 * time.Second)},
			wantErr: "RateLimit: member 1: parameter r: not a non-negative integer"},
		{name: "broken policy reported", h: header("RateLimit-Policy", `"a";w=1`),
			wantErr: "RateLimit-Policy: member 1: parameter q (quota) missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseQuota(tt.h, now)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.want.Limit, got.Limit, "Limit")
				assert.Equal(t, tt.want.Remaining, got.Remaining, "Remaining")
				assert.Equal(t, tt.want.Window, got.Window, "Window")
				assert.True(t, tt.want.Reset.Equal(got.Reset), "Reset: got %v, want %v", got.Reset, tt.want.Reset)
			}
		})
	}
}

// FuzzParseQuotaRequests fuzzes the inference APIs' requests form (and
// the token budget beside it, which is not read).
func FuzzParseQuotaRequests(f *testing.F) {
	f.Add("500", "499", "120ms", "30000", "29000", "1m0s")
	f.Fuzz(func(t *testing.T, limit, remaining, reset, tlimit, tremaining, treset string) {
		h := header("x-ratelimit-limit-requests", limit, "x-ratelimit-remaining-requests", remaining, "x-ratelimit-reset-requests", reset,
			"x-ratelimit-limit-tokens", tlimit, "x-ratelimit-remaining-tokens", tremaining, "x-ratelimit-reset-tokens", treset,
			"anthropic-ratelimit-requests-limit", limit, "anthropic-ratelimit-requests-remaining", remaining, "anthropic-ratelimit-requests-reset", treset)
		assertQuotaInBounds(t, h)
	})
}

func FuzzParseQuota(f *testing.F) {
	f.Add(`"default";r=50;t=30`, `"default";q=100;w=60`, "100", "7", "20", "5000", "4999", "1764043200", "")
	f.Add("", "", "", "", "2026-11-25T03:00:30.5+01:00", "", "0", "Wed, 25 Nov 2026 03:01:00 GMT", "Wed, 25 Nov 2026 02:59:50 GMT")
	f.Fuzz(func(t *testing.T, rl, policy, limit, remaining, reset, xlimit, xremaining, xreset, date string) {
		h := header("RateLimit", rl, "RateLimit-Policy", policy,
			"RateLimit-Limit", limit, "RateLimit-Remaining", remaining, "RateLimit-Reset", reset,
			"X-RateLimit-Limit", xlimit, "X-RateLimit-Remaining", xremaining, "X-RateLimit-Reset", xreset,
			"X-Rate-Limit-Limit", limit, "X-Rate-Limit-Remaining", xremaining, "X-Rate-Limit-Reset", reset,
			"Date", date)
		assertQuotaInBounds(t, h)
	})
}

// assertQuotaInBounds checks what every quota ParseQuota reads from h must
// hold, whatever the headers said: counts not negative nor past maxCount,
// a reset after now and within MaxReset.
func assertQuotaInBounds(t *testing.T, h http.Header) {
	t.Helper()
	q, ok, _ := ParseQuota(h, now)
	if !ok {
		return
	}
	assert.GreaterOrEqual(t, q.Limit, 0)
	assert.GreaterOrEqual(t, q.Remaining, 0)
	assert.LessOrEqual(t, q.Remaining, maxCount)
	assert.True(t, q.Reset.After(now), "reset not after now: %v", q.Reset)
	assert.False(t, q.Reset.After(now.Add(MaxReset)), "reset beyond MaxReset: %v", q.Reset)
}
