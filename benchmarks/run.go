package benchmarks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/internal/cputime"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/mockapi"
	"github.com/politely/politely/source"
	"github.com/politely/politely/transport"
)

// SampleInterval is how often a run samples its goodput and limit.
const SampleInterval = 100 * time.Millisecond

// Sample is one point of a run's time series.
type Sample struct {
	At    time.Duration `json:"at"`              // since the mock server started
	Items int64         `json:"items"`           // items succeeded so far
	Limit int           `json:"limit"`           // concurrency limit (the fixed consumers for fixed pools)
	Pages int64         `json:"pages,omitempty"` // listing pages answered 200 so far (a crawl's)
}

// Result is what one strategy did in one scenario: the runner's output and
// the input of the report and the plots. Counts from the server are its
// ground truth (/__stats), not the client's view.
type Result struct {
	Scenario string        `json:"scenario"`
	Strategy string        `json:"strategy"`
	Work     int           `json:"work"`
	Items    int64         `json:"items"`   // items that succeeded
	Elapsed  time.Duration `json:"elapsed"` // from the server's start to the last item (or the cap)
	Capped   bool          `json:"capped"`  // the run hit the scenario's Cap before finishing its work

	Failed    int64 `json:"failed"`    // items that failed for good (the net/http pool does not retry)
	Requests  int64 `json:"requests"`  // requests the server answered
	Throttled int64 `json:"throttled"` // answered 429, 503 or 403
	Errors    int64 `json:"errors"`    // answered otherwise, not 2xx (resets included)
	Early     int64 `json:"early"`     // sent while an answer the client had received told it to wait (see waits)
	// EarlyAtServer counts the requests that arrived while the server had told
	// the client to wait, as the mock tells them from those that may have been
	// on their way (mockapi.Stats.EarlyRequests).
	EarlyAtServer int64 `json:"early_at_server"`
	// Lost counts the items a crawl neither wrote nor reported failed, Twice
	// those it wrote more than once; RobotsViolations the requests to paths
	// robots.txt disallows.
	Lost int64 `json:"lost,omitempty"`
	// FailedAsked counts a crawl's failed items that it requested: all but
	// those robots.txt disallows.
	FailedAsked      int64         `json:"failed_asked,omitempty"`
	Twice            int64         `json:"twice,omitempty"`
	RobotsViolations int64         `json:"robots_violations,omitempty"`
	ByStatus         map[int]int64 `json:"by_status"`  // the server's answers by status
	MaxServer        int           `json:"max_server"` // most requests in flight at the server
	P50              time.Duration `json:"p50"`        // latency of successful requests, send to end of body
	P99              time.Duration `json:"p99"`
	Samples          []Sample      `json:"samples"`
	// Optimum is the scenario's optimum over time (one level from the start and
	// one per capacity step); empty when the service is unlimited.
	Optimum []Level `json:"optimum"`
	// PerItem is the optimum's share of requests that fetch items: below 1
	// for a crawl, which also reads listing pages; 0 means 1.
	PerItem float64 `json:"per_item,omitempty"`
	// Settle is left out of the steady state after the start and each step.
	Settle time.Duration `json:"settle"`
	// Window is set where the scenario's limit is a fixed window counted
	// from the Unix epoch (see Ratio).
	Window *FixedWindow `json:"window,omitempty"`
	// CPU is the process's CPU time (user and system, every goroutine's, the
	// mock server's included) while the work ran; 0 where it is not read
	// (cputime.Known). Per item it hardly moves with the machine's load.
	CPU time.Duration `json:"cpu,omitempty"`
	// Runs is how many runs of the strategy this one is the median of by
	// items/s (see Scenario.Rounds); 0 or 1: it is the only one.
	Runs int `json:"runs,omitempty"`
}

// Level is the optimum goodput, in items/s, from At after the server started.
type Level struct {
	At     time.Duration `json:"at"`
	PerSec float64       `json:"per_sec"`
}

// Option configures Run.
type Option func(*runSettings)

