package benchmarks

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/politely/politely/mockapi"
)

// Crawler runs one end-to-end crawl: `politely crawl` with its default config
// against the mock at job.URL, writing job.Output and job.Failed (and keeping
// its state in job.State when that is set). The command wires crawl.Run in;
// this package only measures it.
type Crawler func(ctx context.Context, job CrawlJob) error

// CrawlJob is what a Crawler crawls and how the bench watches it.
type CrawlJob struct {
	URL        string             // the mock API's base URL; the listing is URL+"/items"
	Pagination mockapi.Pagination // the listing's style, named as the crawl config names it
	Output     string             // the output file
	Failed     string             // the failed file
	State      string             // the state directory; "" for a crawl without state
	Config     string             // more of the crawl config (YAML lines), or ""
	// Base is the RoundTripper under the crawl's limiter: the bench's, which
	// times every request as it does for the engine-level runs.
	Base http.RoundTripper
	// Progress is to be called every ProgressInterval with the items done and
	// the concurrency limit.
	Progress func(succeeded int64, limit int)
}

// ProgressInterval is how often a Crawler reports progress.
const ProgressInterval = SampleInterval / 2

// Names of the strategies of the crawl scenarios.
const (
	// Engine is the engine-level row of a crawl scenario: the default strategy
	// fetching the same items without listing, robots.txt or output.
	Engine = "engine"
	// CrawlDefault is `politely crawl` with its default config.
	CrawlDefault = "crawl"
	// CrawlState is the same with a state directory (resumable).
	CrawlState = "crawl+state"
)

// CrawlStrategies are the strategies of every crawl scenario: the engine-level
// row, then the crawl without and with state.
func CrawlStrategies(c Crawler) []Strategy {
	return []Strategy{
		{Name: Engine, Kind: KindPolitely},
		{Name: CrawlDefault, Kind: KindCrawl, Crawl: c},
		{Name: CrawlState, Kind: KindCrawl, Crawl: c, State: true},
	}
}

// crawlPerPage is the page size of the crawl scenarios' listings: one
// listing request per crawlPerPage items.
const crawlPerPage = 100

// CrawlSuite returns the end-to-end crawl scenarios, each run with
// CrawlStrategies(c). At scale 1 a run is sized by what the target speaks of
// (a 2.5 s crawl at the optimum of a capacity server, 30 s under a quota
// without headers, 15 s under a header quota); scale shrinks the work, the
// caps, the blackout and, below 1, the 5 s header-quota windows to 1 s.
func CrawlSuite(scale float64, c Crawler) ([]Scenario, error) {
	if !(scale > 0 && scale <= 1) {
		return nil, fmt.Errorf("benchmarks: scale %v: want 0 < scale <= 1", scale)
	}
	if c == nil {
		return nil, fmt.Errorf("benchmarks: CrawlSuite: the crawler is nil")
	}
	seconds := func(d float64) time.Duration { return time.Duration(d * scale * float64(time.Second)) }
	strategies := CrawlStrategies(c)
	mk := func(name, preset string, d float64, change func(*mockapi.Scenario)) Scenario {
		m, err := mockapi.Preset(preset)
		if err != nil {
			panic(err) // the presets named here exist: a test runs CrawlSuite
		}
		if change != nil {
			change(&m)
		}
		work := int(50_000 * scale) // an unlimited server
		if opt := m.Optimum(); !math.IsInf(opt, 1) {
			work = int(opt * seconds(d).Seconds())
		}
		m.Items, m.PerPage = work, crawlPerPage
		return Scenario{Name: name, Mock: m, Work: work, Cap: seconds(1.5*d) + time.Second,
			Settle: max(seconds(min(d/3, 2)), 3*SampleInterval), Strategies: strategies}
	}
	oneSecondWindow := func(m *mockapi.Scenario) {
		if scale < 1 {
			m.HeaderQuota.Limit, m.HeaderQuota.Window = m.HeaderQuota.Limit/5, time.Second
			m.Description = strings.Replace(m.Description, "500 requests per 5 s", "100 requests per 1 s", 1)
		}
	}
	blackout := mk("crawl-blackout", "blackout", 6, func(m *mockapi.Scenario) {
		m.Blackout.At, m.Blackout.For = seconds(1), seconds(2)
		m.Description = fmt.Sprintf("capacity, every request answered 503 + Retry-After from %s to %s; every 50th item private",
			m.Blackout.At, m.Blackout.At+m.Blackout.For)
	})
	// The blackout's targets need a finished crawl (lost items), however slow
	// the way back; its Retry-After is in whole seconds at any scale.
	blackout.Cap = seconds(18) + 2*time.Second
	fast := mk("crawl-fast", "fast", 10, nil)
	fast.Rounds = fastRounds
	return []Scenario{
		mk("crawl-capacity", "capacity", 2.5, nil),
		mk("crawl-capacity-tight", "capacity-tight", 2.5, nil),
		mk("crawl-inflight-429", "inflight-429", 2.5, nil),
		mk("crawl-quota-no-headers", "quota-no-headers", 30, nil),
		mk("crawl-quota-no-retry-after", "quota-no-retry-after", 30, nil),
		mk("crawl-header-fixed", "header-quota", 15, oneSecondWindow),
		mk("crawl-header-sliding", "header-quota-sliding", 15, oneSecondWindow),
		mk("crawl-header-token-bucket", "header-quota-token-bucket", 15, nil),
		mk("crawl-header-token-bucket-1", "header-quota-token-bucket-1", 15, nil),
		blackout,
		fast,
	}, nil
}

