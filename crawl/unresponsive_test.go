package crawl

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/politely/politely/engine"
)

// silentHost is a host of the silences tests, with a clock they move.
type silentHost struct {
	s       *silences
	key     string
	req     *http.Request
	now     time.Time
	answers int64 // what the limiter says the host answered before its entry
}

func newSilentHost(t *testing.T, cfg *Config, rawURL string) *silentHost {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	h := &silentHost{key: hostKey(u), req: &http.Request{URL: u}, now: time.Unix(1_000_000, 0)}
	h.s = newSilences(cfg, func() time.Time { return h.now }, func(string) int64 { return h.answers }, zap.NewNop())
	require.NotNil(t, h.s)
	return h
}

// miss records a request to the host that got no answer, now, sent now.
func (h *silentHost) miss() { h.s.unanswered(h.req, h.now, time.Second) }

// missSentAt records a request to the host sent at sent that got no answer,
// now.
func (h *silentHost) missSentAt(sent time.Time) { h.s.unanswered(h.req, sent, time.Second) }

// admitted says whether a task may be sent to the host now.
func (h *silentHost) admitted(t *testing.T) bool {
	t.Helper()
	probe, err := h.s.admit(h.key)
	if err != nil {
		require.ErrorIs(t, err, errUnresponsive)
		require.True(t, engine.IsPermanent(err), "an unresponsive host's task fails for good")
		require.False(t, probe)
		return false
	}
	return true
}

// silencesConfig has unresponsive_after 3, a timeout of 1 s (as miss says)
// and a backoff from 1 s to 4 s.
func silencesConfig(t *testing.T, extra string) *Config {
	t.Helper()
	return testConfigLimits(t, "http://127.0.0.1:1/items", "    style: none", "task:\n  url: \"{+p}\"\n"+extra,
		"limits:\n  unresponsive_after: 3\n  timeout: 1s\n  backoff: {base: 1s, max: 4s}", nil)
}

func TestSilencesHoldAHostUnresponsiveOnceItsLastRequestsGotNoAnswerForATimeout(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	for range 5 {
		h.miss()
	}
	h.now = h.now.Add(time.Second - time.Millisecond)
	h.miss()
	assert.True(t, h.admitted(t), "requests in flight together that time out together do not make a host unresponsive")

	h.now = h.now.Add(time.Millisecond)
	h.miss() // a timeout after the first failed: sent after it
	assert.False(t, h.admitted(t), "its last requests got no answer, over a timeout")
	assert.False(t, h.admitted(t))

	other, err := url.Parse("http://127.0.0.1:10/a")
	require.NoError(t, err)
	probe, err := h.s.admit(hostKey(other))
	assert.NoError(t, err, "another port is another host")
	assert.False(t, probe)
}

func TestSilencesCountTheMissesSinceTheHostsLastAnswer(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	h.miss()
	h.miss()
	h.s.answered(h.req) // a 500 or a 404 is an answer too
	h.now = h.now.Add(time.Hour)
	h.miss()
	h.now = h.now.Add(time.Second)
	h.miss()
	assert.True(t, h.admitted(t), "two requests without an answer since the last answer")
	assert.Equal(t, int64(1), h.s.tracked.Load())

	answers := 0
	for h.s.tracked.Load() > 0 && answers < 1000 {
		h.s.answered(h.req)
		answers++
	}
	assert.Greater(t, answers, 200, "a host that missed requests lately is kept")
	assert.Less(t, answers, 1000, "a host that answered its last few hundred requests is forgotten")
}

func TestSilencesCountNoRequestSentBeforeTheHostLastAnswered(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	h.answers = 50 // its first miss: the limiter says it answered before
	sent := h.now
	h.now = h.now.Add(time.Second)
	for range 8 {
		h.missSentAt(sent) // in flight together: a host that hangs some requests leaves these
	}
	h.now = h.now.Add(time.Second)
	h.missSentAt(sent)
	assert.True(t, h.admitted(t), "requests in flight since before it last answered say nothing of it now")

	h.s.answered(h.req)
	sent = h.now
	h.now = h.now.Add(time.Second)
	for range 8 {
		h.missSentAt(sent)
	}
	assert.True(t, h.admitted(t), "sent before its last answer")

	h.now = h.now.Add(time.Second)
	for range 3 {
		h.miss()
		h.now = h.now.Add(time.Second)
	}
	h.miss()
	h.now = h.now.Add(time.Second)
	h.miss()
	assert.False(t, h.admitted(t), "its requests sent since it last answered went unanswered, over a timeout")
}

func TestSilencesCountEveryRequestOfAHostThatAnsweredOnlyItsRobotsTxt(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	h.answers = 1 // its robots.txt
	sent := h.now
	h.now = h.now.Add(time.Second)
	h.missSentAt(sent)
	h.missSentAt(sent)
	h.now = h.now.Add(time.Second)
	h.miss()
	assert.False(t, h.admitted(t), "a host that answered nothing but its robots.txt is unresponsive as one that never answered")
}