type runSettings struct {
	log      *zap.Logger
	onResult func(Result)
	tls      *mockapi.Cert
}

// WithLogger sets the logger of the client stack; default zap.NewNop().
func WithLogger(l *zap.Logger) Option {
	return func(s *runSettings) {
		if l != nil {
			s.log = l
		}
	}
}

// WithTLS serves every scenario's mock over HTTPS with cert, HTTP/2
// offered, and has every client trust it: the transport of a real API,
// whose new connections cost a TLS handshake and whose requests share
// connections as HTTP/2 streams. Default: plain HTTP/1.1.
func WithTLS(cert *mockapi.Cert) Option { return func(s *runSettings) { s.tls = cert } }

// WithOnResult calls fn after each run, e.g. to print progress.
func WithOnResult(fn func(Result)) Option { return func(s *runSettings) { s.onResult = fn } }

// Run runs every strategy (and each scenario's Extra ones) in every scenario,
// each against a fresh mock server on 127.0.0.1, one at a time; a scenario
// of Rounds over 1 runs them that many times, in an order rotated each
// round (see roundOrder), and keeps each strategy's median run by items/s (see
// medianRun). When ctx ends it returns the results so far with ctx's error
// (an unfinished scenario's median of the runs it finished).
func Run(ctx context.Context, suite []Scenario, strategies []Strategy, opts ...Option) ([]Result, error) {
	s := runSettings{log: zap.NewNop()}
	for _, o := range opts {
		o(&s)
	}
	var results []Result
	for _, sc := range suite {
		run := strategies
		if sc.Strategies != nil {
			run = sc.Strategies
		}
		all := append(append([]Strategy(nil), run...), sc.Extra...)
		runs := make([][]Result, len(all))
		rounds := max(1, sc.Rounds)
		var err error
	loop:
		for round := range rounds {
			for _, i := range roundOrder(len(all), round, rounds) {
				st := all[i]
				if err = ctx.Err(); err != nil {
					err = fmt.Errorf("benchmarks: interrupted before %s/%s: %w", sc.Name, st.Name, err)
					break loop
				}
				var res Result
				if res, err = RunOne(ctx, sc, st, WithLogger(s.log), WithTLS(s.tls)); err != nil {
					break loop
				}
				runs[i] = append(runs[i], res)
			}
		}
		for _, rs := range runs {
			if len(rs) == 0 {
				continue
			}
			res := medianRun(rs)
			results = append(results, res)
			if s.onResult != nil {
				s.onResult(res)
			}
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

// roundOrder is the order in which round (of rounds) runs n strategies:
// the given one rotated by round*n/rounds, so that over the rounds each
// strategy's places spread over the order as evenly as whole places allow
// (a rotation by one a round would keep the last strategies late in every
// round where the strategies outnumber the rounds).
func roundOrder(n, round, rounds int) []int {
	shift := round * n / rounds
	order := make([]int, n)
	for i := range order {
		order[i] = (i + shift) % n
	}
	return order
}

// medianRun returns, of one strategy's runs of a scenario, the one of
// median items/s (of an even count the lower middle one), its Runs set to
// their count where there are several: every figure of a row then comes
// from one run.
func medianRun(runs []Result) Result {
	if len(runs) == 1 {
		return runs[0]
	}
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b Result) int { return cmp.Compare(a.Goodput(), b.Goodput()) })
	res := sorted[(len(sorted)-1)/2]
	res.Runs = len(runs)
	return res
}

// RunOne runs one strategy in one scenario against a fresh mock server.
func RunOne(ctx context.Context, sc Scenario, st Strategy, opts ...Option) (Result, error) {
	s := runSettings{log: zap.NewNop()}
	for _, o := range opts {
		o(&s)
	}
	items := sc.Mock.Items
	if items == 0 {
		items = 1000 // mockapi's default
	}
	if sc.Work <= 0 || sc.Work > items {
		return Result{}, fmt.Errorf("benchmarks: scenario %s: work %d: want 1..items (%d)", sc.Name, sc.Work, items)
	}
	if sc.Cap <= 0 {
		return Result{}, fmt.Errorf("benchmarks: scenario %s: cap %v: want > 0", sc.Name, sc.Cap)
	}
	if err := awaitWindow(ctx, sc); err != nil {
		return Result{}, fmt.Errorf("benchmarks: %s/%s: %w", sc.Name, st.Name, err)
	}
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc.Mock, Addr: "127.0.0.1:0", TLS: s.tls})
	if err != nil {
		return Result{}, fmt.Errorf("benchmarks: %s/%s: start mock: %w", sc.Name, st.Name, err)
	}
	defer srv.Close()
	c := newClient(srv.URL(), sc.Mock)
	if s.tls != nil {
		c.base.TLSClientConfig = s.tls.ClientConfig() // HTTP/2 offered: the clone keeps ForceAttemptHTTP2
	}
	defer c.base.CloseIdleConnections()
	limit, work, err := c.stack(st, sc.Work, s.log)
	if err != nil {
		return Result{}, fmt.Errorf("benchmarks: %s/%s: %w", sc.Name, st.Name, err)
	}

	started := srv.Stats().Started
	runCtx, cancel := context.WithTimeout(ctx, sc.Cap)
	defer cancel()
	samples := make(chan []Sample, 1)
	stop := make(chan struct{})
	go func() { samples <- c.sample(started, limit, stop) }()
	cpuBegan := cputime.Process()
	werr := work(runCtx)
	end, cpu := time.Now(), cputime.Process()-cpuBegan
	close(stop)
	series := <-samples
	var terr error
	if c.tally != nil {
		terr = c.tally() // before any return: it removes the crawl's files
	}
	if werr != nil {
		return Result{}, fmt.Errorf("benchmarks: %s/%s: %w", sc.Name, st.Name, werr)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("benchmarks: %s/%s: %w", sc.Name, st.Name, err)
	}
	if terr != nil {
		return Result{}, fmt.Errorf("benchmarks: %s/%s: %w", sc.Name, st.Name, terr)
	}
	done := c.items.Load()
	series = append(series, Sample{At: end.Sub(started), Items: done, Limit: limit(), Pages: c.pages.Load()})
	res := c.result(sc, st, srv.Stats(), series, end.Sub(started))
	res.Window = fixedWindowOf(sc, started)
	res.CPU = cpu
	return res, nil
}

