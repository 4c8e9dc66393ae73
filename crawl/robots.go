package crawl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/temoto/robotstxt"
	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// errDisallowed marks an item robots.txt forbids; it is never requested.
var errDisallowed = engine.Permanent(errors.New("disallowed by robots.txt"))

// robots fetches each origin's robots.txt through the crawl's client, and
// so through the host's limits, and answers whether a URL may be fetched.
// Crawl-delay lowers the host's rate ceiling. The rules are kept for at most
// robotsTTL, then fetched again (RFC 9309 section 2.4).
//
// What an answer means (RFC 9309 section 2.3.1): 2xx is parsed; any other
// 4xx, and a redirect that cannot be followed (a loop, more than 10 hops),
// means there are no rules (allow all); a 5xx, or no answer at all, after
// the crawl's retries, means the site is unreachable and everything on it is
// disallowed. A robots.txt that cannot be parsed is treated as absent, with a
// warning. The request never carries the config's headers.
//
// A host that is unresponsive (see silences) is unreachable too, for as long
// as it is: its robots.txt is not retried once the host is, nor fetched but
// by the task that tries the host again, and a request waiting for its rules
// fails as the host's tasks do, for good; no rules are kept, so they are
// fetched when the host answers again. A robots.txt whose last attempt got
// no answer at all (a refused connection as much as a timeout) makes its host
// unresponsive at once. When robots.txt's first attempt got no answer from a
// host that has answered nothing yet, the attempts that would make it
// unresponsive (limits.unresponsive_after, within its retries) go together,
// each with its timeout, and the first answer is used: a dead host costs
// the crawl two timeouts, not one per attempt, and a host that leaves some
// requests hanging is as likely as before to answer one of them.
type robots struct {
	fetch   *fetcher
	retrier *retrier
	silent  *silences // nil when no host is ever unresponsive
	lim     *limiter.Limiter
	agent   string
	rate    float64 // limits.rate, the ceiling a Crawl-delay may only lower
	log     *zap.Logger
	now     func() time.Time // the clock of the rules' age

	mu      sync.Mutex
	origins map[originKey]*origin
	max     int         // the origins kept; 0 means maxOrigins
	ring    []originKey // the origins kept, for the sweep that forgets them
	hand    int
	// last is the origin asked for last, found without the lock: a crawl
	// asks for the same origin item after item. It is set under mu with
	// each origin that is looked up, so it is never one that was forgotten.
	last atomic.Pointer[origin]
}

// maxOrigins is how many origins' rules a crawl keeps by default, as many
// as the limiter keeps hosts: beyond it each new origin forgets one not
// used since the sweep last passed it (or, after 8 tries, the one under
// the hand), so a crawl over any number of hosts holds a bounded number of
// rules. A forgotten origin's robots.txt is fetched again if it comes back.
const maxOrigins = limiter.DefaultMaxHosts

// robotsTTL is how long a robots.txt is used before it is fetched again:
// RFC 9309 asks crawlers not to keep one longer than 24 hours.
const robotsTTL = 24 * time.Hour

// originKey is a scheme and host:port.
type originKey struct{ scheme, host string }

// origin is one scheme://host:port's rules; mu is held while they are
// fetched so that concurrent tasks wait for the one fetch, and rules are
// read without it.
type origin struct {
	key   originKey
	mu    sync.Mutex
	rules atomic.Pointer[rules] // nil until the rules are known
	used  atomic.Bool           // asked for since the sweep last passed it
}

// rules are an origin's robots.txt as fetched at a time, with the group
// that applies to the crawl's user agent (nil: everything is disallowed).
type rules struct {
	fetched time.Time
	group   *robotstxt.Group
	// unreachable is why the robots.txt could not be had (its attempts'
	// last error), which disallows the whole host; nil when it answered.
	unreachable error
}

// disallowAll is the rules robotstxt gives a robots.txt that answered 5xx:
// nothing may be fetched, whatever the group.
var disallowAll, _ = robotstxt.FromStatusAndBytes(http.StatusServiceUnavailable, nil)

// newRules are data's rules for agent, fetched at fetched: what
// data.TestAgent(path, agent) would answer for every path, with the group
// found once.
func newRules(fetched time.Time, data *robotstxt.RobotsData, agent string) *rules {
	rl := &rules{fetched: fetched}
	if data != disallowAll {
		rl.group = data.FindGroup(agent)
	}
	return rl
}

