package benchmarks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/mockapi"
)

// ManyHostsName names the many-host scenario for --scenario.
const ManyHostsName = "many-hosts"

// ManyHosts is the many-host scenario: a listing (a fast mock) whose items'
// detail URLs are spread over separate mock servers on 127.0.0.1, crawled by
// `politely crawl`'s default config (with MaxTotal as
// limits.concurrency.max_total when set). Healthy hosts have Slots slots of
// Latency with Queue queued (503 + Retry-After beyond); with Mixed, every
// second one has half of them, and with Spread > 1 their service times
// spread evenly on a log scale from Latency to Spread x Latency. Gated hosts
// are in a blackout from their start (503 + Retry-After until it ends), and
// slow hosts take SlowLatency per request (Slots slots, SlowItems items
// each). Quota hosts serve QuotaRate requests a second (burst QuotaBurst) and
// answer a bare 429 beyond it (no Retry-After, no quota headers). Black holes
// never answer an item (BlackHoleItems each): each attempt waits for the
// crawl's timeout, which the config's hosts: sets to BlackHoleTimeout for them.
// Flaky hosts answer as healthy ones but for a FlakyHang share of their
// requests, which hang until the crawl's timeout (BlackHoleTimeout too),
// whatever the attempt (FlakyItems each; robots.txt always answers).
// Refusing hosts refuse every connection (nothing listens on their port;
// BlackHoleItems each), as a host that is down does. Tarpits answer every
// item with its headers and the start of a body, then nothing until the
// crawl's timeout (BlackHoleTimeout; BlackHoleItems each).
type ManyHosts struct {
	Healthy, Gated, Slow int           // hosts of each role
	Quota, BlackHoles    int           // hosts of each role
	Flaky, Refusing      int           // hosts of each role
	Tarpits, Redirecting int           // hosts of each role
	ItemsPerHost         int           // items of each healthy, gated and quota host
	Slots, Queue         int           // every host's capacity
	Mixed                bool          // every second healthy host has half the slots and queue
	Latency              time.Duration // a healthy or gated host's service time
	Spread               float64       // the slowest healthy host's service time over Latency (<= 1: all the same)
	Blackout             time.Duration // a gated host answers 503 for this long after it starts
	SlowLatency          time.Duration // a slow host's service time
	SlowItems            int           // each slow host's items
	QuotaRate            float64       // a quota host's requests per second
	QuotaBurst           int           // and its bucket
	BlackHoleItems       int           // each black hole's items
	BlackHoleTimeout     time.Duration // a black hole's and a flaky host's timeout in the config's hosts:
	DeadRobots           bool          // black holes hang their robots.txt too
	FlakyItems           int           // each flaky host's items
	FlakyHang            float64       // the share of a flaky host's requests that hang
	MaxTotal             int           // limits.concurrency.max_total; 0 leaves the default
	Cap                  time.Duration // the run stops after this long
}

// ManyHostsShape changes the many-host scenario's hosts; a zero field keeps
// the default (8 healthy hosts of 20 ms, one gated, one slow).
type ManyHostsShape struct {
	Healthy, Gated, Slow int           // hosts of each role; -1 for none gated or slow
	Quota, BlackHoles    int           // hosts behind a bare-429 rate quota, hosts that never answer (default none)
	Flaky                int           // hosts whose requests hang now and then (default none)
	Refusing             int           // hosts that refuse every connection (default none; BlackHoleItems each)
	Tarpits              int           // hosts that send headers and then nothing (default none; BlackHoleItems each)
	Redirecting          int           // hosts that redirect each item to the first black hole (default none; BlackHoleItems each; one black hole at least)
	FlakyItems           int           // each flaky host's items (default 40)
	FlakyHang            float64       // the share of a flaky host's requests that hang (default 0.4)
	Latency              time.Duration // a healthy host's service time
	Spread               float64       // the slowest healthy host's service time over Latency (default 1)
	Blackout             time.Duration // a gated host's blackout (default 5 s at scale 1)
	BlackHoleItems       int           // each black hole's items (default 4)
	BlackHoleTimeout     time.Duration // a black hole's and a flaky host's timeout in the config's hosts: (default 2 s at scale 1)
	DeadRobots           bool          // black holes hang their robots.txt too (default: they answer it)
	MaxTotal             int           // limits.concurrency.max_total
	Mixed                bool          // every second healthy host has half the capacity
}