// crawlOptimum is the share of a crawl's requests that fetch items: one
// listing page per crawlPerPage items.
func crawlOptimum(perPage int) float64 { return float64(perPage) / float64(perPage+1) }

// runCrawl runs st's crawl of the first work items against the mock at url,
// in a temporary directory, and leaves counting the lines it wrote to
// c.tally: the crawl's clock stops when it returns, as a user's does when
// `politely crawl` exits, not after the bench has read its files.
func (c *client) runCrawl(ctx context.Context, st Strategy, limit *atomic.Int64) error {
	dir, err := os.MkdirTemp("", "politely-bench-crawl-")
	if err != nil {
		return err
	}
	job := CrawlJob{
		URL: c.url, Pagination: c.mock.Pagination,
		Output: filepath.Join(dir, "out.jsonl"), Failed: filepath.Join(dir, "failed.jsonl"),
		Base: c,
		Progress: func(succeeded int64, l int) {
			c.items.Store(succeeded)
			limit.Store(int64(l))
		},
	}
	if job.Pagination == "" {
		job.Pagination = mockapi.PaginationPage
	}
	if st.State {
		job.State = filepath.Join(dir, "state")
	}
	if err := st.Crawl(ctx, job); err != nil && ctx.Err() == nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("crawl: %w", err)
	}
	c.tally = func() error {
		defer os.RemoveAll(dir)
		return c.countLines(job)
	}
	return nil
}

// disallowed is the failed line's error of an item robots.txt disallows.
const disallowed = "disallowed by robots.txt"

// countLines sets the items done and failed from the crawl's files, the
// ground truth of what it delivered, and the items neither holds (lost) or
// that are there twice.
func (c *client) countLines(job CrawlJob) error {
	seen := map[string]bool{}
	var lines [2]int64
	for i, path := range []string{job.Output, job.Failed} {
		err := eachLine(path, false, func(l urlLine) {
			lines[i]++
			if i == 1 && l.Error != disallowed {
				c.failedAsked.Add(1)
			}
			if seen[l.URL] {
				c.duplicates.Add(1)
			}
			seen[l.URL] = true
		})
		if err != nil {
			return err
		}
	}
	c.items.Store(lines[0])
	c.failed.Store(lines[1])
	return nil
}

// QuickCrawls trims the crawl scenarios for a quick run: each keeps only the
// crawl without state, except that the blackout keeps the crawl with state
// (whose exactly-once delivery it checks) and the fast mock keeps the
// engine-level row (which its target compares with); and a run longer than
// a second at the optimum does a third of its work, in a third of its cap
// beyond the first second.
func QuickCrawls(suite []Scenario) []Scenario {
	out := make([]Scenario, len(suite))
	for i, sc := range suite {
		if opt := sc.Optimum(0); float64(sc.Work) > opt && sc.Mock.Blackout.For == 0 {
			sc.Work = max(1, sc.Work/3)
			sc.Mock.Items = sc.Work
			sc.Cap = (sc.Cap-time.Second)/3 + time.Second
		}
		var keep []Strategy
		for _, st := range sc.Strategies {
			switch {
			case st.Name == CrawlDefault,
				st.Name == CrawlState && sc.Name == "crawl-blackout",
				st.Name == Engine && sc.Name == "crawl-fast":
				keep = append(keep, st)
			}
		}
		sc.Strategies = keep
		out[i] = sc
	}
	return out
}
