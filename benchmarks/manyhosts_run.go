package benchmarks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/politely/politely/internal/cputime"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/mockapi"
)

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
	var (
		servers []hostServer
		roles   []string
		scs     []mockapi.Scenario
		err     error
	)
	// The servers' goroutines, and those they start, carry the label.
	pprof.Do(ctx, mockLabel, func(context.Context) { servers, roles, scs, err = mh.start(items) })
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
		hosts[i] = hostOf(s.URL())
	}
	rotation := mh.rotation(hosts, roles, places, unit)
	detailHosts := rotation
	if mh.TLS != nil {
		detailHosts = make([]string, len(rotation))
		for i, h := range rotation {
			detailHosts[i] = "https://" + h
		}
	}
	var listing *mockapi.Server
	pprof.Do(ctx, mockLabel, func(context.Context) {
		listing, err = mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{
			Name: ManyHostsName, Items: items, PerPage: crawlPerPage, DetailHosts: detailHosts}, TLS: mh.TLS})
	})
	if err != nil {
		return res, fmt.Errorf("benchmarks: %s: listing: %w", ManyHostsName, err)
	}
	servers = append(servers, hostServer(listing))
	listingHost := hostOf(listing.URL())

	work, err := os.MkdirTemp(dir, "many-hosts-*")
	if err != nil {
		return res, fmt.Errorf("benchmarks: %s: %w", ManyHostsName, err)
	}
	defer os.RemoveAll(work)
	rec := &doneTimes{next: http.DefaultTransport.(*http.Transport).Clone(), at: map[string][]time.Time{},
		pages: map[int]time.Time{}, open: map[string]*openCount{}}
	// As politely crawl's own transport: an idle connection kept for every
	// request in flight, on every host, and over all hosts for as many as
	// max_total lets out at once, a default crawl's at least.
	rec.next.MaxIdleConns, rec.next.MaxIdleConnsPerHost = max(mh.MaxTotal, maxIdleConns), limiter.DefaultMax
	if mh.TLS != nil {
		rec.next.TLSClientConfig = mh.TLS.ClientConfig() // HTTP/2 offered: the clone keeps ForceAttemptHTTP2
	}
	var dials atomic.Int64
	dial := rec.next.DialContext
	rec.next.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dial(ctx, network, addr)
	}
	defer rec.next.CloseIdleConnections()
	cctx, cancel := context.WithTimeout(ctx, mh.Cap)
	defer cancel()
	config := mh.config(hosts, roles)
	if mh.Profile != nil {
		if err := pprof.StartCPUProfile(mh.Profile); err != nil {
			return res, fmt.Errorf("benchmarks: %s: %w", ManyHostsName, err)
		}
	}
	start, cpu := time.Now(), cputime.Process()
	pprof.Do(cctx, crawlLabel, func(cctx context.Context) {
		res.Err = c(cctx, CrawlJob{URL: listing.URL(), Pagination: mockapi.PaginationPage,
			Output: filepath.Join(work, "out.jsonl"), Failed: filepath.Join(work, "out.failed.jsonl"),
			Config: config, Base: rec, Progress: func(int64, int) {}})
	})
	res.Elapsed, res.CPU = time.Since(start), cputime.Process()-cpu
	if mh.Profile != nil {
		pprof.StopCPUProfile()
	}
	rec.mu.Lock()
	res.Dials, res.Requests, res.HTTP2 = int(dials.Load()), rec.requests, rec.http2
	rec.mu.Unlock()
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

	written, err := countWritten(filepath.Join(work, "out.jsonl"))
	if err != nil {
		return res, err
	}
	if pages := rec.at[listingHost]; len(pages) > 0 {
		res.Listed = slices.MaxFunc(pages, time.Time.Compare).Sub(start)
	}
	share := mh.fairShare()
	var busy time.Duration
	for i, s := range servers[:len(roles)] {
		h := HostResult{Host: hosts[i], Role: roles[i], Items: places(roles[i]) * unit}
		sc, st := scs[i], s.Stats()
		h.Optimum = sc.OptimumAt(mh.Blackout)
		if roles[i] == RoleHealthy || roles[i] == RoleFaulty {
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
		h.Done = min(len(times), written[hosts[i]]) // a 200 cut short was read to its end, then retried
		if h.Done > 0 {
			h.Last = slices.MaxFunc(times, time.Time.Compare).Sub(start)
		}
		h.Early, h.Served = st.EarlyRequests, st.MaxInFlight
		h.Refused = st.Throttled()
		if sc.Capacity.Slots > 0 {
			h.Capacity = sc.Capacity.Slots + sc.Capacity.Queue
		}
		if oc := rec.open[hosts[i]]; oc != nil {
			h.Sent = oc.most
		}
		if at, ok := rec.pages[firstPage(rotation, hosts[i])]; ok {
			h.FirstListed = at.Sub(start)
		}
		if at, ok := rec.pages[lastPage(rotation, hosts[i], items)]; ok {
			h.LastListed = at.Sub(start)
		}
		if oc := rec.open[hosts[i]]; oc != nil && !oc.first.IsZero() {
			h.FirstSent = oc.first.Sub(start)
		}
		if oc := rec.open[hosts[i]]; oc != nil && !oc.firstItem.IsZero() {
			h.FirstItemSent = oc.firstItem.Sub(start)
		}
		if len(times) > 0 {
			h.FirstDone = slices.MinFunc(times, time.Time.Compare).Sub(start)
		}
		if took := rec.took[hosts[i]]; len(took) > 0 {
			slices.Sort(took)
			h.Answered, h.Service = took[len(took)/10], sc.Latency
		}
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
	rec.mu.Lock()
	res.ReadAhead = readAhead(rec.pages, rec.at, listingHost, items)
	rec.mu.Unlock()
	res.ReadAheadCap, res.MaxTotal = crawlReadAhead(mh.MaxTotal), cmp.Or(mh.MaxTotal, maxIdleConns)
	// Every item's service time, max_total at a time.
	res.Ideal = max(res.Ideal, busy/time.Duration(cmp.Or(mh.MaxTotal, maxIdleConns)))
	if res.Err != nil && !errors.Is(res.Err, context.DeadlineExceeded) {
		return res, fmt.Errorf("benchmarks: %s: crawl: %w", ManyHostsName, res.Err)
	}
	return res, nil
}

// hostOf is the host:port of a server's URL (Start's, which parses).
func hostOf(serverURL string) string {
	u, _ := url.Parse(serverURL)
	return u.Host
}

// faultyAttempts is how many first attempts at a faulty host's item may
// fail: fewer than the crawl's, so that none of its items is lost.
const faultyAttempts = 2

// rotation lists the detail host of each place of unit items in the listing
// (see mockapi.Scenario.DetailHosts: item id goes to rotation[id mod its
// length]): the hosts in turn, each as often as places says; with Grouped,
// each host's items one after another, the hosts that are not healthy
// first, so that their items are read before the healthy hosts'.
func (mh ManyHosts) rotation(hosts, roles []string, places func(role string) int, unit int) []string {
	var rotation []string
	if !mh.Grouped {
		n := 0
		for _, role := range roles {
			n += places(role)
		}
		for round := 0; len(rotation) < n; round++ {
			for i, role := range roles {
				if round < places(role) {
					rotation = append(rotation, hosts[i])
				}
			}
		}
		return rotation
	}
	var order []string // item 1's host first
	for _, healthy := range []bool{false, true} {
		for i, role := range roles {
			if (role == RoleHealthy) == healthy {
				for range places(role) * unit {
					order = append(order, hosts[i])
				}
			}
		}
	}
	rotation = make([]string, len(order))
	for k, h := range order {
		rotation[(k+1)%len(order)] = h // item k+1
	}
	return rotation
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

// start starts the detail hosts of the items ids 1..items in the order roles
// lists them; roles and scs list their roles and scenarios.
func (mh ManyHosts) start(items int) (servers []hostServer, roles []string, scs []mockapi.Scenario, err error) {
	base := mockapi.Scenario{Items: items, Latency: mh.Latency, Capacity: mockapi.Capacity{Slots: mh.Slots, Queue: mh.Queue}}
	add := func(role string, sc mockapi.Scenario) {
		if err != nil {
			return
		}
		sc.Name = ManyHostsName + "-" + role
		if role == RoleRefusing {
			r, rerr := startRefusing() // its port held, never listened on, until the run's end
			if rerr != nil {
				err = rerr
				return
			}
			servers, roles, scs = append(servers, r), append(roles, role), append(scs, sc)
			return
		}
		s, serr := mockapi.Start(mockapi.Config{Scenario: sc, TLS: mh.TLS})
		if serr != nil {
			err = fmt.Errorf("benchmarks: %s: %s host: %w", ManyHostsName, role, serr)
			return
		}
		var hs hostServer = s
		if role == RoleFlaky && mh.FlakyDies > 0 {
			if hs, err = startDying(s, mh.FlakyDies, mh.TLS); err != nil {
				_ = s.Close() // not started
				return
			}
		}
		servers, roles, scs = append(servers, hs), append(roles, role), append(scs, sc)
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
		case RoleFaulty:
			// A third of the failures each: a 500, a reset, a body cut short.
			f := mh.FaultyShare / 3
			sc.Faults = mockapi.Faults{Error500: f, Reset: f, Malformed: f, TransientAttempts: faultyAttempts}
		case RoleBlackout:
			sc.Blackout = mockapi.Blackout{For: mh.Blackout}
		case RoleQuota:
			sc.Quota = mockapi.Quota{Rate: mh.QuotaRate, Burst: mh.QuotaBurst, Headers: mockapi.QuotaHeadersNone, NoRetryAfter: true}
			if mh.QuotaHeaders {
				sc.Quota.Headers, sc.Quota.NoRetryAfter = mockapi.QuotaHeadersBoth, false
			}
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
		switch role {
		case RoleHealthy, RoleFaulty, RoleBlackout:
			sc.Jitter = time.Duration(mh.Jitter * float64(sc.Latency))
		}
		add(role, sc)
		if role == RoleBlackHole && firstHole == "" && err == nil {
			firstHole = servers[len(servers)-1].URL() // its scheme too: a redirect to it over HTTPS stays HTTPS
		}
	}
	return servers, roles, scs, err
}

// firstPage is the listing page (from 1) that holds the first item whose
// detail host is host, with rotation as mockapi.Scenario.DetailHosts; 0 if
// none does.
func firstPage(rotation []string, host string) int {
	first := 0 // the least item id k >= 1 with rotation[k mod len] == host
	for i, h := range rotation {
		if h == host {
			k := i
			if k == 0 {
				k = len(rotation)
			}
			if first == 0 || k < first {
				first = k
			}
		}
	}
	if first == 0 {
		return 0
	}
	return (first-1)/crawlPerPage + 1
}

// lastPage is the listing page (from 1) that holds the last of the items
// (ids 1 to items) whose detail host is host, with rotation as
// mockapi.Scenario.DetailHosts; 0 if none does.
func lastPage(rotation []string, host string, items int) int {
	for k := items; k >= 1 && k > items-len(rotation); k-- {
		if rotation[k%len(rotation)] == host {
			return (k-1)/crawlPerPage + 1
		}
	}
	return 0
}

// crawlReadAhead is how many items politely crawl reads ahead of those done
// at most, with limits.concurrency.max_total maxTotal (0: the default): its
// engine's queue of 4 x max_total (1,024 at least), and the hosts' waiting
// rooms up to as many again (crawl's queueSize and engine.WithQueueSize).
func crawlReadAhead(maxTotal int) int { return 2 * 4 * max(maxIdleConns, maxTotal) }

// readAhead is the most items listed (pages read, crawlPerPage each, items
// in all) and not yet done (the times in at of every host but listing) at
// any moment.
func readAhead(pages map[int]time.Time, at map[string][]time.Time, listing string, items int) int {
	type event struct {
		t time.Time
		n int
	}
	var evs []event
	for p, t := range pages {
		evs = append(evs, event{t, max(0, min(crawlPerPage, items-(p-1)*crawlPerPage))})
	}
	for host, times := range at {
		if host == listing {
			continue
		}
		for _, t := range times {
			evs = append(evs, event{t, -1})
		}
	}
	slices.SortFunc(evs, func(a, b event) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return b.n - a.n // a page before the items done at its instant
	})
	most, now := 0, 0
	for _, e := range evs {
		now += e.n
		most = max(most, now)
	}
	return most
}

// The labels of a profile's samples (see ManyHosts.Profile).
var (
	mockLabel  = pprof.Labels("side", "mock")
	crawlLabel = pprof.Labels("side", "crawl")
)

// doneTimes is the crawl's base RoundTripper: it records, per host, when
// each listing page or detail request answered 200 and how long each
// detail's answer took (from the request's start to its body's end), when
// each listing page (its page query) was read, and the most requests the
// crawl had open at each host at once (from the request's start to its
// body's end or close); and how many requests it sent, and how many of
// them were answered over HTTP/2.
type doneTimes struct {
	next     *http.Transport
	mu       sync.Mutex
	at       map[string][]time.Time
	took     map[string][]time.Duration
	pages    map[int]time.Time
	open     map[string]*openCount
	requests int // sent
	http2    int // answered over HTTP/2
}

// openCount is a host's requests open at the base RoundTripper, the most at
// once, and when its first request and its first item's were sent.
type openCount struct {
	now, most        int
	first, firstItem time.Time
}

func (d *doneTimes) RoundTrip(r *http.Request) (*http.Response, error) {
	host, now := r.URL.Host, time.Now()
	d.mu.Lock()
	d.requests++
	oc := d.open[host]
	if oc == nil {
		oc = &openCount{first: now}
		d.open[host] = oc
	}
	if oc.firstItem.IsZero() && strings.HasPrefix(r.URL.Path, "/items/") {
		oc.firstItem = now
	}
	oc.now++
	oc.most = max(oc.most, oc.now)
	d.mu.Unlock()
	var closeOnce sync.Once
	closed := func() { closeOnce.Do(func() { d.mu.Lock(); oc.now--; d.mu.Unlock() }) }
	resp, err := d.next.RoundTrip(r)
	if err != nil {
		closed()
		return resp, err
	}
	if resp.ProtoMajor == 2 {
		d.mu.Lock()
		d.http2++
		d.mu.Unlock()
	}
	body := &doneBody{ReadCloser: resp.Body, ended: closed}
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(r.URL.Path, "/items") {
		page, perr := strconv.Atoi(r.URL.Query().Get("page"))
		item, start := strings.HasPrefix(r.URL.Path, "/items/"), now
		body.done = func() {
			now := time.Now()
			d.mu.Lock()
			d.at[host] = append(d.at[host], now)
			if item {
				if d.took == nil {
					d.took = map[string][]time.Duration{}
				}
				d.took[host] = append(d.took[host], now.Sub(start))
			}
			if perr == nil {
				d.pages[page] = now
			}
			d.mu.Unlock()
		}
	}
	resp.Body = body
	return resp, nil
}

// doneBody calls done (if set) once, when its body has been read to the end,
// and ended once, at its end, a read error or its close.
type doneBody struct {
	io.ReadCloser
	done, ended func()
	once        sync.Once
}

func (b *doneBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && b.done != nil {
		b.once.Do(b.done)
	}
	if err != nil {
		b.ended()
	}
	return n, err
}

func (b *doneBody) Close() error {
	b.ended()
	return b.ReadCloser.Close()
}