// NewManyHosts is the scenario at scale (0 < scale <= 1) in shape: by default
// 8 healthy hosts of 4 slots x 20 ms with 4 queued (200 req/s each), one in a
// 5 s blackout and one slow host of 1 s per request; at scale 1 a healthy host
// needs 2.5 s for its items at its pace, and a gated one 2.5 s after its 5 s.
func NewManyHosts(scale float64, shape ManyHostsShape) (ManyHosts, error) {
	if !(scale > 0 && scale <= 1) {
		return ManyHosts{}, fmt.Errorf("benchmarks: scale %v: want 0 < scale <= 1", scale)
	}
	if shape.Healthy < 0 || shape.Gated < -1 || shape.Slow < -1 || shape.Quota < 0 || shape.BlackHoles < 0 || shape.BlackHoleItems < 0 ||
		shape.Latency < 0 || shape.Blackout < 0 || shape.BlackHoleTimeout < 0 || shape.MaxTotal < 0 ||
		shape.Spread < 0 || math.IsNaN(shape.Spread) || math.IsInf(shape.Spread, 0) ||
		shape.Flaky < 0 || shape.FlakyItems < 0 || shape.Refusing < 0 || shape.Tarpits < 0 || shape.Redirecting < 0 || !(shape.FlakyHang >= 0 && shape.FlakyHang < 1) {
		return ManyHosts{}, fmt.Errorf("benchmarks: many hosts: %+v: want no count below zero (-1 for none gated or slow), a latency, blackout and timeout of 0 or more, a finite spread of 0 or more and a flaky hang share in [0, 1)", shape)
	}
	pick := func(n, def int) int {
		switch n {
		case 0:
			return def
		case -1:
			return 0
		}
		return n
	}
	latency := cmp.Or(shape.Latency, 20*time.Millisecond)
	const slots = 4
	d := func(s float64) time.Duration { return time.Duration(s * scale * float64(time.Second)) }
	// 2.5 s of a host's pace at scale 1.
	items := int(2.5 * scale * slots * float64(time.Second) / float64(latency))
	blackout := cmp.Or(shape.Blackout, max(time.Second, d(5)).Round(time.Second))
	spread := max(1, shape.Spread)
	holeTimeout := cmp.Or(shape.BlackHoleTimeout, max(500*time.Millisecond, d(2)))
	flakyItems, flakyHang := cmp.Or(shape.FlakyItems, 40), cmp.Or(shape.FlakyHang, 0.4)
	return ManyHosts{
		Healthy: pick(shape.Healthy, 8), Gated: pick(shape.Gated, 1), Slow: pick(shape.Slow, 1),
		Quota: shape.Quota, BlackHoles: blackHoles(shape), Redirecting: shape.Redirecting, Flaky: shape.Flaky, FlakyItems: flakyItems, FlakyHang: flakyHang, Refusing: shape.Refusing, Tarpits: shape.Tarpits,
		ItemsPerHost: max(20, items), Slots: slots, Queue: 4, Mixed: shape.Mixed, Latency: latency, Spread: spread,
		Blackout: blackout, SlowLatency: time.Second, SlowItems: max(4, int(24*scale)),
		QuotaRate: 100, QuotaBurst: 10, BlackHoleItems: cmp.Or(shape.BlackHoleItems, 4), BlackHoleTimeout: holeTimeout, DeadRobots: shape.DeadRobots,
		MaxTotal: shape.MaxTotal, Cap: d(40) + blackout + 10*time.Second + time.Duration(10*spread*float64(items)*float64(latency)/slots) +
			blackHoleIdeal(holeTimeout) + flakySerial(shape.Flaky, flakyItems, flakyHang, holeTimeout),
	}, nil
}

// blackHoles is the shape's black holes: one at least when hosts redirect
// to one.
func blackHoles(shape ManyHostsShape) int {
	if shape.Redirecting > 0 {
		return max(1, shape.BlackHoles)
	}
	return shape.BlackHoles
}

