package limiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostConfigsApplyToTheirHostsOnly(t *testing.T) {
	l, err := New(Config{Algorithm: Fixed, Initial: 4}, WithHostConfigs(map[string]Config{
		"cdn.example.com":     {Algorithm: Fixed, Initial: 8, Rate: 20},
		"CDN.example.com:444": {Algorithm: Fixed, Initial: 2},
	}))
	require.NoError(t, err)
	tests := []struct {
		key   string
		limit int
		rate  float64
	}{
		{"cdn.example.com:443", 8, 20},
		{"cdn.example.com:444", 2, 0},
		{"api.example.com:443", 4, 0},
	}
	for _, tt := range tests {
		s := l.Host(tt.key).Snapshot()
		assert.Equal(t, tt.limit, s.Limit, tt.key)
		assert.Equal(t, tt.rate, s.Rate, tt.key)
	}
	assert.Equal(t, 14, l.Limit())

	h := l.Host("cdn.example.com:443")
	h.SetCeiling(5)
	assert.Equal(t, 5.0, h.Snapshot().Rate)
	h.SetCeiling(0)
	assert.Equal(t, 20.0, h.Snapshot().Rate, "back to the host's own ceiling")
}

func TestNewRejectsAnInvalidHostConfigNamingTheHost(t *testing.T) {
	_, err := New(Config{}, WithHostConfigs(map[string]Config{"cdn.example.com": {Min: 10, Max: 5}}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `host "cdn.example.com"`)
	assert.Contains(t, err.Error(), "Config.Min")
}
