package benchmarks

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWaitsCountsOnlyRequestsSentAfterBeingToldToWait(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var w waits
	w.send(t0) // on its way before any answer
	w.answer(t0.Add(time.Millisecond), http.Header{"Retry-After": {"2"}})
	w.send(t0.Add(500 * time.Millisecond))             // early
	w.send(t0.Add(2*time.Second + 2*time.Millisecond)) // after the wait
	w.answer(t0.Add(3*time.Second), http.Header{"Retry-After": {"1"}})
	w.answer(t0.Add(3*time.Second), http.Header{}) // an answer without a wait changes nothing
	w.send(t0.Add(3500 * time.Millisecond))        // early
	reset := t0.Add(10 * time.Second)
	w.answer(t0.Add(5*time.Second), http.Header{
		"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(reset.Unix(), 10)},
	})
	w.send(t0.Add(9 * time.Second))  // early: the window is used up until its Reset
	w.send(t0.Add(10 * time.Second)) // after it
	w.answer(t0.Add(11*time.Second), http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"5"}})
	w.send(t0.Add(12 * time.Second)) // a Reset in seconds from now is not read as a wait
	assert.EqualValues(t, 3, w.early.Load())
}