// hangingShare is a host of the silences tests that left 40% of its last 200
// requests unanswered, one at a time.
func hangingShare(t *testing.T) *silentHost {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	for i := range 200 {
		if i%5 < 2 {
			h.miss()
			h.now = h.now.Add(time.Second)
			continue
		}
		h.s.answered(h.req)
	}
	return h
}

func TestSilencesAskALongerRunOfAHostThatLeftRequestsUnansweredBefore(t *testing.T) {
	h := hangingShare(t)
	for range 10 {
		h.miss()
		h.now = h.now.Add(time.Second)
	}
	assert.True(t, h.admitted(t), "10 in a row happen at a host that misses 40%% of its requests: 1 in 10,000 runs")
	h.miss()
	assert.False(t, h.admitted(t), "11 in a row do not")

	dead := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	for range 20 {
		dead.s.answered(dead.req)
		dead.miss()
		dead.now = dead.now.Add(time.Second)
	}
	for range 14 {
		dead.miss()
		dead.now = dead.now.Add(time.Second)
	}
	assert.False(t, dead.admitted(t), "a host that answered half its requests is unresponsive after 14 in a row")
}

func TestSilencesTryAnUnresponsiveHostAgainAtBackingOffTimes(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	h.miss()
	h.now = h.now.Add(time.Second)
	h.miss()
	h.miss()
	require.False(t, h.admitted(t))

	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		h.now = h.now.Add(wait - time.Millisecond)
		assert.False(t, h.admitted(t), "no try before %v", wait)
		h.now = h.now.Add(time.Millisecond)
		probe, err := h.s.admit(h.key)
		require.NoError(t, err, "one task tries the host again after %v", wait)
		assert.True(t, probe)
		assert.False(t, h.admitted(t), "one try at a time")
		h.miss()
		h.s.probed(h.key)
	}

	h.now = h.now.Add(4 * time.Second)
	probe, err := h.s.admit(h.key)
	require.NoError(t, err)
	require.True(t, probe)
	h.s.answered(h.req)
	h.s.probed(h.key)
	assert.True(t, h.admitted(t), "a host that answers again is responsive at once")
	assert.True(t, h.admitted(t))
}

func TestSilencesTakeEachHostsOwnThreshold(t *testing.T) {
	cfg := silencesConfig(t, "hosts:\n  127.0.0.1:9: {unresponsive_after: 0}\n  localhost: {unresponsive_after: 1}\n")
	never := newSilentHost(t, cfg, "http://127.0.0.1:9/a")
	for range 10 {
		never.miss()
		never.now = never.now.Add(time.Second)
	}
	assert.True(t, never.admitted(t), "unresponsive_after 0: never")

	soon := newSilentHost(t, cfg, "http://localhost:9/a")
	soon.miss()
	assert.True(t, soon.admitted(t), "one request is not enough: the host was silent for less than a timeout")
	soon.now = soon.now.Add(time.Second)
	soon.miss()
	assert.False(t, soon.admitted(t))

	off := testConfigLimits(t, "http://127.0.0.1:1/items", "    style: none", "", "limits:\n  unresponsive_after: 0", nil)
	assert.Nil(t, newSilences(off, time.Now, nil, zap.NewNop()), "nothing to track when no host can be unresponsive")
}

func TestSilencesKeepABoundedNumberOfHosts(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	for i := range maxSilent + 100 {
		u := &url.URL{Scheme: "http", Host: "10.0.0.1:" + strconv.Itoa(i+1)}
		h.s.unanswered(&http.Request{URL: u}, h.now, time.Second)
	}
	h.s.mu.Lock()
	n := len(h.s.byKey)
	h.s.mu.Unlock()
	assert.Equal(t, maxSilent, n)
	assert.Equal(t, int64(maxSilent), h.s.tracked.Load())
}

func TestAFailedLineOfAnUnresponsiveHostCountsTheRequestsSent(t *testing.T) {
	r := &runner{cfg: &Config{}}
	err := &attemptError{err: engine.Permanent(fmt.Errorf("%w: 127.0.0.1:9: its last 5 requests got no answer", errUnresponsive))}
	line := r.failedLine(engine.Failure[listed]{Reason: engine.ReasonPermanent, Attempts: 3, Err: err})
	assert.Equal(t, 2, line.Attempts, "the last attempt sent nothing")
	assert.Equal(t, err.Error(), line.Error)
	assert.Zero(t, line.Status)
}