// stack builds the client stack of st: what to sample as its limit, and the
// work that fetches items 1..work through it.
func (c *client) stack(st Strategy, work int, log *zap.Logger) (limit func() int, run func(context.Context) error, err error) {
	switch st.Kind {
	case KindPolitely:
		lim, err := limiter.New(limiter.Config{Algorithm: st.Algorithm, Initial: st.Consumers}, limiter.WithLogger(log))
		if err != nil {
			return nil, nil, err
		}
		c.http.Transport = transport.New(lim, transport.WithBase(c), transport.WithLogger(log))
		return lim.Limit, func(ctx context.Context) error {
			return c.runEngine(ctx, work, log, engine.WithLimitFunc(lim.Limit), engine.WithMaxConsumers(limiter.DefaultMax))
		}, nil
	case KindCrawl:
		if st.Crawl == nil {
			return nil, nil, fmt.Errorf("strategy %s: no crawler", st.Name)
		}
		var lim atomic.Int64
		return func() int { return int(lim.Load()) }, func(ctx context.Context) error {
			return c.runCrawl(ctx, st, &lim)
		}, nil
	case KindFixedPool, KindNetHTTP:
		if st.Consumers <= 0 {
			return nil, nil, fmt.Errorf("strategy %s: consumers %d: want > 0", st.Name, st.Consumers)
		}
		n := st.Consumers
		limit = func() int { return n }
		if st.Kind == KindNetHTTP {
			return limit, func(ctx context.Context) error { c.runPool(ctx, work, n); return nil }, nil
		}
		return limit, func(ctx context.Context) error {
			return c.runEngine(ctx, work, log, engine.WithLimitFunc(limit), engine.WithMaxConsumers(n))
		}, nil
	}
	return nil, nil, fmt.Errorf("strategy %s: unknown kind %v", st.Name, st.Kind)
}

