package crawl

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// Telling a listing limited apart from its items.
const (
	apartAnswers = 2               // items' answers on the listing's host that show another limit, none showing the listing's
	settleWait   = 2 * time.Second // the most the listing waits in all for the items to tell (see settle)
)

// What is known of the listing's rate limit (apartWatch.state).
const (
	listingUndecided int32 = iota // the listing's answers are its host's, as any request's
	listingShared                 // an item answered with the listing's quota: they share it, for good
	listingOwn                    // items answered without it: the listing is limited apart, for good
)

// apartWatch tells a listing endpoint limited apart from the items'
// requests to its host (an API whose search or list endpoint has a rate
// limit of its own, as GitHub's search) from one that shares the host's
// quota with them, the common case. Until it knows, the listing's answers
// are the host's like any request's (their quota headers pace the host,
// their refusals teach it): they are the first a host hears of a shared
// quota. It watches the items' answers on the listing's host once the
// listing announced a quota: one that carries the listing's quota (its
// Limit and Window) shows a shared quota, for good; apartAnswers that carry
// none, or one of other numbers, and none the listing's, show that the
// listing's limit is its own. Then the listing's quota and what its
// refusals taught are lifted from the host, and the listing is paced apart
// (see listingPace, transport.PacedApart). A listing that announces no
// quota stays its host's. Make one with newApartWatch; a nil *apartWatch
// watches nothing.
type apartWatch struct {
	lim   *limiter.Limiter
	log   *zap.Logger
	clock clockwork.Clock

	state   atomic.Int32           // listingUndecided, listingShared or listingOwn
	known   atomic.Bool            // whether the listing announced a quota
	host    atomic.Pointer[string] // the listing's host key, once a page was answered
	pending atomic.Bool            // an item of the listing's host was listed
	decided chan struct{}          // closed when state leaves listingUndecided
	waited  time.Duration          // the listing's waits for the items to tell, in all (settle's goroutine only)

	mu    sync.Mutex
	quota limiter.Quota // the listing's last announced quota
	other int           // items' answers that showed another limit

	// Without quota headers (see waitless): the listing's pages refused
	// with a wait, the items' answers admitted on its host since the first
	// of them, and whether an item of its host was ever refused so.
	pagesRefused int
	itemsOK      int
	itemRefused  bool
}

// listingKey marks a listing page's request (see asListing).
type listingKey struct{}

// asListing marks ctx's requests as the listing's pages.
func asListing(ctx context.Context) context.Context {
	return context.WithValue(ctx, listingKey{}, true)
}

func isListing(ctx context.Context) bool {
	v, _ := ctx.Value(listingKey{}).(bool)
	return v
}

// newApartWatch returns a watch that lifts the listing's quota from its
// host in lim once it tells the listing is limited apart.
func newApartWatch(lim *limiter.Limiter, log *zap.Logger, clock clockwork.Clock) *apartWatch {
	return &apartWatch{lim: lim, log: log, clock: clock, decided: make(chan struct{})}
}

// apart reports whether the listing is known to be limited apart from its
// host's items.
func (a *apartWatch) apart() bool {
	return a != nil && a.state.Load() == listingOwn
}

// answered notes the answer resp to req, as the wire saw it (before the
// transport applied it to the host).
func (a *apartWatch) answered(req *http.Request, resp *http.Response) {
	if a == nil || a.state.Load() != listingUndecided {
		return
	}
	now := a.clock.Now()
	if isListing(req.Context()) {
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return // a redirect hop's: the page is where it leads
		}
		q, ok, err := transport.ParseQuota(resp.Header, now)
		key := transport.HostKey(req)
		a.mu.Lock()
		if h := a.host.Load(); h == nil || *h != key {
			a.host.Store(&key)
		}
		if ok && err == nil {
			a.quota = q
			a.known.Store(true)
		} else if refusedWithWait(resp) && a.state.Load() == listingUndecided {
			a.pagesRefused++
			a.tellWaitless(key)
		}
		a.mu.Unlock()
		return
	}
	if req.URL.Path == "/robots.txt" {
		return
	}
	key := transport.HostKey(req)
	a.mu.Lock()
	defer a.mu.Unlock()
	if h := a.host.Load(); h == nil || *h != key || a.state.Load() != listingUndecided {
		return
	}
	if !a.known.Load() {
		a.waitless(key, resp)
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return // a refusal says nothing of which limit admits the items
	}
	q, ok, err := transport.ParseQuota(resp.Header, now)
	if ok && err == nil && sameLimit(q, a.quota) {
		a.decide(listingShared)
		return
	}
	if a.other++; a.other < apartAnswers {
		return
	}
	a.decide(listingOwn)
	// Lift the listing's quota, and the rate its refusals taught, from
	// the host: the items' own answers and refusals pace it from now on.
	a.lim.Host(key).SetQuota(limiter.Quota{})
	a.log.Info("the listing's rate limit is its own: the items' answers on its host carry another; the listing is paced apart",
		zap.String("host", key))
}