// allows reports whether the rules allow the request URI path.
func (rl *rules) allows(path string) bool { return rl.group != nil && rl.group.Test(path) }

// allowed reports whether u may be fetched, fetching its robots.txt first if
// needed. An error means ctx ended before the rules were known, that u's
// host is unresponsive (a permanent error wrapping errUnresponsive), or
// that its certificate failed verification (permanent: see untrusted).
func (r *robots) allowed(ctx context.Context, u *url.URL) (bool, error) {
	key := originKey{u.Scheme, u.Host}
	o := r.last.Load()
	if o == nil || o.key != key {
		r.mu.Lock()
		if o = r.origins[key]; o == nil {
			o = &origin{key: key}
			r.keepLocked(key, o)
		}
		r.last.Store(o)
		r.mu.Unlock()
	}
	if !o.used.Load() {
		o.used.Store(true)
	}

	rl := o.rules.Load()
	if rl == nil || r.now().Sub(rl.fetched) >= robotsTTL {
		var err error
		if rl, err = r.fetchRules(ctx, o, u); err != nil {
			return false, err
		}
	}
	if rl.unreachable != nil && untrusted(rl.unreachable) {
		// No rule of the site's: its certificate failed verification, and
		// so would any request to it.
		return false, engine.Permanent(rl.unreachable)
	}
	return rl.allows(u.RequestURI()), nil
}

// keepLocked adds o, the origin of key, forgetting another beyond the
// maximum. r.mu is held.
func (r *robots) keepLocked(key originKey, o *origin) {
	r.origins[key] = o
	if len(r.ring) < cmp.Or(r.max, maxOrigins) {
		r.ring = append(r.ring, key)
		return
	}
	for tries := 0; ; tries++ {
		r.hand %= len(r.ring)
		old := r.origins[r.ring[r.hand]]
		if tries < 8 && old.used.Load() {
			old.used.Store(false)
			r.hand++
			continue
		}
		delete(r.origins, r.ring[r.hand])
		r.ring[r.hand] = key
		r.hand++
		return
	}
}

// fetchRules fetches the rules of o, u's origin, unless another task did
// while this one waited for them.
func (r *robots) fetchRules(ctx context.Context, o *origin, u *url.URL) (*rules, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := r.now()
	if rl := o.rules.Load(); rl != nil && now.Sub(rl.fetched) < robotsTTL {
		return rl, nil
	}
	data, unreachable, err := r.load(ctx, u)
	if err != nil {
		return nil, err
	}
	rl := newRules(now, data, r.agent)
	rl.unreachable = unreachable
	o.rules.Store(rl)
	return rl, nil
}

// unreachable is why the robots.txt of u's origin could not be had, if its
// rules are known and it could not (they then disallow the whole host).
func (r *robots) unreachable(u *url.URL) error {
	r.mu.Lock()
	o := r.origins[originKey{u.Scheme, u.Host}]
	r.mu.Unlock()
	if o == nil {
		return nil
	}
	if rl := o.rules.Load(); rl != nil {
		return rl.unreachable
	}
	return nil
}

