package benchmarks

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noCrawl is a Crawler for the tests that only build suites.
func noCrawl(context.Context, CrawlJob) error { return nil }

func TestCrawlSuiteSizesEachCrawlByItsTarget(t *testing.T) {
	suite, err := CrawlSuite(1, noCrawl)
	require.NoError(t, err)
	work := map[string]int{}
	for _, sc := range suite {
		work[sc.Name] = sc.Work
		assert.Equal(t, sc.Work, sc.Mock.Items, "%s: the listing ends with the work", sc.Name)
		assert.Equal(t, crawlPerPage, sc.Mock.PerPage)
		require.Len(t, sc.Strategies, 3)
		assert.Equal(t, []string{Engine, CrawlDefault, CrawlState},
			[]string{sc.Strategies[0].Name, sc.Strategies[1].Name, sc.Strategies[2].Name})
		assert.True(t, sc.Strategies[2].State)
	}
	assert.Equal(t, 4000, work["crawl-capacity"], "2.5 s at 1,600 items/s")
	assert.Equal(t, 2000, work["crawl-capacity-tight"], "2.5 s at 800 items/s")
	assert.Equal(t, 3000, work["crawl-quota-no-headers"], "30 s at 100 items/s")
	assert.Equal(t, 3000, work["crawl-quota-no-retry-after"], "30 s at 100 items/s")
	assert.Equal(t, 1500, work["crawl-header-fixed"], "15 s at 100 items/s")
	assert.Equal(t, 1500, work["crawl-header-token-bucket-1"], "15 s at 100 items/s")
	assert.Equal(t, 50_000, work["crawl-fast"])
	assert.Len(t, suite, 11)

	quick, err := CrawlSuite(QuickScale, noCrawl)
	require.NoError(t, err)
	for _, sc := range quick {
		if sc.Name == "crawl-header-sliding" {
			assert.Equal(t, 100, sc.Mock.HeaderQuota.Limit)
			assert.Equal(t, time.Second, sc.Mock.HeaderQuota.Window)
			assert.Contains(t, sc.Mock.Description, "100 requests per 1 s")
		}
		if sc.Name == "crawl-blackout" {
			assert.Equal(t, []time.Duration{80 * time.Millisecond, 240 * time.Millisecond}, sc.Steps())
		}
	}

	_, err = CrawlSuite(1, nil)
	assert.ErrorContains(t, err, "crawler is nil")
	_, err = CrawlSuite(0, noCrawl)
	assert.ErrorContains(t, err, "scale 0")
}

func TestRatioUntilInterpolatesBetweenSamples(t *testing.T) {
	r := synthetic(100, 0, 0, 100, 100, 100, 100, 100, 100, 100, 100) // 10 items per 100 ms from 0.2 s
	assert.InDelta(t, 0, r.RatioUntil(200*ms), 1e-9)
	assert.InDelta(t, 0.5, r.RatioUntil(400*ms), 1e-9)
	assert.InDelta(t, 15.0/35, r.RatioUntil(350*ms), 1e-9, "half of the fourth interval's 10 items")
	assert.Zero(t, r.RatioUntil(2*time.Second), "past the run's end")
}

func TestRatioUntilCountsTheListingPagesACrawlReadAhead(t *testing.T) {
	// A crawl under 101 requests/s, one listing page per 100 items: its
	// optimum is 100 items/s. It reads 3 pages in its first 0.1 s, then
	// 10 items per 100 ms.
	r := synthetic(100, 0, 100, 100, 100, 100)
	r.PerItem = crawlOptimum(100)
	for i := range r.Samples {
		if i > 0 {
			r.Samples[i].Pages = 3
		}
	}
	assert.InDelta(t, 43.0/50.5, r.RatioUntil(500*ms), 1e-9, "40 items and 3 pages of 50.5 requests")
	r.Samples[len(r.Samples)-1].Pages, r.Samples[len(r.Samples)-1].Items = 4, 400
	assert.InDelta(t, 404.0/(101*0.5), r.RatioUntil(500*ms), 1e-9)
	r.Elapsed = 5 * time.Second
	for i := range r.Samples {
		r.Samples[i].At *= 10
	}
	r.Items = 400
	assert.InDelta(t, r.Ratio(), r.RatioUntil(5*time.Second), 1e-9, "a page per 100 items: the whole run's ratio")
}