// result puts a run's measures together with the server's ground truth.
func (c *client) result(sc Scenario, st Strategy, stats mockapi.Stats, series []Sample, elapsed time.Duration) Result {
	res := Result{
		Scenario: sc.Name, Strategy: st.Name, Work: sc.Work,
		Items: c.items.Load(), Failed: c.failed.Load(), Elapsed: elapsed,
		Throttled: stats.Throttled(), Early: c.waits.early.Load(), EarlyAtServer: stats.EarlyRequests, ByStatus: stats.ByStatus,
		MaxServer: stats.MaxInFlight, P50: c.latency.quantile(0.5), P99: c.latency.quantile(0.99),
		Samples: series, Settle: sc.Settle,
	}
	res.Capped = res.Items+res.Failed < int64(sc.Work)
	perItem := 1.0 // the optimum's share that fetches items
	if st.Kind == KindCrawl {
		perItem = crawlOptimum(sc.Mock.PerPage)
		res.PerItem = perItem
		res.Twice, res.RobotsViolations, res.FailedAsked = c.duplicates.Load(), stats.RobotsViolations, c.failedAsked.Load()
		if !res.Capped {
			res.Lost = max(0, int64(sc.Work)-res.Items-res.Failed+res.Twice)
		}
	}
	for code, n := range stats.ByStatus {
		res.Requests += n
		if (code < 200 || code > 299) && code != 429 && code != 503 && code != 403 {
			res.Errors += n
		}
	}
	if opt := sc.Optimum(0); !math.IsInf(opt, 1) {
		res.Optimum = append(res.Optimum, Level{At: 0, PerSec: perItem * opt})
		for _, at := range sc.Steps() {
			res.Optimum = append(res.Optimum, Level{At: at, PerSec: perItem * sc.Optimum(at)})
		}
	}
	return res
}

// FixedWindow is a fixed-window quota as a run met it: Limit requests in
// each window of Length, the first of which had Left to run when the server
// started.
type FixedWindow struct {
	Limit  int           `json:"limit"`
	Length time.Duration `json:"length"`
	Left   time.Duration `json:"left"`
}

// fixedWindowOf returns sc's fixed window as a run whose server started at
// started met it, or nil where sc's limit is not a fixed window.
func fixedWindowOf(sc Scenario, started time.Time) *FixedWindow {
	q := sc.Mock.HeaderQuota
	if q.Limit <= 0 || (q.Kind != "" && q.Kind != mockapi.HeaderQuotaFixed) || len(sc.Steps()) > 0 {
		return nil
	}
	if q.Window <= 0 {
		q.Window = time.Minute
	}
	if float64(q.Limit)/q.Window.Seconds() > sc.Optimum(0) {
		return nil // another limit binds
	}
	return &FixedWindow{Limit: q.Limit, Length: q.Window, Left: q.Window - time.Duration(started.UnixNano()%int64(q.Window))}
}