// load fetches and parses the robots.txt of u's origin and applies its
// Crawl-delay. unreachable is the last attempt's error when it could not be
// had (the rules then disallow everything).
func (r *robots) load(ctx context.Context, u *url.URL) (data *robotstxt.RobotsData, unreachable, err error) {
	key := hostKey(u)
	if err := r.silent.down(key); err != nil && !isProbe(ctx) {
		return nil, nil, err
	}
	robotsURL := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/robots.txt"}).String()
	var got robotsAnswer
	tries, most := 0, max(1, r.retrier.retry.MaxAttempts)
	var failedAt time.Time // the first failure's that was no throttle
	patience := r.retrier.retry.Max
	err = r.retrier.doPatiently(ctx, patience, func(ctx context.Context) error {
		if err := r.silent.down(key); err != nil && tries > 0 {
			return err // its next try is a task's
		}
		n := 1
		if tries > 0 {
			// Those that would make a host that never answered unresponsive, at once.
			n = max(1, min(most-tries, r.silent.missesToGo(key)))
			r.retrier.retries.Add(int64(n - 1))
		}
		tries++
		var err error
		got, err = r.fetchTogether(ctx, robotsURL, n)
		tries += n - 1
		switch {
		case err == nil:
			return nil
		case errors.Is(err, limiter.ErrThrottled):
			// A throttle spends no attempt, as an item's does not: the
			// host is asked again when it says, for up to the policy's
			// MaxThrottledFor (see engine.Retry.Do), and its items wait.
			tries -= n
			return err
		case failedAt.IsZero():
			failedAt = r.retrier.clock.Now()
		}
		if tries >= most && !(answered(err) && r.retrier.clock.Since(failedAt) < patience) {
			return engine.Permanent(err) // no attempt is left
		}
		return err
	})
	status, body := got.status, got.body
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("robots.txt of %s: %w", u.Host, ctx.Err())
	}
	if err != nil {
		if derr := r.silent.giveUp(key); derr != nil {
			return nil, nil, derr
		}
		r.log.Warn("robots.txt unreachable: disallowing the whole host (RFC 9309)",
			zap.String("host", u.Host), zap.Error(err))
		status, unreachable = http.StatusServiceUnavailable, err
	}
	data, err = robotstxt.FromStatusAndBytes(status, body)
	if err != nil {
		r.log.Warn("robots.txt cannot be parsed: no rules applied", zap.String("host", u.Host), zap.Error(err))
		data, _ = robotstxt.FromStatusAndBytes(http.StatusNotFound, nil)
	}
	if g := data.FindGroup(r.agent); g != nil && g.CrawlDelay > 0 {
		rate := 1 / g.CrawlDelay.Seconds()
		if r.rate == 0 || rate < r.rate {
			r.lim.Host(transport.HostKey(&http.Request{URL: u})).SetCeiling(rate)
			r.log.Info("robots.txt Crawl-delay lowers the rate ceiling",
				zap.String("host", u.Host), zap.Duration("crawl_delay", g.CrawlDelay), zap.Float64("rate", rate))
		}
	}
	return data, unreachable, nil
}

// answered reports whether err is a robots.txt's answer to retry (a 5xx, a
// 429): its host answers, and a robots.txt that fails for a while (a
// deploy, a storm of errors) is worth waiting for, like a listing page
// (see retrier.doPatiently), rather than disallowing the whole host. A
// host that does not answer at all has the unresponsive rule instead.
func answered(err error) bool {
	var se *transport.StatusError
	return errors.As(err, &se)
}

// robotsAnswer is what a robots.txt's request was answered: the status whose
// rules apply and the body.
type robotsAnswer struct {
	status int
	body   []byte
}

// fetchOnce sends one request for robotsURL: an error when it got no
// answer, or one to retry (a 5xx); a status that means no rules (a 4xx, a
// redirect that cannot be followed) is an answer.
func (r *robots) fetchOnce(ctx context.Context, robotsURL string) (robotsAnswer, error) {
	// Answered at once, robots.txt says nothing about the work's latency.
	resp, err := r.fetch.getRobots(transport.Prerequisite(ctx), robotsURL)
	var se *transport.StatusError
	switch {
	case err == nil:
		return robotsAnswer{resp.status, resp.body}, nil
	case errors.As(err, &se) && se.Code < 500 && !se.Temporary():
		return robotsAnswer{status: se.Code}, nil // no rules: checked by the caller without retrying
	case unfollowable(err):
		return robotsAnswer{status: http.StatusNotFound}, nil // unavailable: no rules
	}
	return robotsAnswer{}, err
}

// fetchTogether sends n requests for robotsURL at once (one, unless its
// host never answered: see robots.load) and returns the first answer; the
// others are then cancelled. Without one it returns the last error.
func (r *robots) fetchTogether(ctx context.Context, robotsURL string, n int) (robotsAnswer, error) {
	if n == 1 {
		return r.fetchOnce(ctx, robotsURL)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		got robotsAnswer
		err error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			got, err := r.fetchOnce(ctx, robotsURL)
			results <- result{got, err}
		})
	}
	defer wg.Wait()
	var last error
	for range n {
		res := <-results
		if res.err == nil {
			return res.got, nil // the deferred cancel ends the others
		}
		last = res.err
	}
	return robotsAnswer{}, last
}