// Host roles in a ManyHostsResult.
const (
	RoleHealthy   = "healthy"
	RoleBlackout  = "blackout"
	RoleSlow      = "slow"
	RoleQuota     = "quota"
	RoleBlackHole = "black hole"
	RoleFlaky     = "flaky"
	RoleRefusing  = "refusing"
	RoleTarpit    = "tarpit"
	RoleRedirect  = "redirecting"
)

// HostResult is what one host of the many-host scenario got.
type HostResult struct {
	Host    string        // host:port
	Role    string        // RoleHealthy, RoleBlackout or RoleSlow
	Items   int           // its items
	Done    int           // its items answered 200
	Last    time.Duration // when its last item was done, after the crawl started
	Ideal   time.Duration // the least time its items need (a blackout included)
	Optimum float64       // its best goodput in items/s
	Early   int64         // requests that arrived while it had told the client to wait
	Served  int           // most requests it had in flight
}

// Goodput is the host's items per second from when it could serve (after a
// blackout) to its last item.
func (h HostResult) Goodput(blackout time.Duration) float64 {
	from := time.Duration(0)
	if h.Role == RoleBlackout {
		from = blackout
	}
	if h.Last <= from {
		return 0
	}
	return float64(h.Done) / (h.Last - from).Seconds()
}

// ManyHostsResult is a run of the many-host scenario.
type ManyHostsResult struct {
	Scenario ManyHosts
	Hosts    []HostResult
	Elapsed  time.Duration // the whole crawl, listing included
	Ideal    time.Duration // the slowest host's Ideal
	Listed   time.Duration // when the listing's last page was read, after the crawl started
	Lost     int           // items not done, but for black holes' and flaky hosts'
	GaveUp   int           // black holes' items not done (none can be)
	Holes    failedByWhy   // black holes' items in the failed file, by why
	Refused  failedByWhy   // refusing hosts' items in the failed file, by why
	Tarpit   failedByWhy   // tarpits' items in the failed file, by why
	Redirect failedByWhy   // redirecting hosts' items in the failed file, by why
	Flaky    failedByWhy   // flaky hosts' items in the failed file, by why
	Err      error         // the crawl's error, if any
}

// WorstHealthyRatio is the lowest goodput over optimum of the healthy hosts.
func (r ManyHostsResult) WorstHealthyRatio() float64 {
	worst := math.Inf(1)
	for _, h := range r.Hosts {
		if h.Role == RoleHealthy {
			worst = min(worst, h.Goodput(0)/h.Optimum)
		}
	}
	return worst
}

// healthyAt counts the healthy hosts that kept at least ratio of their optimum.
func (r ManyHostsResult) healthyAt(ratio float64) int {
	n := 0
	for _, h := range r.Hosts {
		if h.Role == RoleHealthy && h.Goodput(0)/h.Optimum >= ratio {
			n++
		}
	}
	return n
}

// TimeRatio is the crawl's time over the ideal.
func (r ManyHostsResult) TimeRatio() float64 { return r.Elapsed.Seconds() / r.Ideal.Seconds() }

// GatedEarly is the number of requests the gated hosts received before the
// Retry-After they had given.
func (r ManyHostsResult) GatedEarly() int64 {
	var n int64
	for _, h := range r.Hosts {
		if h.Role == RoleBlackout {
			n += h.Early
		}
	}
	return n
}

