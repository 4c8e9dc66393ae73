package crawl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// errUnresponsive marks a request not sent because its host is unresponsive.
var errUnresponsive = errors.New("host unresponsive")

// silences finds the hosts that stopped answering, so that a crawl does not
// spend a timeout on each of their items, one attempt after another.
//
// A host is unresponsive when its last requests got no answer at all (a
// timeout, a refused or reset connection, a body the timeout cut short),
// every one of them sent since its last answer, at least
// limits.unresponsive_after of them in a row, over at least its
// limits.timeout from the first of them failing. A request already
// in flight when the host last answered says nothing of whether it answers
// now (at a host that hangs some of its requests, the hung ones are what is
// left in flight): it counts in the host's history, not in the run. When a
// host first misses a request after it answered more than its robots.txt
// (the limiter's count), when it last answered is not known: that miss
// counts in its history only, and its other requests then in flight in
// neither (a host hanging some of its requests misses them one at a time,
// each in its history; a host that stops answering leaves all of them, and
// they would make its history ask a longer run). A host that left requests
// unanswered before needs a longer run: one that a host missing as large a
// share of its recent requests (the last ~100, the older weighing less)
// would give less than once in 10,000 runs, up to 14 in a row (a host
// missing 40% needs 11), and when that is more than unresponsive_after, as
// many bursts: a burst is the misses of the requests sent before its first
// miss failed, the ones that were hanging together (at a host that hangs
// some of its requests, those queued behind the hung ones time out
// together, and tell one thing: it did not answer for a while). Requests in
// flight that time out together once (a client stall, a server's GC pause)
// never make a host unresponsive.
//
// The tasks of an unresponsive host fail at once, for good, without a
// request, but for one task at a time that tries it again: backoff.base
// after it became unresponsive, then twice as long after each try that got
// no answer, up to backoff.max, so that a short outage is over for the crawl
// soon after it is over for the host, and a dead host gets a request every
// backoff.max. Any answer, whatever its status, makes it responsive again.
//
// Every request counts (pages, robots.txt and tasks: the wire reports each
// one's end); only tasks fail at once (the handler asks admit before it
// sends one): a listing page keeps its retries. Entries are kept only for
// the hosts that missed a request lately (until their misses weigh less than
// missesForgotten), at most maxSilent of them, so the memory does not grow
// with the hosts seen; while none is kept, a request costs an atomic load.
type silences struct {
	after   int               // limits.unresponsive_after; 0 = never
	backoff Backoff           // limits.backoff: when an unresponsive host is tried again
	hosts   map[string]Limits // the hosts whose own unresponsive_after or backoff differs, keyed as Config.Hosts
	now     func() time.Time
	// answers is how many answers (a success or a throttle: the
	// limiter's count, its robots.txt's included) the host key got before,
	// asked when a host first misses a request; nil: none known.
	answers func(key string) int64
	log     *zap.Logger
	tracked atomic.Int64 // len(byKey)

	mu    sync.Mutex
	byKey map[string]*silence
}

// silence is a host's recent history and its requests in a row without an
// answer.
type silence struct {
	answered, missed float64       // its requests before the run, each weighing historyDecay times the next
	lastAnswer       time.Time     // zero: it has not answered since its entry was made, nor before as far as is known
	made             time.Time     // set when it had answered before its entry was made, at an unknown time
	run              int           // misses in a row of requests sent since lastAnswer
	first            time.Time     // when the first of them failed
	events           int           // of the run: misses of requests sent after the last event began, one per burst
	eventAt          time.Time     // when the run's last event began (its first miss failed)
	slow             bool          // one of them took half its timeout or more (not a refusal)
	down             bool          // unresponsive: its requests fail without being sent
	wait             time.Duration // down: from its last unanswered request to its next try
	probeAt          time.Time     // down: when one request may go to try it again
	probing          bool          // down: that request is under way
	start            bool          // made by a miss of its robots.txt when the host had answered nothing (the limiter's count), and has answered only its robots.txt since
}

const (
	// historyDecay is how much less a host's request counts in its history
	// than the one after it: its last ~100 requests count.
	historyDecay = 0.99
	// historyCap is the most a history holds, all its requests weighed.
	historyCap = 1 / (1 - historyDecay)
	// unlikelyRun is the chance below which a run of misses is too long for
	// a host that answered as often as its history says.
	unlikelyRun = 1e-4
	// maxMissShare bounds the share of misses the run is judged against:
	// a host that answers half of its requests or fewer is held
	// unresponsive after 14 in a row at most.
	maxMissShare = 0.5
	// missesForgotten is the weight of misses below which a host that
	// answers is no longer kept.
	missesForgotten = 0.05
)

// record adds a request that ended before the current run to the history.
func (e *silence) record(answered bool) {
	e.answered *= historyDecay
	e.missed *= historyDecay
	if answered {
		e.answered++
	} else {
		e.missed++
	}
}

