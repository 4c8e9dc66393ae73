package crawl

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// Pacing a listing whose endpoint has a rate limit of its own.
const (
	paceProbeStart = 2.0  // a probe starts at this many times what the endpoint admitted over its first refusal and gate
	paceProbeStep  = 1.25 // and grows this much at each page it admitted while the pace held the listing back
	paceMargin     = 0.95 // the rate paced at, relative to the lowest that admits the pages the endpoint admitted
	paceRefused    = 0.92 // or, where those bound nothing, to the highest that refuses the page it refused
	paceBurstSpan  = time.Second
	paceFirstGate  = time.Second // the least wait counted for a first refusal (one without a Retry-After)
	paceFloor      = 0.01        // the slowest pace, in pages per second
	paceRecord     = 256         // the requests a record keeps: the later half once full
)

// listingPace paces the listing's requests once its endpoint is known to
// be limited apart from its host's other requests (see apartWatch): an API
// may limit its listing or search endpoint apart from the items' (GitHub's
// search, for one). Until then the host paces the listing with the items.
// Then the listing's requests are sent PacedApart, so that a refusal of
// theirs (a 429, a throttling 403) closes the host's gate until its
// Retry-After, as the server asked, but does not teach the host a rate that
// would pace the items' requests too. They are paced here at the rate
// their announced quota allows, or the rate learnt from their own refusals,
// which go one at a time: the server is taken for a token bucket, the first
// refusal bounds its burst (the pages admitted over the second before it)
// and starts a probe (twice what was admitted over the refusal's episode
// and its gate) that grows at each page admitted while the pace held the
// listing back; the next refusal ends the probe at the rate that fits the
// pages sent since the refusal before. A listing whose endpoint never
// refuses and announces no quota is never paced.
type listingPace struct {
	clock clockwork.Clock
	watch *apartWatch // whether the listing is limited apart

	mu       sync.Mutex
	rate     float64     // pages per second learnt from refusals; 0: none
	quota    float64     // pages per second the endpoint's last announced quota allows; 0: none
	last     time.Time   // the last request's start
	firstAt  time.Time   // the listing's first request's start
	admitted int         // pages admitted before the first refusal
	recent   []time.Time // the starts of those of the last paceBurstSpan
	burst    float64     // the endpoint's, once it refused
	refused  time.Time   // the last refusal's request's start; zero: none yet
	rec      []paceSend  // the requests started since that refusal
	probing  bool
	held     bool // the pace held the last request back
}

// paceSend is a request of the listing: when it started and whether the
// endpoint admitted it.
type paceSend struct {
	at time.Time
	ok bool
}

// newListingPace returns a pace that paces the listing once watch tells
// that its endpoint is limited apart from its host's other requests.
func newListingPace(clock clockwork.Clock, watch *apartWatch) *listingPace {
	return &listingPace{clock: clock, watch: watch}
}

