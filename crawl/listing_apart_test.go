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

	"github.com/politely/politely/limiter"
)

// quotaHeader is an answer's header announcing limit requests a second.
func quotaHeader(limit, remaining string) http.Header {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", limit)
	h.Set("X-RateLimit-Remaining", remaining)
	h.Set("X-RateLimit-Reset", "1")
	return h
}

func TestApartWatchTellsAListingLimitedApartFromTheItemsAnswers(t *testing.T) {
	listingQuota := quotaHeader("5", "0")
	type answer struct {
		listing bool
		url     string
		status  int
		header  http.Header
	}
	item := func(h http.Header) answer { return answer{url: "http://api.test/items/1", status: 200, header: h} }
	page := answer{listing: true, url: "http://api.test/items?page=1", status: 200, header: listingQuota}
	none := http.Header{}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    int32
	}{
		{"items without the listing's quota headers", []answer{page, item(none), item(none)}, listingOwn},
		{"items with a quota of another limit (a search endpoint's and the core's)",
			[]answer{page, item(quotaHeader("5000", "4999")), item(quotaHeader("5000", "4998"))}, listingOwn},
		{"fewer items than it takes", []answer{page, item(none)}, listingUndecided},
		{"items with the listing's quota: shared", []answer{page, item(quotaHeader("5", "3"))}, listingShared},
		{"one item with the listing's quota among others: shared, for good",
			[]answer{page, item(none), item(quotaHeader("5", "3")), item(none), item(none), item(none)}, listingShared},
		{"a listing that announces no quota stays its host's",
			[]answer{{listing: true, url: "http://api.test/items?page=1", status: 200, header: none}, item(none), item(none), item(none)}, listingUndecided},
		{"items on another host", []answer{page, {url: "http://cdn.test/1", status: 200, header: none},
			{url: "http://cdn.test/2", status: 200, header: none}, {url: "http://cdn.test/3", status: 200, header: none}}, listingUndecided},
		{"refusals and robots.txt say nothing of the items' limit", []answer{page,
			{url: "http://api.test/items/1", status: 429, header: none}, {url: "http://api.test/items/2", status: 503, header: none},
			{url: "http://api.test/robots.txt", status: 200, header: none}, item(none)}, listingUndecided},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim, err := limiter.New(limiter.Config{})
			require.NoError(t, err)
			now := time.Now()
			a := newApartWatch(lim, zap.NewNop(), clockwork.NewFakeClockAt(now))
			host := lim.Host("api.test:80")
			for _, an := range tc.answers {
				ctx := context.Background()
				if an.listing {
					ctx = asListing(ctx)
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, an.url, nil)
				require.NoError(t, err)
				if an.listing {
					// The transport applies the listing's answer to its host
					// after the wire saw it.
					a.answered(req, &http.Response{StatusCode: an.status, Header: an.header})
					host.SetQuota(limiter.Quota{Limit: 5, Remaining: 2, Reset: now.Add(time.Second)})
					continue
				}
				a.answered(req, &http.Response{StatusCode: an.status, Header: an.header})
			}
			assert.Equal(t, tc.want, a.state.Load())
			assert.Equal(t, tc.want == listingOwn, a.apart())
			if tc.want == listingOwn {
				assert.Zero(t, host.Snapshot().Rate, "the listing's quota no longer paces its host")
			} else {
				assert.Positive(t, host.Snapshot().Rate, "the listing's quota paces its host as any answer's")
			}
		})
	}
	assert.False(t, (*apartWatch)(nil).apart())
}

