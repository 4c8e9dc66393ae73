package crawl

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/state"
	"github.com/politely/politely/state/redisstate"
	"github.com/politely/politely/transport"
)

// Summary is what a crawl did, with the field names of the crawl-config
// spec; the CLI prints it and writes it for --stats.
//
// A resumed crawl (Resumed) counts the whole crawl, every run included.
// Items, Succeeded and Failed are exact: the lines of the output and failed
// files. Pages counts each page of the listing once: the pages whose items
// the earlier runs all finished (the resumed run starts after them; an empty
// page among them is not counted) plus those this run fetched, so a finished
// crawl counts the listing's pages, and a page fetched again after a resume
// because some of its items were not done is counted once. Requests,
// Retries, Throttled and DurationS (each run's wall time) add up every run
// up to its last commit of the state: a run killed (kill -9) loses what it
// did after its last commit, work that the next run does, and counts, again.
// So Requests is at least the requests behind the items' lines, and at most
// what the server saw. MaxConcurrency is the most of any run.
type Summary struct {
	Pages          int64   `json:"pages"`           // listing pages fetched
	Items          int64   `json:"items"`           // items listed
	Succeeded      int64   `json:"succeeded"`       // items done
	Failed         int64   `json:"failed"`          // items failed for good (in the failed file)
	Requests       int64   `json:"requests"`        // HTTP requests sent: pages, tasks, robots.txt, retries
	Retries        int64   `json:"retries"`         // attempts after the first, of pages, tasks and robots.txt
	Throttled      int64   `json:"throttled"`       // 429 and 503 answers, and 403s announcing an exhausted quota
	MaxConcurrency int64   `json:"max_concurrency"` // most requests in flight at once
	FinalLimit     int     `json:"final_limit"`     // the concurrency limit at the end
	DurationS      float64 `json:"duration_s"`
	Resumed        bool    `json:"resumed"`
	Interrupted    bool    `json:"interrupted"`
	// Repeated counts the items this run did not fetch because an item
	// listed before them had the same task URL (a listing that shifts while
	// it is paged repeats items): each is fetched and written once.
	Repeated int64 `json:"repeated,omitempty"`
}

// Progress is a snapshot of a running crawl, for a status line.
type Progress struct {
	Elapsed   time.Duration
	Listed    int64   // items listed so far
	Total     int64   // items the API announces; 0 when it does not
	Succeeded int64   // items done
	Failed    int64   // items failed for good
	Rate      float64 // items finished per second since the previous snapshot
	Limit     int     // current concurrency limit
	InFlight  int64   // requests in flight now
	Throttled int64   // throttled answers so far
	Retries   int64   // retries so far
	Requests  int64   // requests sent so far
}

// RunOption wires Run to its environment.
type RunOption func(*runOptions)

type runOptions struct {
	log      *zap.Logger
	base     http.RoundTripper
	reg      prometheus.Registerer
	progress func(Progress)
	interval time.Duration
	now      func() time.Time
	live     *LiveSummary

	resetState bool
	stateOpts  []state.Option
	openStore  func(dir, fingerprint string, opts ...state.Option) (*state.Store, error) // state.Open; tests put their own

	redisURL, worker string            // WithRedis
	redis            *redisstate.Crawl // opened by Run
}

// WithLogger sets the logger; default zap.NewNop(). No header value and no
// URL password is ever logged.
func WithLogger(l *zap.Logger) RunOption { return func(o *runOptions) { o.log = l } }

// WithBaseTransport sets the RoundTripper that sends requests under the
// limiter; default a clone of http.DefaultTransport.
func WithBaseTransport(rt http.RoundTripper) RunOption { return func(o *runOptions) { o.base = rt } }

// WithRegisterer registers the crawl's Prometheus metrics (politely_*) in
// reg; default none.
func WithRegisterer(reg prometheus.Registerer) RunOption { return func(o *runOptions) { o.reg = reg } }

// WithProgress calls fn every interval while the crawl runs and once at the
// end, from one goroutine; fn should return quickly.
func WithProgress(interval time.Duration, fn func(Progress)) RunOption {
	return func(o *runOptions) { o.interval, o.progress = interval, fn }
}