// do calls fn with ctx marked as the listing's and PacedApart. Once the
// listing is known to be limited apart, it waits for the pace first and
// learns from fn's error (nil: admitted); until then the listing's host
// paces it. A nil pace calls fn with ctx marked Auxiliary.
func (p *listingPace) do(ctx context.Context, fn func(context.Context) error) error {
	ctx = asListing(ctx)
	if p == nil {
		return fn(transport.Auxiliary(ctx))
	}
	ctx = transport.PacedApart(ctx, p.watch.apart)
	if !p.watch.apart() {
		if err := p.watch.settle(ctx); err != nil {
			return err
		}
	}
	apart := p.watch.apart()
	if apart {
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
	s := &sentAt{clock: p.clock}
	err := fn(context.WithValue(ctx, sentAtKey{}, s))
	if at := s.get(); !at.IsZero() {
		if apart {
			p.answered(at, err)
		} else {
			p.sent(at)
		}
	}
	return err
}

// sent notes a request of the listing paced by its host, started at at:
// the first paced apart waits its interval after it.
func (p *listingPace) sent(at time.Time) {
	p.mu.Lock()
	p.last = at
	p.mu.Unlock()
}

// wait waits until the pace lets the next request start.
func (p *listingPace) wait(ctx context.Context) error {
	p.mu.Lock()
	var at time.Time
	if r := p.paced(); r > 0 && !p.last.IsZero() {
		at = p.last.Add(time.Duration(float64(time.Second) / r))
	}
	d := at.Sub(p.clock.Now())
	p.held = d > 0
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	tm := p.clock.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.Chan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// paced is the rate the listing is paced at, 0 for none: the lower of the
// rate learnt from refusals and what the announced quota allows.
func (p *listingPace) paced() float64 {
	q := paceMargin * p.quota
	switch {
	case p.rate == 0:
		return q
	case q == 0:
		return p.rate
	}
	return min(p.rate, q)
}

// announced reads the quota headers of an answer the endpoint admitted: a
// quota that tells its limit and window (RateLimit-Policy's q and w) allows
// limit/window on average, whether it is a fixed window, a sliding one or a
// token bucket. One that does not tell both leaves the pace as it is.
func (p *listingPace) announced(h http.Header) {
	if p == nil {
		return
	}
	q, ok, err := transport.ParseQuota(h, p.clock.Now())
	if err != nil || !ok || q.Limit <= 0 || q.Window <= 0 {
		return
	}
	p.mu.Lock()
	p.quota = float64(q.Limit) / q.Window.Seconds()
	p.mu.Unlock()
}

// answered learns from a request started at at that ended with err.
func (p *listingPace) answered(at time.Time, err error) {
	var se *transport.StatusError
	refused := errors.As(err, &se) && se.Throttled
	if err != nil && !refused {
		return // a failure that says nothing of the endpoint's rate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = at
	if p.firstAt.IsZero() {
		p.firstAt = at
	}
	if !refused {
		if p.refused.IsZero() {
			p.admitted++
			i := 0
			for i < len(p.recent) && at.Sub(p.recent[i]) > paceBurstSpan {
				i++
			}
			p.recent = append(p.recent[:copy(p.recent, p.recent[i:])], at)
			return
		}
		if len(p.rec) == paceRecord {
			// Keep the later half, from the start of the last request
			// dropped, taken as a refusal's (the bucket held a token).
			h := paceRecord / 2
			p.refused = p.rec[h-1].at
			p.rec = p.rec[:copy(p.rec, p.rec[h:])]
		}
		p.rec = append(p.rec, paceSend{at: at, ok: true})
		if p.probing && p.held {
			p.rate *= paceProbeStep
		}
		return
	}
	var gate time.Duration
	if ra := (*limiter.RetryAfterError)(nil); errors.As(err, &ra) {
		gate = ra.Until.Sub(at)
	}
	if p.refused.IsZero() {
		p.burst = 0
		for _, t := range p.recent {
			if at.Sub(t) <= paceBurstSpan {
				p.burst++
			}
		}
		p.burst = max(1, p.burst)
		episode := at.Sub(p.firstAt) + max(gate, paceFirstGate)
		p.rate = max(paceFloor, paceProbeStart*float64(max(1, p.admitted))/episode.Seconds())
		p.probing = true
		p.recent = nil
	} else {
		p.rate = max(paceFloor, p.fitted(at))
		p.probing = false
	}
	p.refused, p.rec = at, p.rec[:0]
}

// fitted is the rate to pace at after a refusal of the request started at
// at, from the requests started since the refusal before (rec), with a
// bucket of p.burst taken as holding one token at that refusal.
func (p *listingPace) fitted(at time.Time) float64 {
	sends := append(p.rec, paceSend{at: at})
	oks := 0
	for _, s := range sends {
		if s.ok {
			oks++
		}
	}
	if oks == 0 {
		// Refused at once after the refusal before: its wait was too
		// short for a token at the rate paced at.
		return p.rate / 2
	}
	// tokens is what the bucket holds at the refused request's start at
	// rate r, admitted requests taken; ok whether it admitted them all.
	tokens := func(r float64) (left float64, ok bool) {
		t, from := 1.0, p.refused
		ok = true
		for _, s := range sends {
			t = min(p.burst, t+r*s.at.Sub(from).Seconds())
			from = s.at
			if !s.ok {
				continue
			}
			if t < 1 {
				ok = false
			}
			t--
		}
		return t, ok
	}
	hi := 1.0
	for i := 0; i < 40; i++ {
		if left, ok := tokens(hi); ok && left >= 1 {
			break
		}
		hi *= 2
	}
	// lo: the lowest rate that admits the admitted; up: the highest that
	// refuses the refused one.
	lo := search(0, hi, func(r float64) bool { _, ok := tokens(r); return ok })
	up := search(0, hi, func(r float64) bool { left, _ := tokens(r); return left >= 1 })
	rate := paceMargin * lo
	if lo < up/2 {
		// The admitted pages bound the rate by little (the bucket's
		// burst admits them at any rate): the refused one bounds it
		// from above, and the rate it was refused at by twice.
		rate = paceRefused * up
		if p.rate > 0 {
			rate = min(rate, p.rate/2)
		}
	}
	if !p.probing && p.rate > 0 {
		rate = min(rate, p.rate)
	}
	return rate
}

// search returns the lowest x in [lo, hi], to a thousandth of hi, at which
// ok holds, assuming it holds above some x and not below it.
func search(lo, hi float64, ok func(float64) bool) float64 {
	for hi-lo > hi/1000 {
		mid := (lo + hi) / 2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// sentAt is when a request was handed to the wire (its permit taken), set
// by the wire for a context that carries it under sentAtKey.
type sentAt struct {
	clock clockwork.Clock
	mu    sync.Mutex
	at    time.Time
}

type sentAtKey struct{}

// set notes the first send; a redirect's later hops are not the listing's.
func (s *sentAt) set() {
	s.mu.Lock()
	if s.at.IsZero() {
		s.at = s.clock.Now()
	}
	s.mu.Unlock()
}

func (s *sentAt) get() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at
}

// noteSent tells the sentAt in ctx, if any, that its request is sent.
func noteSent(ctx context.Context) {
	if s, ok := ctx.Value(sentAtKey{}).(*sentAt); ok {
		s.set()
	}
}
