package mockapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTimerLagStartsAtTheNetpollersMedianLateness(t *testing.T) {
	var l timerLag
	assert.Equal(t, 19500*time.Microsecond, l.early(20*time.Millisecond))
	assert.Equal(t, time.Duration(0), l.early(100*time.Microsecond), "a wait shorter than the lag is not waited")
}

func TestTimerLagFollowsTheMedianLateness(t *testing.T) {
	var l timerLag
	// Timers that fire 0.8 ms late (set early by the lag: due + 0.8 ms - lag),
	// one in five of them 5 ms late: the median, 0.8 ms, is learnt.
	for i := range 1000 {
		late := 800 * time.Microsecond
		if i%5 == 0 {
			late = 5 * time.Millisecond
		}
		l.observe(late - l.lag())
	}
	assert.InDelta(t, float64(800*time.Microsecond), float64(l.lag()), float64(2*lagStep))
}

func TestTimerLagMovesAStepAWait(t *testing.T) {
	var l timerLag
	l.observe(time.Second) // one wait of a loaded machine
	assert.Equal(t, lagStart+lagStep, l.lag())
}

func TestTimerLagIsBounded(t *testing.T) {
	tests := []struct {
		name string
		late time.Duration
		want time.Duration
	}{
		{"a loaded machine's lateness beyond lagMax", time.Second, lagMax},
		{"waits that end early", -time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l timerLag
			for range 1000 {
				l.observe(tt.late)
			}
			assert.Equal(t, tt.want, l.lag())
		})
	}
}