// Run crawls what cfg describes: it pages through the listing, requests each
// item's task (or writes the items themselves), and writes the output and
// failed files, until the listing ends and every item is done or failed for
// good, or ctx is cancelled.
//
// Every request (robots.txt, listing pages, tasks) goes through one limiter
// and one transport, so they share each host's rate and concurrency limits.
// limits.timeout runs from when a request holds its host's permit to the end
// of its body: waiting for a Retry-After gate does not use it up. Pages and
// robots.txt are retried as tasks are, and a page or a robots.txt that the
// server answers with an error (a 5xx, a 429) past the tasks' attempts
// until backoff.max has passed since its first. With politeness.robots, each
// origin's robots.txt is fetched once a day: a 4xx means no rules, and a
// 5xx or no answer after the retries means the whole host is disallowed
// (RFC 9309); a disallowed source.url ends the crawl with an error.
// The config's headers go only to header_hosts; every other request,
// robots.txt included, carries User-Agent and Accept only, and none carries
// a Referer. Redirects are followed up to 10 hops, one request per hop
// through its host's limits and robots.txt; a loop, a non-http(s) target or
// an 11th hop fails the item for good. The listing also ends, with a
// warning, at a repeated cursor or URL, at a page repeating the previous
// page's items, and after max_empty_pages pages in a row without items. A
// page without items after a full one is asked again once before the
// listing ends at it or skips it, and a page after the first whose answer
// lacks items_field is retried as an error answer is.
// Before anything else, CheckPaths checks that the files can be written.
// With cfg.State the crawl keeps its progress there (package state) and a
// run after an interruption or a crash (kill -9 included) resumes: the
// output and failed files are truncated to what the state committed and
// the work after it is done again, so every item ends up in them exactly
// once; the Summary then counts the whole crawl and says Resumed. A crawl
// that finished does nothing when run again. A state written for a config
// that crawls something else is refused (a *ConfigError wrapping
// ErrStateMismatch); WithResetState starts over.
//
// The error is a *ConfigError for a config that cannot run (the CLI's exit
// 2), wraps ctx.Err() when the crawl was interrupted (Summary.Interrupted is
// set), and otherwise says why the crawl could not run or finish, e.g. the
// listing unreachable after its retries, or items of unresponsive hosts left
// for the next run (ErrItemsLeft). The Summary is filled in either way.
func Run(ctx context.Context, cfg *Config, opts ...RunOption) (Summary, error) {
	o := runOptions{log: zap.NewNop(), interval: time.Second, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = zap.NewNop()
	}
	if o.interval <= 0 {
		return Summary{}, fmt.Errorf("crawl: progress interval must be positive, got %v", o.interval)
	}
	if err := cfg.CheckPaths(); err != nil {
		return Summary{}, err
	}
	if o.redisURL != "" {
		c, err := openRedis(ctx, cfg, o)
		if err != nil {
			return Summary{}, err
		}
		o.redis = c
	}
	r, err := newRunner(cfg, o)
	if err != nil {
		if o.redis != nil {
			_ = o.redis.Close()
		}
		return Summary{}, err
	}
	return r.run(ctx)
}

// maxDrain caps how long requests in flight may go on once the crawl is
// interrupted: long enough for most to finish and be written, short enough
// for an operator who pressed Ctrl-C.
const maxDrain = 5 * time.Second

func drainTimeout(timeout time.Duration) time.Duration { return min(timeout, maxDrain) }

// limiterConfig is the limiter's Config for limits l.
func limiterConfig(l Limits, p Politeness) limiter.Config {
	return limiter.Config{
		Rate:          l.Rate,
		Burst:         l.Burst,
		Algorithm:     l.Concurrency.Algorithm,
		Initial:       l.Concurrency.Initial,
		Min:           l.Concurrency.Min,
		Max:           l.Concurrency.Max,
		RetryAfterMax: p.RetryAfterMax,
	}
}

// hostTimeouts are the timeouts of the hosts whose own differs from
// limits.timeout, keyed as in Config.Hosts. A request's host key matches
// host:port first, then the host.
func hostTimeouts(cfg *Config) map[string]time.Duration {
	var out map[string]time.Duration
	for h, l := range cfg.Hosts {
		if l.Timeout != cfg.Limits.Timeout {
			if out == nil {
				out = map[string]time.Duration{}
			}
			out[h] = l.Timeout
		}
	}
	return out
}

// taskRetry is the engine's retry policy for limits l: its attempts and
// backoff, with the crawl's cap on Retry-After.
func taskRetry(l Limits, p Politeness) engine.Retry {
	return engine.Retry{
		MaxAttempts:   l.Retries + 1,
		Base:          l.Backoff.Base,
		Max:           l.Backoff.Max,
		RetryAfterMax: p.RetryAfterMax,
	}
}

// hostRetries are the retry policies of the hosts whose retries or backoff
// differ from limits', keyed as in Config.Hosts.
func hostRetries(cfg *Config) map[string]engine.Retry {
	var out map[string]engine.Retry
	for h, l := range cfg.Hosts {
		if l.Retries != cfg.Limits.Retries || l.Backoff != cfg.Limits.Backoff {
			if out == nil {
				out = map[string]engine.Retry{}
			}
			out[h] = taskRetry(l, cfg.Politeness)
		}
	}
	return out
}

