package transport

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStructuredFieldsReadRFC9651DatesAndDisplayStrings(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []ServiceLimit
		wantErr string
	}{
		{name: "date parameter", value: `"default";r=5;t=30;since=@1700000000`,
			want: []ServiceLimit{{Policy: "default", Remaining: 5, Reset: 30e9, HasReset: true}}},
		{name: "negative date", value: `"default";r=5;d=@-1`, want: []ServiceLimit{{Policy: "default", Remaining: 5}}},
		{name: "display string parameter", value: `"default";r=5;note=%"caf%c3%a9 %22ok%22"`,
			want: []ServiceLimit{{Policy: "default", Remaining: 5}}},
		{name: "display string member", value: `%"caf%c3%a9";r=1`, want: []ServiceLimit{{Policy: "café", Remaining: 1}}},
		{name: "date is not an integer", value: `"default";r=@5`, wantErr: "parameter r"},
		{name: "decimal date", value: `"a";r=1;d=@1.5`, wantErr: "date at offset 10 is not an integer"},
		{name: "empty date", value: `"a";r=1;d=@`, wantErr: "bad date"},
		{name: "upper-case escape", value: `"a";r=1;n=%"%C3%A9"`, wantErr: "bad escape in display string"},
		{name: "short escape", value: `"a";r=1;n=%"%c"`, wantErr: "bad escape in display string"},
		{name: "invalid UTF-8", value: `"a";r=1;n=%"%ff"`, wantErr: "not valid UTF-8"},
		{name: "no quote", value: `"a";r=1;n=%abc`, wantErr: "bad display string"},
		{name: "unterminated", value: `"a";r=1;n=%"abc`, wantErr: "unterminated display string"},
		{name: "raw non-ASCII", value: "\"a\";r=1;n=%\"caf\xc3\xa9\"", wantErr: "non-printable character in display string"},
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

func TestPoliciesReadDisplayStringNames(t *testing.T) {
	got, err := ParsePolicies(`%"d%c3%a9faut";q=100;w=60;since=@1700000000`)
	require.NoError(t, err)
	assert.Equal(t, []Policy{{Name: "défaut", Quota: 100, Window: 60e9}}, got)
}
