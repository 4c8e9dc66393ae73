package transport

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePolicies(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []Policy
		wantErr string
	}{
		{name: "one named policy", value: `"default";q=100;w=60`,
			want: []Policy{{Name: "default", Quota: 100, Window: time.Minute}}},
		{name: "several policies", value: `"burst";q=100;w=60, "daily";q=1000;w=86400`,
			want: []Policy{{Name: "burst", Quota: 100, Window: time.Minute}, {Name: "daily", Quota: 1000, Window: 24 * time.Hour}}},
		{name: "token name, unknown parameters ignored", value: `permin;q=10;qu="requests";pk=:YWJj:;w=60`,
			want: []Policy{{Name: "permin", Quota: 10, Window: time.Minute}}},
		{name: "window optional", value: `"x";q=5`, want: []Policy{{Name: "x", Quota: 5}}},
		{name: "older unnamed integer form", value: `10;w=1, 50;w=60`,
			want: []Policy{{Quota: 10, Window: time.Second}, {Quota: 50, Window: time.Minute}}},
		{name: "space around commas and after semicolons", value: "\"a\"; q=1; w=2 ,\t\"b\";q=3;w=4",
			want: []Policy{{Name: "a", Quota: 1, Window: 2 * time.Second}, {Name: "b", Quota: 3, Window: 4 * time.Second}}},
		{name: "escaped quote in name", value: `"a\"b";q=1;w=1`, want: []Policy{{Name: `a"b`, Quota: 1, Window: time.Second}}},
		{name: "repeated parameter: last wins", value: `"a";q=1;q=2;w=1`, want: []Policy{{Name: "a", Quota: 2, Window: time.Second}}},
		{name: "huge window capped", value: `"a";q=1;w=999999999999999`, want: []Policy{{Name: "a", Quota: 1, Window: maxDelay}}},
		{name: "empty", value: "", wantErr: "empty field"},
		{name: "missing q", value: `"a";w=60`, wantErr: "member 1: parameter q (quota) missing"},
		{name: "negative quota", value: `"a";q=-1;w=60`, wantErr: "member 1: quota: negative"},
		{name: "zero window", value: `"a";q=1;w=0`, wantErr: "member 1: parameter w: a window of zero seconds"},
		{name: "string window", value: `"a";q=1;w="60"`, wantErr: "member 1: parameter w: not a non-negative integer"},
		{name: "decimal quota", value: `"a";q=1.5`, wantErr: "member 1: parameter q: not an integer"},
		{name: "malformed decimal", value: `"a";q=1.`, wantErr: "member 1: parameter value: malformed decimal at offset 6"},
		{name: "boolean and byte sequence parameters ignored", value: `"a";q=1;x=?1;y=:AQ==:;z`, want: []Policy{{Name: "a", Quota: 1}}},
		{name: "bad boolean", value: `"a";q=1;x=?2`, wantErr: "bad boolean"},
		{name: "unterminated byte sequence", value: `"a";q=1;x=:AQ`, wantErr: "unterminated byte sequence"},
		{name: "2^63 quota", value: `"a";q=9223372036854775808`, wantErr: "more than 15 digits"},
		{name: "second member broken", value: `"a";q=1, "b"`, wantErr: "member 2: parameter q (quota) missing"},
		{name: "trailing comma", value: `"a";q=1,`, wantErr: "trailing comma"},
		{name: "unterminated string", value: `"a;q=1`, wantErr: "unterminated string"},
		{name: "dictionary member", value: `a=1`, wantErr: "not key=value"},
		{name: "garbage", value: `$$$`, wantErr: "unsupported value at offset 0"},
		{name: "uppercase parameter key", value: `"a";Q=1`, wantErr: "parameter key expected at offset 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePolicies(tt.value)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []ServiceLimit
		wantErr string
	}{
		{name: "one limit", value: `"default";r=50;t=30`,
			want: []ServiceLimit{{Policy: "default", Remaining: 50, Reset: 30 * time.Second, HasReset: true}}},
		{name: "reset optional", value: `"default";r=0`, want: []ServiceLimit{{Policy: "default"}}},
		{name: "several limits", value: `"a";r=1;t=1, "b";r=2;t=2`,
			want: []ServiceLimit{{Policy: "a", Remaining: 1, Reset: time.Second, HasReset: true}, {Policy: "b", Remaining: 2, Reset: 2 * time.Second, HasReset: true}}},
		{name: "older dictionary form", value: `limit=100, remaining=50, reset=5`,
			want: []ServiceLimit{{Limit: 100, Remaining: 50, Reset: 5 * time.Second, HasReset: true}}},
		{name: "dictionary without reset", value: `remaining=3`, want: []ServiceLimit{{Remaining: 3}}},
		{name: "dictionary ignores unknown keys", value: `remaining=3, policy=7`, want: []ServiceLimit{{Remaining: 3}}},
		{name: "missing r", value: `"a";t=3`, wantErr: "member 1: parameter r (remaining) missing"},
		{name: "negative r", value: `"a";r=-3`, wantErr: "member 1: parameter r: not a non-negative integer"},
		{name: "negative t", value: `"a";r=3;t=-1`, wantErr: "member 1: parameter t: not a non-negative integer"},
		{name: "integer member", value: `5;r=1`, wantErr: "member 1: a limit is a policy name"},
		{name: "dictionary then list member", value: `remaining=3, "a";r=1`, wantErr: "member 2: not key=non-negative-integer"},
		{name: "dictionary without remaining", value: `limit=3`, wantErr: "key remaining missing"},
		{name: "dictionary with negative", value: `remaining=-3`, wantErr: "member 1: not key=non-negative-integer"},
		{name: "garbage", value: `;;`, wantErr: "unsupported value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRateLimit(tt.value)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestStructuredFieldErrorsDoNotRepeatValue(t *testing.T) {
	const secret = "tok_live_8f3a9c"
	for _, v := range []string{
		`"` + secret, secret + `=`, `"a";` + secret + `=@`, `"a";q=1;w="` + secret + `"`, secret + `;r=1;t=@`,
	} {
		_, err1 := ParsePolicies(v)
		_, err2 := ParseRateLimit(v)
		for _, err := range []error{err1, err2} {
			require.Error(t, err, v)
			assert.NotContains(t, err.Error(), secret)
		}
	}
}

func FuzzParsePolicies(f *testing.F) {
	f.Add(`"default";q=100;w=60`)
	f.Fuzz(func(t *testing.T, value string) {
		ps, err := ParsePolicies(value)
		if err != nil {
			assert.Nil(t, ps)
			return
		}
		require.NotEmpty(t, ps)
		for _, p := range ps {
			assert.GreaterOrEqual(t, p.Quota, int64(0))
			assert.GreaterOrEqual(t, p.Window, time.Duration(0))
			assert.LessOrEqual(t, p.Window, maxDelay)
			assert.LessOrEqual(t, len(p.Name), len(value))
		}
	})
}

func FuzzParseRateLimit(f *testing.F) {
	f.Add(`"default";r=50;t=30`)
	f.Fuzz(func(t *testing.T, value string) {
		ls, err := ParseRateLimit(value)
		if err != nil {
			assert.Nil(t, ls)
			return
		}
		require.NotEmpty(t, ls)
		for _, l := range ls {
			assert.GreaterOrEqual(t, l.Remaining, int64(0))
			assert.GreaterOrEqual(t, l.Limit, int64(0))
			assert.GreaterOrEqual(t, l.Reset, time.Duration(0))
			assert.LessOrEqual(t, l.Reset, maxDelay)
			assert.True(t, l.HasReset || l.Reset == 0)
		}
		if strings.Count(value, ",") == 0 {
			assert.Len(t, ls, 1, "one member without a comma")
		}
	})
}