// runner is one crawl's wiring.
type runner struct {
	cfg     *Config
	o       runOptions
	lim     *limiter.Limiter
	client  *http.Client
	wire    *wire // under client's limiter
	apart   *apartWatch
	meter   *meter
	fetch   *fetcher
	retrier *retrier
	robots  *robots // nil when politeness.robots is off
	listing *listing
	retry   engine.Retry
	// hostRetries are the tasks' policies of the hosts whose own differs
	// from retry (hostRetries).
	hostRetries map[string]engine.Retry
	silent      *silences                       // fails the tasks of unresponsive hosts; nil when no host can be
	last        atomic.Pointer[engine.Progress] // the engine's last progress snapshot, for current
	writes      writeStop
	// Tasks' attempts after an item's first (engine.Attempt), counted as
	// they start.
	taskRetries atomic.Int64
	began       time.Time
	took        atomic.Int64 // with state, this run's milliseconds once it has ended; 0 while it runs

	out, failed *lineWriter // without state
	stopFlush   chan struct{}
	flushing    sync.WaitGroup
	state       *resumed     // with state: the files are its journal's
	dist        *distributed // with Redis: the items and their lines are there
	repeats     *repeats     // with a task: the task URLs taken (see repeated)
}

func newRunner(cfg *Config, o runOptions) (*runner, error) {
	lc := cfg.Limits
	hostCfgs := make(map[string]limiter.Config, len(cfg.Hosts))
	for h, l := range cfg.Hosts {
		hostCfgs[h] = limiterConfig(l, cfg.Politeness)
	}
	lim, err := limiter.New(limiterConfig(lc, cfg.Politeness),
		append([]limiter.Option{limiter.WithLogger(o.log), limiter.WithHostConfigs(hostCfgs)}, o.sharedOption()...)...)
	if err != nil {
		return nil, fmt.Errorf("crawl: limits: %w", err)
	}
	m := &meter{}
	if o.reg != nil {
		if m.prom, err = registerMetrics(o.reg, lim); err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
	}
	base := o.base
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = lc.Concurrency.Max          // reuse connections at any limit
		t.MaxIdleConns = idleConns(lc.Concurrency.MaxTotal) // and over many hosts (net/http keeps 100)
		base = t
	}
	answers := func(key string) int64 {
		s := lim.Host(key).Snapshot()
		return s.Successes + s.Throttled
	}
	silent := newSilences(cfg, o.now, answers, o.log)
	apart := newApartWatch(lim, o.log, clockwork.NewRealClock())
	w := &wire{next: base, timeout: lc.Timeout, hosts: hostTimeouts(cfg), meter: m, silent: silent,
		late: &lateAnswers{log: o.log, answers: answers}, apart: apart}
	client := &http.Client{Transport: transport.New(lim,
		transport.WithBase(w),
		transport.WithSendContext(w.sendContext),
		transport.WithObserver(m.observe),
		transport.WithLogger(o.log)),
		CheckRedirect: noRedirects}
	r := &runner{cfg: cfg, o: o, lim: lim, client: client, wire: w, meter: m, apart: apart,
		fetch: newFetcher(client, cfg),
		// The engine's retry budget (its default: retries at most a fifth
		// of the items read over 10 s, beyond ten) protects a failing
		// server from a storm of retries: it delays them, no item fails
		// for it. Throttled answers are paced by the limiter instead.
		retry:       taskRetry(lc, cfg.Politeness),
		hostRetries: hostRetries(cfg),
		silent:      silent,
	}
	if o.redis != nil {
		r.dist = &distributed{c: o.redis, lines: make(chan redisstate.Line, 4*finishBatch),
			room: make(chan struct{}, 1)}
	}
	r.fetch.silent = silent
	r.retrier = &retrier{retry: r.retry, clock: clockwork.NewRealClock()}
	r.listing = &listing{cfg: cfg, fetch: r.fetch, retrier: r.retrier, log: o.log, keys: itemKeysOf(cfg, r.dist != nil),
		pace: newListingPace(r.retrier.clock, apart), targets: newTargetResolver(cfg)}
	if cfg.Task != nil {
		r.repeats = newRepeats()
	}
	if cfg.Politeness.Robots {
		r.robots = &robots{fetch: r.fetch, retrier: r.retrier, silent: silent, lim: lim, agent: cfg.UserAgent,
			rate: lc.Rate, log: o.log, now: o.now, origins: map[originKey]*origin{}}
		r.fetch.allowed = r.robots.allowed
	}
	return r, nil
}