func TestApartWatchTellsAListingLimitedApartWithoutQuotaHeadersFromItsRefusals(t *testing.T) {
	type answer struct {
		listing bool
		status  int
	}
	page, pageRefused := answer{listing: true, status: 200}, answer{listing: true, status: 429}
	item, itemRefused := answer{status: 200}, answer{status: 429}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    int32
	}{
		{"pages refused twice, items admitted", []answer{page, pageRefused, item, item, pageRefused, item}, listingOwn},
		{"told at the second page refused", []answer{page, pageRefused, item, item, pageRefused}, listingOwn},
		{"a page refused once", []answer{page, pageRefused, item, item, item, item}, listingUndecided},
		{"an item refused too: a shared limit", []answer{page, itemRefused, pageRefused, item, item, pageRefused, item, item}, listingUndecided},
		{"an item refused after the pages", []answer{page, pageRefused, item, itemRefused, pageRefused, item, item}, listingUndecided},
		{"too few items admitted", []answer{page, pageRefused, pageRefused, item}, listingUndecided},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim, err := limiter.New(limiter.Config{})
			require.NoError(t, err)
			a := newApartWatch(lim, zap.NewNop(), clockwork.NewFakeClock())
			for i, an := range tc.answers {
				ctx, url := context.Background(), fmt.Sprintf("http://api.test/items/%d", i)
				if an.listing {
					ctx, url = asListing(ctx), "http://api.test/items?page=1"
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				require.NoError(t, err)
				h := http.Header{}
				if an.status == 429 {
					h.Set("Retry-After", "1")
				}
				a.answered(req, &http.Response{StatusCode: an.status, Header: h})
			}
			assert.Equal(t, tc.want, a.state.Load())
		})
	}
}

func TestTheListingWaitsForTheItemsOfItsHostToTellItsLimit(t *testing.T) {
	lim, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	fc := clockwork.NewFakeClock()
	a := newApartWatch(lim, zap.NewNop(), fc)
	ctx := context.Background()
	require.NoError(t, a.settle(ctx), "nothing listed yet")

	page, err := http.NewRequestWithContext(asListing(ctx), http.MethodGet, "http://api.test/items?page=1", nil)
	require.NoError(t, err)
	a.answered(page, &http.Response{StatusCode: 200, Header: quotaHeader("5", "0")})
	a.listed("cdn.test:80")
	require.NoError(t, a.settle(ctx), "no item of the listing's host: no wait")

	a.listed("api.test:80")
	done := make(chan error, 1)
	go func() { done <- a.settle(ctx) }()
	require.NoError(t, fc.BlockUntilContext(ctx, 1))
	fc.Advance(settleWait / 4)
	item, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/items/1", nil)
	require.NoError(t, err)
	for range apartAnswers {
		select {
		case <-done:
			t.Fatal("the listing went on before the items told")
		default:
		}
		a.answered(item, &http.Response{StatusCode: 200, Header: http.Header{}})
	}
	require.NoError(t, <-done, "the items told: the listing goes on")
	assert.True(t, a.apart())
	require.NoError(t, a.settle(ctx), "and waits no more")
}

func TestTheListingWaitsForItsHostsItemsAFewSecondsAtMostInAll(t *testing.T) {
	lim, err := limiter.New(limiter.Config{})
	require.NoError(t, err)
	fc := clockwork.NewFakeClock()
	a := newApartWatch(lim, zap.NewNop(), fc)
	ctx := context.Background()
	page, err := http.NewRequestWithContext(asListing(ctx), http.MethodGet, "http://api.test/items?page=1", nil)
	require.NoError(t, err)
	a.answered(page, &http.Response{StatusCode: 200, Header: quotaHeader("5", "0")})
	a.listed("api.test:80")
	done := make(chan error, 1)
	go func() { done <- a.settle(ctx) }()
	require.NoError(t, fc.BlockUntilContext(ctx, 1))
	fc.Advance(settleWait - time.Millisecond)
	select {
	case <-done:
		t.Fatal("the listing went on before its wait was up")
	case <-time.After(10 * time.Millisecond):
	}
	fc.Advance(time.Millisecond)
	require.NoError(t, <-done)
	require.NoError(t, a.settle(ctx), "its items never answered: the listing waits no more")
	assert.False(t, a.apart())
}