// RunManyHosts starts the scenario's servers, crawls them with c in a
// temporary directory under dir and measures each host.
func RunManyHosts(ctx context.Context, mh ManyHosts, c Crawler, dir string) (ManyHostsResult, error) {
	res := ManyHostsResult{Scenario: mh}
	if mh.Healthy+mh.Gated+mh.Slow+mh.Quota+mh.BlackHoles == 0 {
		return res, fmt.Errorf("benchmarks: %s: no hosts", ManyHostsName)
	}
	// The listing's rotation has each host as many times as its items take
	// places of unit items: the fewest items of a role present.
	unit := mh.ItemsPerHost
	if mh.Slow > 0 {
		unit = min(unit, mh.SlowItems)
	}
	if mh.BlackHoles+mh.Refusing+mh.Tarpits+mh.Redirecting > 0 {
		unit = min(unit, mh.BlackHoleItems)
	}
	if mh.Flaky > 0 {
		unit = min(unit, mh.FlakyItems)
	}
	places := func(role string) int {
		switch role {
		case RoleSlow:
			return max(1, mh.SlowItems/unit)
		case RoleBlackHole, RoleRefusing, RoleTarpit, RoleRedirect:
			return max(1, mh.BlackHoleItems/unit)
		case RoleFlaky:
			return max(1, mh.FlakyItems/unit)
		}
		return max(1, mh.ItemsPerHost/unit)
	}
	n := 0
	for _, role := range mh.roles() {
		n += places(role)
	}
	items := n * unit
	servers, roles, scs, err := mh.start(items)
	defer func() {
		for _, s := range servers {
			_ = s.Close() // the run's figures are taken
		}
	}()
	if err != nil {
		return res, err
	}
	hosts := make([]string, len(roles))
	for i, s := range servers {
		u, _ := url.Parse(s.URL()) // Start's URL parses
		hosts[i] = u.Host
	}
	var rotation []string
	for round := 0; len(rotation) < n; round++ {
		for i, role := range roles {
			if round < places(role) {
				rotation = append(rotation, hosts[i])
			}
		}
	}
	listing, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{
		Name: ManyHostsName, Items: items, PerPage: crawlPerPage, DetailHosts: rotation}})
	if err != nil {
		return res, fmt.Errorf("benchmarks: %s: listing: %w", ManyHostsName, err)
	}
	servers = append(servers, listing)

	work, err := os.MkdirTemp(dir, "many-hosts-*")
	if err != nil {
		return res, fmt.Errorf("benchmarks: %s: %w", ManyHostsName, err)
	}
	defer os.RemoveAll(work)
	rec := &doneTimes{next: http.DefaultTransport.(*http.Transport).Clone(), at: map[string][]time.Time{}}
	// As politely crawl's own transport: an idle connection kept for every
	// request in flight, on every host.
	rec.next.MaxIdleConns, rec.next.MaxIdleConnsPerHost = cmp.Or(mh.MaxTotal, maxIdleConns), limiter.DefaultMax
	defer rec.next.CloseIdleConnections()
	cctx, cancel := context.WithTimeout(ctx, mh.Cap)
	defer cancel()
	config := mh.config(hosts, roles)
	start := time.Now()
	res.Err = c(cctx, CrawlJob{URL: listing.URL(), Pagination: mockapi.PaginationPage,
		Output: filepath.Join(work, "out.jsonl"), Failed: filepath.Join(work, "out.failed.jsonl"),
		Config: config, Base: rec, Progress: func(int64, int) {}})
	res.Elapsed = time.Since(start)
	failed := filepath.Join(work, "out.failed.jsonl")
	if res.Flaky, err = countFailed(failed, hosts, roles, RoleFlaky); err != nil {
		return res, err
	}
	if res.Holes, err = countFailed(failed, hosts, roles, RoleBlackHole); err != nil {
		return res, err
	}
	if res.Refused, err = countFailed(failed, hosts, roles, RoleRefusing); err != nil {
		return res, err
	}
	if res.Tarpit, err = countFailed(failed, hosts, roles, RoleTarpit); err != nil {
		return res, err
	}
	if res.Redirect, err = countFailed(failed, hosts, roles, RoleRedirect); err != nil {
		return res, err
	}

	if pages := rec.at[strings.TrimPrefix(listing.URL(), "http://")]; len(pages) > 0 {
		res.Listed = slices.MaxFunc(pages, time.Time.Compare).Sub(start)
	}
	share := mh.fairShare()
	var busy time.Duration
	for i, s := range servers[:len(roles)] {
		h := HostResult{Host: hosts[i], Role: roles[i], Items: places(roles[i]) * unit}
		sc, st := scs[i], s.Stats()
		h.Optimum = sc.OptimumAt(mh.Blackout)
		if roles[i] == RoleHealthy {
			h.Optimum = min(h.Optimum, share/sc.Latency.Seconds())
		}
		h.Ideal = time.Duration(float64(h.Items) / h.Optimum * float64(time.Second))
		switch roles[i] {
		case RoleBlackout:
			h.Ideal += mh.Blackout
		case RoleBlackHole, RoleFlaky, RoleTarpit, RoleRedirect:
			// Its items all at once, each attempt until the timeout,
			// each retry after the longest backoff.
			h.Optimum, h.Ideal = 0, blackHoleIdeal(mh.BlackHoleTimeout)
		case RoleRefusing:
			h.Optimum, h.Ideal = 0, blackHoleIdeal(0) // each attempt refused at once
		}
		times := rec.at[hosts[i]]
		h.Done = len(times)
		if h.Done > 0 {
			h.Last = slices.MaxFunc(times, time.Time.Compare).Sub(start)
		}
		h.Early, h.Served = st.EarlyRequests, st.MaxInFlight
		switch roles[i] {
		case RoleBlackHole, RoleRefusing, RoleTarpit, RoleRedirect:
			res.GaveUp += h.Items - min(h.Done, h.Items)
		case RoleFlaky:
		default:
			res.Lost += h.Items - min(h.Done, h.Items)
			busy += time.Duration(h.Items) * sc.Latency
		}
		res.Ideal = max(res.Ideal, h.Ideal)
		res.Hosts = append(res.Hosts, h)
	}
	// Every item's service time, max_total at a time.
	res.Ideal = max(res.Ideal, busy/time.Duration(cmp.Or(mh.MaxTotal, maxIdleConns)))
	if res.Err != nil && !errors.Is(res.Err, context.DeadlineExceeded) {
		return res, fmt.Errorf("benchmarks: %s: crawl: %w", ManyHostsName, res.Err)
	}
	return res, nil
}

