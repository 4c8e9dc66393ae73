package limiter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindowEpisodesReadTheSameCountOverDifferentLengthsAsAWindow(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name   string
		n      [2]int
		el     [2]time.Duration
		gate   [2]time.Duration
		window bool
		rate   float64
	}{
		{"the same count over 40 and 220 ms", [2]int{50, 50}, [2]time.Duration{40 * ms, 220 * ms}, [2]time.Duration{time.Second, time.Second}, true, fitMargin * 50},
		{"within the slack", [2]int{200, 206}, [2]time.Duration{90 * ms, 240 * ms}, [2]time.Duration{time.Second, time.Second}, true, fitMargin * 200},
		{"per the longest gate", [2]int{100, 100}, [2]time.Duration{60 * ms, 1500 * ms}, [2]time.Duration{9 * time.Second, 10 * time.Second}, true, fitMargin * 10},
		{"more the longer: a bucket", [2]int{10, 31}, [2]time.Duration{10 * ms, 220 * ms}, [2]time.Duration{time.Second, time.Second}, false, 0},
		{"lengths too close to tell", [2]int{50, 50}, [2]time.Duration{40 * ms, 90 * ms}, [2]time.Duration{time.Second, time.Second}, false, 0},
		{"too few requests", [2]int{5, 5}, [2]time.Duration{10 * ms, 900 * ms}, [2]time.Duration{time.Second, time.Second}, false, 0},
		{"a pause of the limiter's own", [2]int{50, 50}, [2]time.Duration{40 * ms, 220 * ms}, [2]time.Duration{time.Second, 400 * ms}, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var w windowEpisodes
			_, ok := w.note(c.el[0], c.gate[0], c.n[0])
			assert.False(t, ok, "one episode tells nothing")
			rate, ok := w.note(c.el[1], c.gate[1], c.n[1])
			assert.Equal(t, c.window, ok)
			assert.InDelta(t, c.rate, rate, 1e-9)
		})
	}
}

func TestWindowEpisodesStartAtTheFirstRequestAfterTheRefusal(t *testing.T) {
	var w windowEpisodes
	w.sent(7)
	w.sent(8)
	assert.Equal(t, uint64(7), w.from)
}