// endRun adds the run of misses that an answer ended to the history, then
// the answer. A run of a host's first request, its robots.txt, before it had
// answered anything (start) is left out: a robots.txt that timed out while
// the crawl started hundreds of hosts at once tells of the crawl's start
// more than of how often the host leaves requests unanswered, and a history
// holding that one miss among the few answers of its robots.txt would ask a
// host that then answers nothing for a longer run, in as many bursts, than
// its tasks' attempts last.
func (e *silence) endRun() {
	if e.start && e.lastAnswer.IsZero() {
		e.run = 0
	}
	d := math.Pow(historyDecay, float64(e.run))
	e.answered *= d
	e.missed = e.missed*d + (1-d)*historyCap
	e.run = 0
	e.record(true)
}

// runNeeded is the misses in a row that make the host unresponsive: after,
// or as many as a host missing the history's share of requests would give
// less than once in 1/unlikelyRun runs.
func (e *silence) runNeeded(after int) int {
	if e.missed == 0 {
		return after
	}
	share := min(maxMissShare, e.missed/(e.answered+e.missed))
	return max(after, int(math.Ceil(math.Log(unlikelyRun)/math.Log(share)-1e-9)))
}

// maxSilent bounds the hosts a crawl keeps counts for, as the limiter
// bounds the hosts it keeps.
const maxSilent = limiter.DefaultMaxHosts

// newSilences returns the tracker for cfg, or nil when no host is ever held
// to be unresponsive (unresponsive_after 0 everywhere).
func newSilences(cfg *Config, now func() time.Time, answers func(key string) int64, log *zap.Logger) *silences {
	s := &silences{after: cfg.Limits.UnresponsiveAfter, backoff: cfg.Limits.Backoff, now: now, answers: answers, log: log,
		byKey: map[string]*silence{}}
	on := s.after > 0
	for h, l := range cfg.Hosts {
		if l.UnresponsiveAfter > 0 {
			on = true
		}
		if l.UnresponsiveAfter != cfg.Limits.UnresponsiveAfter || l.Backoff != cfg.Limits.Backoff {
			if s.hosts == nil {
				s.hosts = map[string]Limits{}
			}
			s.hosts[h] = l
		}
	}
	if !on {
		return nil
	}
	return s
}

// limits are the unresponsive_after and backoff of the host key.
func (s *silences) limits(key string) (after int, backoff Backoff) {
	if l, ok := byHostKey(s.hosts, key); ok {
		return l.UnresponsiveAfter, l.Backoff
	}
	return s.after, s.backoff
}

