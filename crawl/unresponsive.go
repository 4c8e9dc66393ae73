package crawl

import (
	"errors"
	"fmt"
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
// A host whose last limits.unresponsive_after requests got no answer at all
// (a timeout, a refused or reset connection), over at least its
// limits.timeout from the first of them failing, is unresponsive: its tasks fail at once, for good,
// without a request, but for one task at a time that tries it again:
// backoff.base after it became unresponsive, then twice as long after each
// try that got no answer, up to backoff.max, so that a short outage is over
// for the crawl soon after it is over for the host, and a dead host gets a
// request every backoff.max. Any answer, whatever its status, makes it
// responsive again and clears its count, so a host that answers now and
// then is never held to be unresponsive, nor one whose requests in flight
// time out together once (a request that times out a timeout after the
// first was sent after it failed).
//
// Every request counts (pages, robots.txt and tasks: the wire reports each
// one's end); only tasks fail at once (the handler asks admit before it
// sends one): a listing page keeps its retries. Entries are kept only for
// the hosts whose last request got no answer, at most maxSilent of them, so
// the memory does not grow with the hosts seen; while none is kept, a
// request costs an atomic load.
type silences struct {
	after   int               // limits.unresponsive_after; 0 = never
	backoff Backoff           // limits.backoff: when an unresponsive host is tried again
	hosts   map[string]Limits // the hosts whose own unresponsive_after or backoff differs, keyed as Config.Hosts
	now     func() time.Time
	log     *zap.Logger
	tracked atomic.Int64 // len(byKey)

	mu    sync.Mutex
	byKey map[string]*silence
}

// silence is a host's requests in a row without an answer.
type silence struct {
	misses  int
	first   time.Time     // when the first of them failed
	down    bool          // unresponsive: its requests fail without being sent
	wait    time.Duration // down: from its last unanswered request to its next try
	probeAt time.Time     // down: when one request may go to try it again
	probing bool          // down: that request is under way
}

// maxSilent bounds the hosts a crawl keeps counts for, as the limiter
// bounds the hosts it keeps.
const maxSilent = limiter.DefaultMaxHosts

// newSilences returns the tracker for cfg, or nil when no host is ever held
// to be unresponsive (unresponsive_after 0 everywhere).
func newSilences(cfg *Config, now func() time.Time, log *zap.Logger) *silences {
	s := &silences{after: cfg.Limits.UnresponsiveAfter, backoff: cfg.Limits.Backoff, now: now, log: log,
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
	return false, engine.Permanent(fmt.Errorf("%w: %s: its last %d requests got no answer (timeout or failed connection)",
		errUnresponsive, key, e.misses))
}

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
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byKey[key]
	if e == nil {
		return
	}
	if e.down {
		s.log.Info("host answers again", zap.String("host", key))
	}
	delete(s.byKey, key)
	s.tracked.Add(-1)
}

// unanswered records that req, whose timeout was timeout, got no answer.
func (s *silences) unanswered(req *http.Request, timeout time.Duration) {
	if s == nil {
		return
	}
	key := transport.HostKey(req)
	after, backoff := s.limits(key)
	if after == 0 {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byKey[key]
	if e == nil {
		s.makeRoom()
		e = &silence{first: now}
		s.byKey[key] = e
		s.tracked.Add(1)
	}
	e.misses++
	if e.misses < after || now.Sub(e.first) < timeout {
		return
	}
	if e.down {
		e.wait = min(2*e.wait, backoff.Max)
	} else {
		e.down, e.wait = true, backoff.Base
		s.log.Warn("host unresponsive: its tasks fail without a request until it answers again",
			zap.String("host", key), zap.Int("requests_unanswered", e.misses))
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
