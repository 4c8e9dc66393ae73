package transport

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// dated is an answer whose Date is the server's clock at serverAt, truncated
// to the second as servers send it.
func dated(serverAt time.Time) http.Header {
	return header("Date", serverAt.UTC().Format(http.TimeFormat))
}

func TestServerClocksKeepTheLowestOffsetOfAHostsAnswers(t *testing.T) {
	var c serverClocks
	// The server's clock is ours; answers arrive 2 ms after they leave, at
	// 0.7, 1.3 and 2.05 s past a whole second: one answer alone errs late by
	// its fraction of a second.
	base := now
	for _, tc := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{700 * time.Millisecond, 702 * time.Millisecond},
		{1300 * time.Millisecond, 302 * time.Millisecond},
		{2050 * time.Millisecond, 52 * time.Millisecond},
		{2900 * time.Millisecond, 52 * time.Millisecond},
	} {
		sent := base.Add(tc.at)
		assert.Equal(t, tc.want, c.offset("a:80", dated(sent), sent.Add(2*time.Millisecond)), "answer at %v", tc.at)
	}
	sent := base.Add(3100 * time.Millisecond)
	assert.Equal(t, 102*time.Millisecond, c.offset("b:80", dated(sent), sent.Add(2*time.Millisecond)),
		"another host has its own estimate")
	assert.Zero(t, c.offset("a:80", header(), now), "no Date: no offset")
	assert.Zero(t, c.offset("a:80", header("Date", "yesterday"), now), "a bad Date: no offset")
}

func TestServerClocksFollowAClockThatStepsBackAtOnce(t *testing.T) {
	var c serverClocks
	sent := now.Add(50 * time.Millisecond)
	assert.Equal(t, 51*time.Millisecond, c.offset("a:80", dated(sent), sent.Add(time.Millisecond)))
	// The server's clock steps 10 s back: its absolute times now lie 10 s
	// further in our future, and reading them with the old offset would send
	// 10 s early.
	at := now.Add(2 * time.Second)
	got := c.offset("a:80", dated(at.Add(-10*time.Second)), at)
	assert.Equal(t, 10*time.Second, got)
	assert.Equal(t, 10*time.Second,
		c.offset("a:80", dated(at.Add(-10*time.Second+100*time.Millisecond)), at.Add(200*time.Millisecond)),
		"the estimate starts again from the step, and its lowest offset is kept")
}

func TestServerClocksForgetALowOffsetAfterTwoEpochs(t *testing.T) {
	var c serverClocks
	c.offset("a:80", dated(now), now.Add(10*time.Millisecond)) // 10 ms
	// The server's clock drifts 0.5 s behind ours, less than a step.
	late := func(at time.Time) time.Duration {
		return c.offset("a:80", dated(at.Add(-500*time.Millisecond)), at)
	}
	at := now.Add(clockEpoch + 600*time.Millisecond) // server at x.1 s: offset 0.6 s
	assert.Equal(t, 10*time.Millisecond, late(at), "the previous epoch still holds the low offset")
	at = at.Add(clockEpoch)
	assert.Equal(t, 600*time.Millisecond, late(at), "two epochs later it is forgotten")
}

func TestServerClocksAreBounded(t *testing.T) {
	var c serverClocks
	for i := range maxClocks {
		c.offset("h"+strconv.Itoa(i)+":80", dated(now), now)
	}
	sent := now.Add(400 * time.Millisecond)
	assert.Equal(t, 400*time.Millisecond, c.offset("one-more:80", dated(sent), sent), "beyond the bound: the answer's own offset")
	assert.Len(t, c.hosts, maxClocks)
}

func TestAnEpochResetIsReadWithTheHostsLowestOffset(t *testing.T) {
	var c serverClocks
	answer := func(serverAt time.Time, remaining string) reading {
		h := dated(serverAt)
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+1, 10)) // the window ends at now+1s
		at := serverAt.Add(2 * time.Millisecond)
		return read(h, at, clockRef{clocks: &c, host: "a:80", h: h, now: at})
	}
	r := answer(now.Add(20*time.Millisecond), "5")
	assert.True(t, now.Add(time.Second+22*time.Millisecond).Equal(r.quota.Reset), "got %v", r.quota.Reset)
	r = answer(now.Add(900*time.Millisecond), "0")
	assert.True(t, now.Add(time.Second+22*time.Millisecond).Equal(r.quota.Reset),
		"not 0.9 s late, as the answer's own Date would put it: got %v", r.quota.Reset)
	h := dated(now.Add(900 * time.Millisecond))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+1, 10))
	q, ok, err := ParseQuota(h, now.Add(902*time.Millisecond))
	assert.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, now.Add(time.Second+902*time.Millisecond).Equal(q.Reset), "ParseQuota alone has only the answer's Date: got %v", q.Reset)
}
