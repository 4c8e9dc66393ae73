package limiter

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestLimiter(t *testing.T, cfg Config) (*Limiter, *clockwork.FakeClock) {
	t.Helper()
	clk := clockwork.NewFakeClockAt(epoch)
	l, err := New(cfg, WithClock(clk))
	require.NoError(t, err)
	return l, clk
}

func TestNewRejectsBadConfigNamingTheField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"negative rate", Config{Rate: -1}, "Config.Rate"},
		{"negative burst", Config{Burst: -1}, "Config.Burst"},
		{"unknown algorithm", Config{Algorithm: "cubic"}, "Config.Algorithm"},
		{"negative initial", Config{Initial: -1}, "Config.Initial"},
		{"negative min", Config{Min: -2}, "Config.Min"},
		{"negative max", Config{Max: -3}, "Config.Max"},
		{"min above max", Config{Min: 10, Max: 5, Initial: 5}, "Config.Min"},
		{"initial above max", Config{Initial: 300}, "Config.Initial"},
		{"negative retry-after cap", Config{RetryAfterMax: -time.Second}, "Config.RetryAfterMax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestDefaultsFollowMinAndMax(t *testing.T) {
	tests := []struct {
		name                string
		cfg                 Config
		initial, minL, maxL int
	}{
		{"zero", Config{}, 4, 1, 256},
		{"min above the default initial", Config{Min: 10}, 10, 10, 256},
		{"max below the default initial", Config{Max: 2}, 2, 1, 2},
		{"min above the default max", Config{Min: 300}, 300, 300, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.WithDefaults()
			require.NoError(t, err)
			assert.Equal(t, []int{tt.initial, tt.minL, tt.maxL}, []int{got.Initial, got.Min, got.Max})
		})
	}
}

func TestAlgorithmsAreParsedByName(t *testing.T) {
	for _, a := range Algorithms() {
		got, err := ParseAlgorithm(string(a))
		require.NoError(t, err)
		assert.Equal(t, a, got)
	}
	got, err := ParseAlgorithm("")
	require.NoError(t, err)
	assert.Equal(t, Auto, got, "the empty name is the default")
	assert.Equal(t, DefaultAlgorithm, Algorithms()[0], "the default is listed first")
	_, err = ParseAlgorithm("cubic")
	assert.EqualError(t, err, `"cubic" is not one of auto|aimd|gradient2|vegas|fixed`)
	cfg, err := Config{}.WithDefaults()
	require.NoError(t, err)
	assert.Equal(t, Auto, cfg.Algorithm)
}

func TestZeroConfigGetsDefaults(t *testing.T) {
	l, err := New(Config{})
	require.NoError(t, err)
	assert.Equal(t, DefaultInitial, l.Limit(), "Limit before any host")
	h := l.Host("a:443")
	assert.Same(t, h, l.Host("a:443"))
	s := h.Snapshot()
	assert.Equal(t, DefaultInitial, s.Limit)
	assert.Zero(t, s.Rate, "no rate applies by default")
	assert.True(t, s.SlowStart)
}

func TestAcquireNeverExceedsTheLimit(t *testing.T) {
	l, _ := newTestLimiter(t, Config{Algorithm: Fixed, Initial: 3})
	h := l.Host("h")
	var ps []Permit
	for range 3 {
		p, err := h.Acquire(context.Background())
		require.NoError(t, err)
		ps = append(ps, p)
	}
	_, _, ok := h.TryAcquireAt(epoch)
	assert.False(t, ok, "a fourth permit over a limit of 3")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := h.Acquire(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got := make(chan error, 1)
	go func() {
		p, err := h.Acquire(context.Background())
		if err == nil {
			p.Release(Ignored)
		}
		got <- err
	}()
	ps[0].Release(Success)
	require.NoError(t, <-got)
	for _, p := range ps[1:] {
		p.Release(Success)
	}
	assert.Equal(t, 0, h.Snapshot().InFlight)
	assert.Equal(t, 3, h.Snapshot().MaxInFlight)
}

func TestSinceReadsTheLimitersClock(t *testing.T) {
	clk := clockwork.NewFakeClockAt(epoch)
	l, err := New(Config{}, WithClock(clk))
	require.NoError(t, err)
	start := clk.Now()
	clk.Advance(3 * time.Second)
	assert.Equal(t, 3*time.Second, l.since(start), "a clock given by WithClock")
	assert.Equal(t, clk.Now(), start.Add(l.since(start)))

	real, err := New(Config{})
	require.NoError(t, err)
	before := time.Now()
	end := before.Add(real.since(before))
	assert.False(t, end.Before(before))
	assert.False(t, time.Now().Before(end), "the real clock")
}