// politely crawl's default limits.retries and limits.backoff.base.
const (
	crawlRetries     = 4
	crawlBackoffBase = 250 * time.Millisecond
)

// blackHoleIdeal is the least time a black hole's items take when each one
// is tried as often as the crawl's retries allow: every attempt until
// timeout, each retry after the longest backoff.
func blackHoleIdeal(timeout time.Duration) time.Duration {
	return time.Duration(1+crawlRetries)*timeout + crawlBackoffBase*(1<<crawlRetries-1)
}

// config is the crawl's config beyond the bench's defaults, for the hosts
// (host:port) of roles.
func (mh ManyHosts) config(hosts, roles []string) string {
	var b strings.Builder
	if mh.MaxTotal > 0 {
		fmt.Fprintf(&b, "limits: {concurrency: {max_total: %d}}\n", mh.MaxTotal)
	}
	if mh.BlackHoles+mh.Flaky+mh.Tarpits > 0 {
		b.WriteString("hosts:\n")
	}
	for i, role := range roles {
		if role == RoleBlackHole || role == RoleFlaky || role == RoleTarpit {
			fmt.Fprintf(&b, "  %q: {timeout: %v}\n", hosts[i], mh.BlackHoleTimeout)
		}
	}
	return b.String()
}

// roles lists the role of each host, in the order start starts them.
func (mh ManyHosts) roles() []string {
	var roles []string
	for _, r := range []struct {
		role string
		n    int
	}{{RoleHealthy, mh.Healthy}, {RoleBlackout, mh.Gated}, {RoleQuota, mh.Quota}, {RoleSlow, mh.Slow}, {RoleBlackHole, mh.BlackHoles}, {RoleFlaky, mh.Flaky}, {RoleRefusing, mh.Refusing}, {RoleTarpit, mh.Tarpits}, {RoleRedirect, mh.Redirecting}} {
		for range r.n {
			roles = append(roles, r.role)
		}
	}
	return roles
}

// maxIdleConns is the idle connections politely crawl keeps over all hosts
// by default (limits.concurrency.max_total's default).
const maxIdleConns = 1024

// fairShare is the requests in service each host that is not gated gets
// when max_total (MaxTotal, or its default) is shared out evenly over them:
// with a ceiling below the hosts' sum (300 hosts of 4 slots pass the
// default), a healthy host's optimum is at most this share. A gated host's
// is not: by the end of its blackout most others are done.
func (mh ManyHosts) fairShare() float64 {
	return float64(cmp.Or(mh.MaxTotal, maxIdleConns)) / float64(max(1, mh.Healthy+mh.Slow+mh.Quota+mh.BlackHoles+mh.Flaky+mh.Refusing+mh.Tarpits+mh.Redirecting))
}