// TestGiveUpOnLastTakesRefusalsButNotABurstOfTimeouts: at an item's last
// attempt, misses in a row that each failed at once (refused connections)
// make the host unresponsive however short the time they span; as many
// timeouts of requests sent together (a burst queued behind hung ones) do
// not, as the rule itself would not before they span the timeout.
func TestGiveUpOnLastTakesRefusalsButNotABurstOfTimeouts(t *testing.T) {
	timedOut := newSilentHost(t, silencesConfig(t, ""), "http://burst.example/")
	for range 3 {
		timedOut.missSentAt(timedOut.now.Add(-time.Second)) // each took its whole timeout
	}
	assert.NoError(t, timedOut.s.giveUpOnLast(timedOut.key), "requests that timed out together")
	assert.True(t, timedOut.admitted(t))

	refused := newSilentHost(t, silencesConfig(t, ""), "http://refused.example/")
	refused.miss()
	refused.miss()
	assert.NoError(t, refused.s.giveUpOnLast(refused.key), "fewer than unresponsive_after")
	refused.miss()
	err := refused.s.giveUpOnLast(refused.key)
	require.ErrorIs(t, err, errUnresponsive, "3 refusals in a row, at once")
	assert.False(t, refused.admitted(t))
}

func TestSilencesTakeABurstOfAHangingHostsRequestsThatHungTogetherAsOne(t *testing.T) {
	h := hangingShare(t)
	start := h.now
	for i := range 30 { // sent 100 ms apart, each failing its 1 s timeout later: 3 bursts
		sent := start.Add(time.Duration(i) * 100 * time.Millisecond)
		h.now = sent.Add(time.Second)
		h.missSentAt(sent)
	}
	assert.True(t, h.admitted(t), "30 misses over 3 s, but 3 bursts of requests hanging together")
	for range 7 { // each sent when the one before failed
		h.missSentAt(h.now)
		h.now = h.now.Add(time.Second)
	}
	assert.True(t, h.admitted(t), "10 bursts in a row happen at a host that misses 40%% of its requests")
	h.missSentAt(h.now)
	assert.False(t, h.admitted(t), "11 do not")
}

func TestSilencesCountEveryMissOfAHostThatNeverMissedBefore(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	start := h.now
	for i := range 3 { // sent together, each failing its 1 s timeout later
		sent := start.Add(time.Duration(i) * time.Millisecond)
		h.now = sent.Add(time.Second)
		h.missSentAt(sent)
	}
	assert.True(t, h.admitted(t), "3 misses within less than the timeout")
	h.now = h.now.Add(time.Second)
	h.missSentAt(h.now.Add(-time.Second))
	assert.False(t, h.admitted(t), "a dead host is found in two timeouts, its first burst counting every request")
}

func TestSilencesRememberTheMissesOfAHostWhoseHungRequestsWereSentBeforeItsLastAnswer(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	h.answers = 100      // it answered before it first missed a request
	for i := range 200 { // 40% of its requests hang while others are answered
		if i%5 < 2 {
			h.missSentAt(h.now.Add(-time.Second))
		} else {
			h.s.answered(h.req)
		}
		h.now = h.now.Add(100 * time.Millisecond)
	}
	for range 5 { // each sent when the one before failed
		h.missSentAt(h.now)
		h.now = h.now.Add(time.Second)
	}
	assert.True(t, h.admitted(t), "5 in a row happen at a host that misses 40%% of its requests")
}

func TestSilencesFindAHostThatStopsAnsweringAsSoonWhateverWasInFlight(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	h.answers = 30 // it answered 30 requests, then stopped with 8 in flight
	for range 8 {
		h.missSentAt(h.now.Add(-time.Second))
	}
	sent := h.now
	h.now = h.now.Add(time.Second)
	for range 3 { // the next ones, sent together: one burst
		h.missSentAt(sent)
	}
	assert.True(t, h.admitted(t), "3 misses within less than the timeout")
	h.missSentAt(h.now)
	h.now = h.now.Add(time.Second)
	h.missSentAt(h.now.Add(-time.Second))
	assert.False(t, h.admitted(t), "unresponsive_after misses over the timeout: the 8 in flight ask no longer run")
}

func TestSilencesLeaveOutOfTheHistoryAMissOfTheRobotsTxtOfAHostThatHadAnsweredNothing(t *testing.T) {
	h := newSilentHost(t, silencesConfig(t, ""), "http://127.0.0.1:9/a")
	robots := &http.Request{URL: &url.URL{Scheme: "http", Host: h.req.URL.Host, Path: "/robots.txt"}}
	h.now = h.now.Add(time.Second)
	h.s.unanswered(robots, h.now.Add(-time.Second), time.Second) // sent while the crawl started hundreds of hosts
	for range 4 {
		h.s.answered(robots) // tried again, 4 together, answered
	}
	h.answers = 4 // the limiter's count
	for range 2 { // then nothing: each sent when the one before failed
		h.now = h.now.Add(time.Second)
		h.missSentAt(h.now.Add(-time.Second))
	}
	assert.True(t, h.admitted(t), "2 in a row")
	h.now = h.now.Add(time.Second)
	h.missSentAt(h.now.Add(-time.Second))
	assert.False(t, h.admitted(t), "unresponsive_after in a row over the timeout, as for a host that never missed: its first miss is its start's")
}