// admit says whether a task may be sent to the host key: a permanent error
// when the host is unresponsive, unless this task is to try it again, which
// probe then says; the caller calls probed when the task's request ends.
func (s *silences) admit(key string) (probe bool, err error) {
	if s == nil || s.tracked.Load() == 0 {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byKey[key]
	if e == nil || !e.down {
		return false, nil
	}
	if !e.probing && !s.now().Before(e.probeAt) {
		e.probing = true
		return true, nil
	}
	return false, refusal(key, e)
}

// refusal is the permanent error of a request not sent to the host key,
// unresponsive as e says.
func refusal(key string, e *silence) error {
	return engine.Permanent(fmt.Errorf("%w: %s: its last %d requests got no answer (timeout or failed connection)",
		errUnresponsive, key, e.run))
}

// down returns the refusal of a request to the host key when the host is
// unresponsive, else nil.
func (s *silences) down(key string) error {
	if s == nil || s.tracked.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byKey[key]; e != nil && e.down {
		return refusal(key, e)
	}
	return nil
}

// giveUp makes the host key unresponsive now if its last request got no
// answer (its robots.txt got none after all its attempts), and returns the
// refusal of its requests; nil when it answered last, or is never held to be
// unresponsive.
func (s *silences) giveUp(key string) error {
	return s.giveUpIf(key, func(e *silence, _ int) bool { return e.run > 0 })
}

// giveUpOnLast is giveUp for a task whose last attempt got no answer: the
// host is made unresponsive if its last requests got none, as many in a row
// as make it so, each failing at once (a refused or reset connection), however
// short the time they span. Requests that time out together (a burst queued
// behind hung ones) still need the time the rule asks. Else the task fails
// with its own error.
func (s *silences) giveUpOnLast(key string) error {
	return s.giveUpIf(key, func(e *silence, after int) bool { return e.run > 0 && !e.slow && e.run >= e.runNeeded(after) })
}

// giveUpIf makes the host key unresponsive now if enough says so of its
// entry and unresponsive_after, and returns the refusal of its requests;
// nil otherwise.
func (s *silences) giveUpIf(key string, enough func(e *silence, after int) bool) error {
	if s == nil {
		return nil
	}
	after, backoff := s.limits(key)
	if after == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byKey[key]
	if e == nil || !enough(e, after) {
		return nil
	}
	if !e.down {
		e.down, e.wait, e.probeAt = true, backoff.Base, s.now().Add(backoff.Base)
		s.log.Warn("host unresponsive: its tasks fail without a request until it answers again",
			zap.String("host", key), zap.Int("requests_unanswered", e.run))
	}
	return refusal(key, e)
}

// missesToGo is how many more requests without an answer make the host key
// unresponsive, when its last requests got none and nothing is known of an
// answer before them; 0 otherwise.
func (s *silences) missesToGo(key string) int {
	if s == nil || s.tracked.Load() == 0 {
		return 0
	}
	after, _ := s.limits(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byKey[key]
	if e == nil || e.run == 0 || e.answered > 0 || !e.lastAnswer.IsZero() || !e.made.IsZero() {
		return 0
	}
	return max(0, e.runNeeded(after)-e.run)
}

// probeKey marks the context of the task admit let through to try an
// unresponsive host again.
type probeKey struct{}

// withProbe marks ctx as the context of a task that tries its host again.
func withProbe(ctx context.Context) context.Context { return context.WithValue(ctx, probeKey{}, true) }

// isProbe reports whether ctx is a task's that tries its host again.
func isProbe(ctx context.Context) bool { return ctx.Value(probeKey{}) != nil }

// probed says that the task admit let through to try the host key again
// has ended (its answer or failure already recorded): another may go in time.
func (s *silences) probed(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.byKey[key]; e != nil {
		e.probing = false
	}
}

// answered records that req got an answer.
func (s *silences) answered(req *http.Request) {
	if s == nil || s.tracked.Load() == 0 {
		return
	}
	key := transport.HostKey(req)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byKey[key]
	if e == nil {
		return
	}
	if e.down {
		s.log.Info("host answers again", zap.String("host", key))
	}
	e.endRun()
	e.lastAnswer, e.down, e.wait, e.probeAt = now, false, 0, time.Time{}
	// Until it answers more than its robots.txt, the entry of a host whose
	// robots.txt missed at its start is kept: its next misses are judged from
	// its answer, not from the limiter's count of answers (which holds every
	// robots.txt tried together).
	e.start = e.start && req.URL.Path == "/robots.txt"
	if e.missed < missesForgotten && !e.start {
		delete(s.byKey, key)
		s.tracked.Add(-1)
	}
}

// unanswered records that req, sent at sent with the timeout timeout, got
// no answer.
func (s *silences) unanswered(req *http.Request, sent time.Time, timeout time.Duration) {
	if s == nil {
		return
	}
	key := transport.HostKey(req)
	after, backoff := s.limits(key)
	if after == 0 {
		return
	}
	now := s.now()
	var answers int64
	if s.answers != nil {
		answers = s.answers(key) // before the lock: it takes the limiter host's
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byKey[key]
	fresh := e == nil
	if fresh {
		s.makeRoom()
		e = &silence{start: answers == 0 && req.URL.Path == "/robots.txt"}
		if answers > 1 {
			// It answered more than its robots.txt before, when is not
			// known: the requests in flight now may have been sent
			// before or after, and count in neither the run nor the
			// history.
			e.answered, e.lastAnswer, e.made = min(float64(answers), historyCap), now, now
		}
		s.byKey[key] = e
		s.tracked.Add(1)
	}
	switch {
	case sent.Before(e.made):
		if fresh {
			e.record(false)
		}
		return
	case sent.Before(e.lastAnswer):
		e.record(false)
		return
	}
	if e.run == 0 {
		e.first, e.slow, e.events = now, false, 0
	}
	e.run++
	e.slow = e.slow || now.Sub(sent) >= timeout/2
	if e.events == 0 || !sent.Before(e.eventAt) {
		e.events, e.eventAt = e.events+1, now
	}
	if need := e.runNeeded(after); e.run < need || now.Sub(e.first) < timeout || need > after && e.events < need {
		return
	}
	if e.down {
		e.wait = min(2*e.wait, backoff.Max)
	} else {
		e.down, e.wait = true, backoff.Base
		s.log.Warn("host unresponsive: its tasks fail without a request until it answers again",
			zap.String("host", key), zap.Int("requests_unanswered", e.run))
	}
	e.probeAt = now.Add(e.wait)
}

// makeRoom forgets a host, when maxSilent are kept: one that is not
// unresponsive if one of the first few looked at is not. s.mu is held.
func (s *silences) makeRoom() {
	if len(s.byKey) < maxSilent {
		return
	}
	victim, looked := "", 0
	for k, e := range s.byKey {
		victim = k
		if looked++; !e.down || looked >= 8 {
			break
		}
	}
	delete(s.byKey, victim)
	s.tracked.Add(-1)
}