// awaitWindow waits, where sc's limit is a fixed window counted from the Unix
// epoch, until such a window begins. The first window gives its whole Limit
// however little of it is left when the run starts: a run that began with
// a fraction of a second of it left would measure where in the window it
// began (a whole Limit a cold start cannot take that fast) as much as the
// client.
func awaitWindow(ctx context.Context, sc Scenario) error {
	w := fixedWindowOf(sc, time.Now())
	if w == nil {
		return nil
	}
	t := time.NewTimer(w.Left)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ideal returns how soon after the server started a client that spreads
// each window's Limit evenly over the window could have made n requests:
// the first window's over what was left of it.
func (w FixedWindow) ideal(n float64) time.Duration {
	l := float64(w.Limit)
	if n <= l {
		return time.Duration(n / l * float64(w.Left))
	}
	k := math.Ceil(n / l) // the window of the n-th request, the first being 1
	return w.Left + time.Duration((k-2+(n-(k-1)*l)/l)*float64(w.Length))
}

// client sends the detail requests of a run and measures them: it is the base
// RoundTripper under every stack, so each stack pays the same for measuring.
type client struct {
	url         string
	mock        mockapi.Scenario
	base        *http.Transport
	http        *http.Client
	items       atomic.Int64
	pages       atomic.Int64 // listing pages answered 200
	failed      atomic.Int64
	failedAsked atomic.Int64 // a crawl's failed lines but those robots.txt disallowed
	duplicates  atomic.Int64 // lines of a crawl's files for an item already seen
	// tally, set by a crawl's run, counts the lines of its files once its
	// clock has stopped (items, failed and duplicates).
	tally   func() error
	latency histogram
	waits   waits
}

func newClient(url string, mock mockapi.Scenario) *client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// Enough idle connections for every consumer: net/http keeps 2 per host by
	// default, and churning connections would measure the kernel, not the client.
	base.MaxIdleConns = 2 * limiter.DefaultMax
	base.MaxIdleConnsPerHost = 2 * limiter.DefaultMax
	c := &client{url: url, mock: mock, base: base}
	c.http = &http.Client{Transport: c}
	return c
}

// RoundTrip sends r with the base transport and times the exchange until its body ends.
func (c *client) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	c.waits.send(start)
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	c.waits.answer(time.Now(), resp.Header)
	if resp.StatusCode == http.StatusOK && r.URL.Path == "/items" {
		c.pages.Add(1)
	}
	if resp.StatusCode == http.StatusOK {
		resp.Body = &timedBody{ReadCloser: resp.Body, start: start, h: &c.latency}
	}
	return resp, nil
}

// timedBody records its request's latency when the body ends or is closed, once.
type timedBody struct {
	io.ReadCloser
	start time.Time
	h     *histogram
	done  bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.end()
	}
	return n, err
}

func (b *timedBody) Close() error {
	b.end()
	return b.ReadCloser.Close()
}

func (b *timedBody) end() {
	if !b.done {
		b.done = true
		b.h.record(time.Since(b.start))
	}
}

// fetch gets the detail of item id; a non-2xx answer is the error transport.Check makes of it.
func (c *client) fetch(ctx context.Context, id int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+c.mock.DetailPath(id), nil)
	if err != nil {
		return engine.Permanent(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	_, rerr := io.Copy(io.Discard, resp.Body)
	cerr := resp.Body.Close()
	if err := transport.Check(resp); err != nil {
		return err
	}
	if err := errors.Join(rerr, cerr); err != nil {
		return fmt.Errorf("item %d: read body: %w", id, err)
	}
	c.items.Add(1)
	return nil
}

// runEngine fetches items 1..work through the engine.
func (c *client) runEngine(ctx context.Context, work int, log *zap.Logger, opts ...engine.Option) error {
	src, err := source.Range(1, work+1, 1)
	if err != nil {
		return err
	}
	opts = append(opts, engine.WithLogger(log), engine.WithDrainTimeout(time.Second))
	stats, err := engine.Run(ctx, src, c.fetch, opts...)
	c.failed.Add(stats.Failed)
	return err
}

// runPool fetches items 1..work with n goroutines and no retries: the bare net/http reference.
func (c *client) runPool(ctx context.Context, work, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for id := next.Add(1); id <= int64(work) && ctx.Err() == nil; id = next.Add(1) {
				if err := c.fetch(ctx, int(id)); err != nil && ctx.Err() == nil {
					c.failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// sample records the items done and the limit every SampleInterval until stop is closed.
func (c *client) sample(started time.Time, limit func() int, stop <-chan struct{}) []Sample {
	tick := time.NewTicker(SampleInterval)
	defer tick.Stop()
	series := []Sample{{At: time.Since(started), Items: c.items.Load(), Limit: limit(), Pages: c.pages.Load()}}
	for {
		select {
		case <-stop:
			return series
		case now := <-tick.C:
			series = append(series, Sample{At: now.Sub(started), Items: c.items.Load(), Limit: limit(), Pages: c.pages.Load()})
		}
	}
}