// start starts the detail hosts of the items ids 1..items in the order roles
// lists them; roles and scs list their roles and scenarios.
func (mh ManyHosts) start(items int) (servers []*mockapi.Server, roles []string, scs []mockapi.Scenario, err error) {
	base := mockapi.Scenario{Items: items, Latency: mh.Latency, Capacity: mockapi.Capacity{Slots: mh.Slots, Queue: mh.Queue}}
	add := func(role string, sc mockapi.Scenario) {
		if err != nil {
			return
		}
		var s *mockapi.Server
		sc.Name = ManyHostsName + "-" + role
		if s, err = mockapi.Start(mockapi.Config{Scenario: sc}); err != nil {
			err = fmt.Errorf("benchmarks: %s: %s host: %w", ManyHostsName, role, err)
			return
		}
		servers, roles, scs = append(servers, s), append(roles, role), append(scs, sc)
	}
	healthy, firstHole := 0, "" // the redirecting hosts' target: started before them
	for _, role := range mh.roles() {
		sc := base
		switch role {
		case RoleHealthy:
			if mh.Mixed && healthy%2 == 1 {
				sc.Capacity.Slots, sc.Capacity.Queue = max(1, mh.Slots/2), mh.Queue/2
			}
			if mh.Spread > 1 && mh.Healthy > 1 {
				f := math.Pow(mh.Spread, float64(healthy)/float64(mh.Healthy-1))
				sc.Latency = time.Duration(f * float64(mh.Latency)).Round(time.Millisecond)
			}
			healthy++
		case RoleBlackout:
			sc.Blackout = mockapi.Blackout{For: mh.Blackout}
		case RoleQuota:
			sc.Quota = mockapi.Quota{Rate: mh.QuotaRate, Burst: mh.QuotaBurst, Headers: mockapi.QuotaHeadersNone, NoRetryAfter: true}
		case RoleSlow:
			sc.Latency = mh.SlowLatency
		case RoleBlackHole:
			// Every attempt hangs until the client gives up (or an hour).
			sc.Faults = mockapi.Faults{Hang: 1, TransientAttempts: math.MaxInt32, HangMax: time.Hour, Robots: mh.DeadRobots}
		case RoleTarpit:
			// Headers and a tenth of the body, then the rest over an hour.
			sc.Faults = mockapi.Faults{SlowBody: 1, TransientAttempts: math.MaxInt32, SlowBodyDuration: time.Hour}
		case RoleFlaky:
			// The same attempts of the same items hang in every run.
			sc.Faults = mockapi.Faults{Hang: mh.FlakyHang, TransientAttempts: math.MaxInt32, HangMax: time.Hour}
		case RoleRedirect:
			sc.RedirectTo = firstHole
		}
		add(role, sc)
		if role == RoleBlackHole && firstHole == "" && err == nil {
			u, _ := url.Parse(servers[len(servers)-1].URL()) // Start's URL parses
			firstHole = u.Host
		}
		if role == RoleRefusing && err == nil {
			err = servers[len(servers)-1].Close() // nothing listens on its port from now on
		}
	}
	return servers, roles, scs, err
}

// doneTimes is the crawl's base RoundTripper: it records, per host, when
// each listing page or detail request answered 200.
type doneTimes struct {
	next *http.Transport
	mu   sync.Mutex
	at   map[string][]time.Time
}

func (d *doneTimes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusOK && strings.HasPrefix(r.URL.Path, "/items") {
		resp.Body = &doneBody{ReadCloser: resp.Body, done: func() {
			d.mu.Lock()
			d.at[r.URL.Host] = append(d.at[r.URL.Host], time.Now())
			d.mu.Unlock()
		}}
	}
	return resp, err
}

// doneBody calls done once, when its body has been read to the end.
type doneBody struct {
	io.ReadCloser
	done func()
	once sync.Once
}

func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.done)
	}
	return n, err
}