func (r *runner) run(ctx context.Context) (sum Summary, err error) {
	r.began = time.Now()
	defer r.client.CloseIdleConnections()
	defer r.wire.deadlines.release()
	for _, w := range r.cfg.Warnings {
		r.o.log.Warn("config: " + w)
	}
	r.o.log.Info("crawl starting", zap.String("source", r.cfg.Source.URL.Redacted()),
		zap.String("output", r.cfg.Output), zap.String("failed", r.cfg.FailedPath()))
	if r.dist != nil {
		return r.runDistributed(ctx)
	}
	var early *start
	if r.cfg.State != "" {
		if r.freshState() {
			early = r.begin(ctx, "")
		}
		if r.state, err = r.openState(); err != nil {
			early.stop()
			return Summary{}, err
		}
		if r.state.from.Finished {
			early.stop()
			r.o.log.Info("the crawl finished in an earlier run: nothing to do", zap.String("state", r.cfg.State))
			if err := r.state.store.Close(); err != nil {
				return Summary{}, fmt.Errorf("crawl: %w", err)
			}
			return finishedSummary(r.state.from), nil
		}
		if early != nil && early.from != r.state.from.Cursor {
			// Another run made the state meanwhile: it says where to start.
			early.stop()
			early = nil
		}
		if early == nil {
			early = r.begin(ctx, r.state.from.Cursor)
		}
		if err = r.state.openJournal(r.cfg); err != nil {
			early.stop()
			_ = r.state.store.Close() // nothing was written yet
			return Summary{}, err
		}
		r.state.store.SetCountersFunc(r.totals)
		defer func() {
			if cerr := r.state.store.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("crawl: %w", cerr))
			}
		}()
	} else {
		early = r.begin(ctx, "")
		if err = r.createFiles(); err != nil {
			early.stop()
			return Summary{}, err
		}
		defer func() { err = errors.Join(err, r.closeFiles()) }()
	}
	defer early.stop()

	if r.o.live != nil {
		current := r.current
		r.o.live.current.Store(&current)
	}
	var st engine.Stats
	st, err = r.crawl(ctx, early)
	sum = Summary{
		Pages:          r.listing.pages.Load(),
		Items:          st.Read,
		Succeeded:      st.Succeeded,
		Failed:         st.Failed,
		Requests:       r.meter.requests.Load(),
		Retries:        r.retries(),
		Throttled:      r.meter.throttled.Load(),
		MaxConcurrency: r.meter.maxInFlight.Load(),
		FinalLimit:     st.FinalLimit,
		DurationS:      math.Round(time.Since(r.began).Seconds()*1000) / 1000,
		// Only the caller interrupts: a run the engine stopped for a write
		// or state error could not finish (exit 1, not 130).
		Interrupted: ctx.Err() != nil,
	}
	if r.repeats != nil {
		// Items counts each item once; the listing's repeats are apart.
		sum.Repeated = r.repeats.n.Load()
		sum.Items -= sum.Repeated
	}
	if sum.FinalLimit == 0 {
		sum.FinalLimit = r.lim.Limit()
	}
	if r.state != nil {
		// From here the counters the commits take no longer move: the
		// summary shows what the last commit keeps.
		r.took.Store(max(1, time.Since(r.began).Milliseconds()))
		left := r.state.left.Load()
		switch {
		case err != nil || sum.Interrupted:
		case left > 0:
			err = fmt.Errorf("crawl: %d %w (left by %d of at most limits.unresponsive_runs %d runs; then they fail for good)",
				left, ErrItemsLeft, r.state.from.Counters[counterRunsLeft]+1, r.cfg.Limits.UnresponsiveRuns)
		default:
			if ferr := r.state.store.Finish(); ferr != nil {
				err = fmt.Errorf("crawl: %w", ferr)
			}
		}
		sum = r.state.wholeCrawl(sum, r.totals(), st.Unfinished+left)
	}
	if sum.Interrupted && ctx.Err() != nil {
		err = fmt.Errorf("crawl interrupted: %w", errors.Join(ctx.Err(), err))
	}
	return sum, err
}

// createFiles creates the output and failed files of a crawl without state,
// and starts flushing them every second so that a reader sees progress and
// a crash loses little; closeFiles stops that and makes the final flush.
func (r *runner) createFiles() error {
	var err error
	if r.out, err = createLineWriter(r.cfg.Output); err != nil {
		return fmt.Errorf("crawl: output: %w", err)
	}
	if r.failed, err = createLineWriter(r.cfg.FailedPath()); err != nil {
		_ = r.out.Close()
		return fmt.Errorf("crawl: failed file: %w", err)
	}
	r.stopFlush = make(chan struct{})
	r.flushing.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-r.stopFlush:
				return
			case <-t.C:
				_, _ = r.out.Flush() // an error sticks and is returned by Close
				_, _ = r.failed.Flush()
			}
		}
	})
	return nil
}

func (r *runner) closeFiles() error {
	close(r.stopFlush)
	r.flushing.Wait()
	return errors.Join(r.out.Close(), r.failed.Close())
}
