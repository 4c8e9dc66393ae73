// Package colly shows a colly scraper made polite by politely's transport:
// per-host rate and adaptive concurrency, Retry-After gates and announced
// quotas, without changing how the scraper is written.
package colly

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/gocolly/colly/v2"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// Result is what a scrape got.
type Result struct {
	OK        int64 // pages answered 200
	Throttled int64 // answers 429 or 503
	Lost      int   // pages that never got a 200
}

// Scrape fetches every URL with a colly collector of parallelism 50. With
// polite, the collector's HTTP client goes through politely's transport and
// a throttled page is visited again (the transport holds the retry until
// the host's Retry-After); without it, colly alone, a throttled page is lost.
func Scrape(urls []string, polite bool) (Result, error) {
	c := colly.NewCollector(colly.Async(true), colly.AllowURLRevisit())
	if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: 50}); err != nil {
		return Result{}, err
	}
	if polite {
		lim, err := limiter.New(limiter.Config{})
		if err != nil {
			return Result{}, err
		}
		c.WithTransport(transport.New(lim))
	}
	var res Result
	var mu sync.Mutex
	done := map[string]bool{}
	var ok, throttled atomic.Int64
	c.OnResponse(func(r *colly.Response) {
		ok.Add(1)
		mu.Lock()
		done[r.Request.URL.String()] = true
		mu.Unlock()
	})
	c.OnError(func(r *colly.Response, _ error) {
		if r.StatusCode != http.StatusTooManyRequests && r.StatusCode != http.StatusServiceUnavailable {
			return
		}
		throttled.Add(1)
		if polite {
			_ = r.Request.Retry() // waits in the transport for the host's gate
		}
	})
	for _, u := range urls {
		if err := c.Visit(u); err != nil {
			return Result{}, err
		}
	}
	c.Wait()
	res.OK, res.Throttled = ok.Load(), throttled.Load()
	for _, u := range urls {
		if !done[u] {
			res.Lost++
		}
	}
	return res, nil
}
