package transport

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  time.Time
		err   error
	}{
		{name: "delta seconds", value: "120", want: now.Add(120 * time.Second)},
		{name: "zero", value: "0", want: now},
		{name: "surrounding space", value: "  7 ", want: now.Add(7 * time.Second)},
		{name: "leading zeros", value: "0007", want: now.Add(7 * time.Second)},
		{name: "fraction to the millisecond", value: "1.5", want: now.Add(1500 * time.Millisecond)},
		{name: "fraction rounded up", value: "0.0001", want: now.Add(time.Millisecond)},
		{name: "fraction zeros not rounded", value: "2.250000", want: now.Add(2250 * time.Millisecond)},
		{name: "a year is returned for the caller to cap", value: "31536000", want: now.Add(365 * 24 * time.Hour)},
		{name: "2^63 capped at a century", value: "9223372036854775808", want: now.Add(maxDelay)},
		{name: "a hundred digits capped", value: strings.Repeat("9", 100), want: now.Add(maxDelay)},
		{name: "IMF-fixdate", value: "Wed, 25 Nov 2026 03:00:30 GMT", want: now.Add(30 * time.Second)},
		{name: "RFC 850 date", value: "Wednesday, 25-Nov-26 03:01:00 GMT", want: now.Add(time.Minute)},
		{name: "asctime date", value: "Wed Nov 25 03:02:00 2026", want: now.Add(2 * time.Minute)},
		{name: "date in the past is returned as is", value: "Wed, 25 Nov 2026 02:00:00 GMT", want: now.Add(-time.Hour)},
		{name: "negative", value: "-5", err: errNegative},
		{name: "empty", value: "", err: errEmpty},
		{name: "blank", value: "   ", err: errEmpty},
		{name: "garbage", value: "soon", err: errNotRetryAfter},
		{name: "digits then garbage", value: "10s", err: errNotRetryAfter},
		{name: "trailing dot", value: "10.", err: errNotRetryAfter},
		{name: "two dots", value: "1.2.3", err: errNotRetryAfter},
		{name: "exponent", value: "1e3", err: errNotRetryAfter},
		{name: "plus sign", value: "+5", err: errNotRetryAfter},
		{name: "lone minus", value: "-", err: errNotRetryAfter},
		{name: "bad date", value: "Wed, 32 Nov 2026 03:00:30 GMT", err: errNotRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRetryAfter(tt.value, now)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
		})
	}
}

func TestParseRetryAfterErrorDoesNotRepeatValue(t *testing.T) {
	const secret = "tok_live_8f3a9c"
	_, err := ParseRetryAfter(secret, now)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 25 Nov 2026 03:00:30 GMT")
	f.Fuzz(func(t *testing.T, value string) {
		got, err := ParseRetryAfter(value, now)
		if err != nil {
			assert.True(t, got.IsZero(), "a value with an error")
			return
		}
		trimmed := strings.TrimSpace(value)
		if trimmed != "" && isDigit(trimmed[0]) {
			d := got.Sub(now)
			assert.GreaterOrEqual(t, d, time.Duration(0), "delta-seconds before now")
			assert.LessOrEqual(t, d, maxDelay, "delta-seconds beyond the cap")
		}
	})
}