func TestCrawlTargetsJudgeTheCrawlRow(t *testing.T) {
	fast := synthetic(1000, repeat(1000, 25)...)
	slow := synthetic(1000, append([]float64{0, 0, 0, 0}, repeat(1000, 21)...)...)
	blackout := synthetic(1000, repeat(1000, 20)...)
	blackout.Lost = 1
	engine := synthetic(0, repeat(1000, 10)...)
	crawl := synthetic(0, repeat(950, 10)...)
	rep := Report{
		Scenarios: []ScenarioInfo{{Name: "crawl-capacity"}, {Name: "crawl-capacity-tight"}, {Name: "crawl-blackout"}, {Name: "crawl-fast"}},
		Results: []Result{
			withServer(fast, "crawl-capacity", CrawlDefault, 2500, 0, map[int]int64{200: 2500}),
			withServer(slow, "crawl-capacity-tight", CrawlDefault, 2200, 20, map[int]int64{200: 2100, 503: 20}),
			withServer(blackout, "crawl-blackout", CrawlState, 2000, 0, map[int]int64{200: 2000}),
			withServer(engine, "crawl-fast", Engine, 1000, 0, map[int]int64{200: 1000}),
			withServer(crawl, "crawl-fast", CrawlDefault, 950, 0, map[int]int64{200: 950}),
		},
	}
	got := rep.Targets()
	require.Len(t, got, 4)
	assert.True(t, got[0].Met, "capacity: %s", got[0].Measured)
	assert.Equal(t, "100.0% of the optimum, T90 0.1 s, 0.00% 503", got[0].Measured)
	assert.False(t, got[1].Met, "tight: 84% and 0.9% 503")
	assert.Equal(t, "84.0% of the optimum, 0.91% 503", got[1].Measured)
	assert.False(t, got[2].Met, "an item lost")
	assert.Contains(t, got[2].Name, "crawl+state")
	assert.Equal(t, "0 early, 1 lost, 0 failed, 0 twice, 0 robots violations", got[2].Measured)
	rep.Results[2].Lost, rep.Results[2].FailedAsked = 0, 2
	assert.False(t, rep.Targets()[2].Met, "items failed that robots.txt did not disallow")
	rep.Results[2].FailedAsked = 0
	assert.True(t, rep.Targets()[2].Met, rep.Targets()[2].Measured)
	rep.Results[2].Lost = 1
	assert.True(t, got[3].Met, got[3].Measured)
	assert.Equal(t, "950 vs 1000 items/s (95.0%)", got[3].Measured)
	rep.Results[3].CPU, rep.Results[4].CPU = 100*time.Millisecond, 118750*time.Microsecond
	assert.Equal(t, "950 vs 1000 items/s (95.0%); CPU per item 125.0 vs 100.0 µs (engine / crawl 80.0%)",
		rep.Targets()[3].Measured, "the CPU per item beside, where it was read")

	var md bytes.Buffer
	require.NoError(t, rep.WriteMarkdown(&md))
	assert.Contains(t, md.String(), "## `politely crawl` against its engine")
	assert.Contains(t, md.String(), "| crawl-fast | 950/s | – | – | 0.00% | 0 | 0 | 1000/s | – | 95.0% |")
	assert.Contains(t, md.String(), "`crawl+state`: 1 lost, 0 written twice, 0 robots violations.")
}

func TestQuickCrawlsKeepTheRowsTheirTargetsNeed(t *testing.T) {
	suite, err := CrawlSuite(QuickScale, noCrawl)
	require.NoError(t, err)
	names := func(sc Scenario) []string {
		var out []string
		for _, st := range sc.Strategies {
			out = append(out, st.Name)
		}
		return out
	}
	for _, sc := range QuickCrawls(suite) {
		switch sc.Name {
		case "crawl-blackout":
			assert.Equal(t, []string{CrawlDefault, CrawlState}, names(sc))
		case "crawl-fast":
			assert.Equal(t, []string{Engine, CrawlDefault}, names(sc))
		default:
			assert.Equal(t, []string{CrawlDefault}, names(sc), sc.Name)
		}
	}
	assert.Len(t, suite[0].Strategies, 3, "the suite given is left as it was")
	for i, sc := range QuickCrawls(suite) {
		if sc.Name == "crawl-quota-no-headers" {
			assert.Equal(t, suite[i].Work/3, sc.Work, "a run of %d items at 100/s is cut to a third", suite[i].Work)
			assert.Equal(t, sc.Work, sc.Mock.Items)
			assert.Less(t, sc.Cap, suite[i].Cap)
		}
		if sc.Name == "crawl-capacity" {
			assert.Equal(t, suite[i].Work, sc.Work, "a run under a second keeps its work")
		}
	}
}
