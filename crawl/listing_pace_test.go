package crawl

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/transport"
)

// bucket is a server's token bucket for the listing pace's tests.
type bucket struct {
	rate, burst, tokens float64
	at                  time.Time
}

// take reports whether the bucket admits a request at t.
func (b *bucket) take(t time.Time) bool {
	b.tokens = min(b.burst, b.tokens+b.rate*t.Sub(b.at).Seconds())
	b.at = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// ownWatch is an apartWatch that knows the listing is limited apart.
func ownWatch() *apartWatch {
	w := newApartWatch(nil, zap.NewNop(), clockwork.NewRealClock())
	w.state.Store(listingOwn)
	return w
}

// refused429 is a 429 with a Retry-After until until, as fetcher.get returns it.
func refused429(until time.Time) error {
	return &attemptError{status: http.StatusTooManyRequests,
		err: &limiter.RetryAfterError{Until: until, Err: &transport.StatusError{Code: http.StatusTooManyRequests, Throttled: true}}}
}

// listPages sends pages one at a time to a server that answers in rtt
// through a listing paced by p: a refused page is sent again when its
// Retry-After (the server's wait for a token, rounded up to whole seconds,
// as most servers send it) has passed. It returns how many were refused.
func listPages(p *listingPace, b *bucket, pages int, rtt time.Duration) (refused int) {
	now := b.at
	for done := 0; done < pages; {
		if r := p.paced(); r > 0 && !p.last.IsZero() {
			if at := p.last.Add(time.Duration(float64(time.Second) / r)); at.After(now) {
				p.held, now = true, at
			} else {
				p.held = false
			}
		}
		if b.take(now) {
			p.answered(now, nil)
			done++
			now = now.Add(rtt)
			continue
		}
		refused++
		wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		until := now.Add(max(time.Second, (wait + time.Second - 1).Truncate(time.Second)))
		p.answered(now, refused429(until))
		now = until
	}
	return refused
}

func TestListingPaceLearnsTheListingsOwnRateFromTwoRefusals(t *testing.T) {
	for _, tc := range []struct {
		rate, burst float64
		rtt         time.Duration
	}{
		{5, 1, 20 * time.Millisecond},
		{2, 2, 20 * time.Millisecond},
		{1, 1, 100 * time.Millisecond},
		{20, 5, 5 * time.Millisecond},
		{0.5, 3, 50 * time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%g/s burst %g", tc.rate, tc.burst), func(t *testing.T) {
			start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
			p := newListingPace(clockwork.NewFakeClockAt(start), ownWatch())
			b := &bucket{rate: tc.rate, burst: tc.burst, tokens: tc.burst, at: start}
			refused := listPages(p, b, 60, tc.rtt)
			assert.LessOrEqual(t, refused, 3, "two refusals teach the rate; a third at most corrects it")
			assert.LessOrEqual(t, p.paced(), tc.rate, "paced under the endpoint's rate")
			assert.GreaterOrEqual(t, p.paced(), 0.75*tc.rate, "and not far under it")
			assert.Zero(t, listPages(p, b, 600, tc.rtt), "and never refused once learnt")
			assert.LessOrEqual(t, len(p.rec), paceRecord, "its record stays bounded")
		})
	}
}

func TestListingPaceFollowsTheAnnouncedQuota(t *testing.T) {
	fc := clockwork.NewFakeClock()
	p := newListingPace(fc, ownWatch())
	h := http.Header{}
	h.Set("RateLimit-Policy", `"bucket";q=5;w=1`)
	h.Set("RateLimit", `"bucket";r=0;t=1`)
	p.answered(fc.Now(), nil)
	p.announced(h)
	assert.InDelta(t, 5*paceMargin, p.paced(), 1e-9, "5 a second, with a margin")

	p.announced(http.Header{"X-Ratelimit-Remaining": {"3"}, "X-Ratelimit-Reset": {"10"}})
	assert.InDelta(t, 5*paceMargin, p.paced(), 1e-9, "a quota that tells no window leaves the pace")

	done := make(chan error, 1)
	go func() { done <- p.do(context.Background(), func(context.Context) error { return nil }) }()
	require.NoError(t, fc.BlockUntilContext(context.Background(), 1))
	fc.Advance(time.Second / 4) // 1/(0.95 x 5) s
	require.NoError(t, <-done)
}

func TestListingPaceLeavesAListingNeverRefusedUnpaced(t *testing.T) {
	fc := clockwork.NewFakeClock()
	p := newListingPace(fc, ownWatch())
	for range 10 {
		require.NoError(t, p.do(context.Background(), func(ctx context.Context) error {
			noteSent(ctx)
			return nil
		}))
		fc.Advance(300 * time.Millisecond)
	}
	assert.Equal(t, 10, p.admitted)
	assert.Len(t, p.recent, 4, "the pages admitted over the last second are kept, for the burst")
	p.answered(fc.Now(), &attemptError{status: http.StatusServiceUnavailable, err: &limiter.RetryAfterError{
		Until: fc.Now().Add(time.Second), Err: &transport.StatusError{Code: http.StatusServiceUnavailable}}})
	assert.Zero(t, p.paced(), "a 503 is the host's load, not the listing's rate")
}

func TestAListingLimitedApartDoesNotPaceTheDetails(t *testing.T) {
	// The listing announces a quota of 2 pages a second: paced by it, the
	// 80 details would take 40 s.
	srv := startMock(t, mockapi.Scenario{Items: 80, Latency: 5 * time.Millisecond,
		Capacity:     mockapi.Capacity{Slots: 16, Queue: 16},
		ListingQuota: mockapi.Quota{Rate: 2, Burst: 1}})
	cfg := testConfig(t, srv.URL()+"/items?per_page=40", "    style: page", `task:
  url: "{+detail_path}"`, nil)
	core, logs := observer.New(zap.InfoLevel)
	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)
	assert.Equal(t, int64(80), sum.Succeeded)
	assert.LessOrEqual(t, sum.Throttled, int64(1), "the listing is paced by its announced quota")
	assert.Less(t, sum.DurationS, 15.0, "the details go at the host's pace: the listing's 1.5 s and the details' fraction of a second")
	assert.Equal(t, 1, logs.FilterMessageSnippet("the listing is paced apart").Len(), "told once")
}

func TestAListingThatSharesItsHostsQuotaPacesTheHostAsBefore(t *testing.T) {
	// One bucket of 40 a second (burst 5), announced on every answer, for
	// the listing and the details alike: the host is paced by it from the
	// listing's first answer, as where no listing is told apart.
	srv := startMock(t, mockapi.Scenario{Items: 80, Latency: 5 * time.Millisecond,
		Capacity: mockapi.Capacity{Slots: 16, Queue: 16},
		Quota:    mockapi.Quota{Rate: 40, Burst: 5}})
	cfg := testConfig(t, srv.URL()+"/items?per_page=40", "    style: page", `task:
  url: "{+detail_path}"`, nil)
	core, logs := observer.New(zap.InfoLevel)
	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)
	assert.Equal(t, int64(80), sum.Succeeded)
	assert.Zero(t, logs.FilterMessageSnippet("the listing is paced apart").Len(), "the details carry the listing's quota")
	assert.GreaterOrEqual(t, sum.DurationS, 1.5, "83 requests at 40 a second after a burst of 5: the quota paced them all")
	assert.LessOrEqual(t, sum.Throttled, int64(2), "paced by the announced quota")
}