// waitless watches, where the listing announces no quota, an item's answer
// resp on the listing's host key: the listing's pages refused with a wait
// (a 429, or a Retry-After) twice, while no item of the host was ever
// refused so and apartAnswers items were admitted since the first of those
// refusals, show a listing limited apart (a search endpoint's own rate, far
// under the items'). A shared limit that refuses a page refuses the items
// that come as its bucket empties too: a page is one request of the
// host's in a hundred. The rate the pages' refusals taught the host is
// dropped, and the listing is paced apart. mu is held.
func (a *apartWatch) waitless(key string, resp *http.Response) {
	switch {
	case refusedWithWait(resp):
		a.itemRefused = true
		return
	case resp.StatusCode < 200 || resp.StatusCode > 299 || a.pagesRefused == 0:
		return
	}
	a.itemsOK++
	a.tellWaitless(key)
}

// tellWaitless decides the listing on host key limited apart where
// waitless's signs are all in. mu is held.
func (a *apartWatch) tellWaitless(key string) {
	if a.known.Load() || a.itemRefused || a.pagesRefused < 2 || a.itemsOK < apartAnswers {
		return
	}
	a.decide(listingOwn)
	a.lim.Host(key).ForgetRate()
	a.log.Info("the listing's rate limit is its own: its pages were refused while the items on its host were admitted; the listing is paced apart",
		zap.String("host", key))
}

// refusedWithWait reports whether resp refuses its request for a while: a
// 429, or a 403 or 503 that names a Retry-After.
func refusedWithWait(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true
	case http.StatusForbidden, http.StatusServiceUnavailable:
		return resp.Header.Get("Retry-After") != ""
	}
	return false
}

// sameLimit reports whether q and l name the same limit: the same Limit
// and Window where both tell them.
func sameLimit(q, l limiter.Quota) bool {
	if q.Limit > 0 && l.Limit > 0 && q.Limit != l.Limit {
		return false
	}
	return q.Window == 0 || l.Window == 0 || q.Window == l.Window
}

// decide sets the state, once. mu is held.
func (a *apartWatch) decide(state int32) {
	a.state.Store(state)
	close(a.decided)
}

// listed notes an item whose request goes to the host key.
func (a *apartWatch) listed(key string) {
	if a == nil || a.pending.Load() || a.state.Load() != listingUndecided {
		return
	}
	if h := a.host.Load(); h != nil && *h == key {
		a.pending.Store(true)
	}
}

// settle waits, before the listing's next page, while the items listed on
// its host may still tell whether the listing is limited apart: its host
// paces the listing and the items alike until they tell, so the listing's
// pages, waiting in line for each token, would otherwise take every one
// the listing's own quota allows and no item would be answered. It waits
// settleWait at most in all, and not at all for a listing that announced
// no quota or whose host has no items.
func (a *apartWatch) settle(ctx context.Context) error {
	if a == nil || a.state.Load() != listingUndecided || !a.known.Load() || !a.pending.Load() || a.waited >= settleWait {
		return nil
	}
	start := a.clock.Now()
	t := a.clock.NewTimer(settleWait - a.waited)
	defer t.Stop()
	defer func() { a.waited += a.clock.Since(start) }()
	select {
	case <-a.decided:
		return nil
	case <-t.Chan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
