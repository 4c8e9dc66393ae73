package benchmarks

import (
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

	"github.com/politely/politely/mockapi"
)

// ManyHostsName names the many-host scenario for --scenario.
const ManyHostsName = "many-hosts"

// ManyHosts is the many-host scenario: a listing (a fast mock) whose items'
// detail URLs are spread over separate mock servers on 127.0.0.1, crawled by
// `politely crawl`'s default config. Every host but two is healthy: Slots
// slots of Latency with Queue queued (503 + Retry-After beyond). One is in a
// blackout from its start (503 + Retry-After until it ends), and one is slow
// (SlowLatency per request, Slots slots, SlowItems items).
type ManyHosts struct {
	Healthy      int           // healthy hosts
	ItemsPerHost int           // items of each healthy host and of the blacked-out one
	Slots, Queue int           // every host's capacity
	Latency      time.Duration // a healthy host's service time
	Blackout     time.Duration // the blacked-out host answers 503 for this long after it starts
	SlowLatency  time.Duration // the slow host's service time
	SlowItems    int           // the slow host's items
	Cap          time.Duration // the run stops after this long
}

// NewManyHosts is the scenario at scale (0 < scale <= 1): 8 healthy hosts of
// 4 slots x 20 ms with 4 queued (200 req/s each), a 5 s blackout and a slow
// host of 1 s per request; at scale 1 the healthy hosts need 2.5 s and the
// crawl 5 s (the blacked-out host's 5 s and 500 items at 200/s take 7.5 s).
func NewManyHosts(scale float64) (ManyHosts, error) {
	if !(scale > 0 && scale <= 1) {
		return ManyHosts{}, fmt.Errorf("benchmarks: scale %v: want 0 < scale <= 1", scale)
	}
	d := func(s float64) time.Duration { return time.Duration(s * scale * float64(time.Second)) }
	return ManyHosts{
		Healthy: 8, ItemsPerHost: max(20, int(500*scale)), Slots: 4, Queue: 4, Latency: 20 * time.Millisecond,
		Blackout: max(time.Second, d(5)).Round(time.Second), SlowLatency: time.Second, SlowItems: max(4, int(24*scale)),
		Cap: d(40) + 10*time.Second,
	}, nil
}

// Host roles in a ManyHostsResult.
const (
	RoleHealthy  = "healthy"
	RoleBlackout = "blackout"
	RoleSlow     = "slow"
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
	Lost     int           // items not done
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

// TimeRatio is the crawl's time over the ideal.
func (r ManyHostsResult) TimeRatio() float64 { return r.Elapsed.Seconds() / r.Ideal.Seconds() }

// GatedEarly is the number of requests the blacked-out host received before
// the Retry-After it had given.
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
	// Each healthy and the blacked-out host appear ItemsPerHost/SlowItems
	// times as often as the slow one in the listing's rotation.
	per := max(1, mh.ItemsPerHost/mh.SlowItems)
	items := ((mh.Healthy+1)*per + 1) * mh.SlowItems
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
	for i, s := range servers[:len(roles)] {
		u, _ := url.Parse(s.URL()) // Start's URL parses
		hosts[i] = u.Host
	}
	var rotation []string
	for range per {
		rotation = append(rotation, hosts[:len(hosts)-1]...)
	}
	rotation = append(rotation, hosts[len(hosts)-1])
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
	defer rec.next.CloseIdleConnections()
	cctx, cancel := context.WithTimeout(ctx, mh.Cap)
	defer cancel()
	start := time.Now()
	res.Err = c(cctx, CrawlJob{URL: listing.URL(), Pagination: mockapi.PaginationPage,
		Output: filepath.Join(work, "out.jsonl"), Failed: filepath.Join(work, "out.failed.jsonl"),
		Base: rec, Progress: func(int64, int) {}})
	res.Elapsed = time.Since(start)

	for i, s := range servers[:len(roles)] {
		h := HostResult{Host: hosts[i], Role: roles[i], Items: items / len(rotation) * per}
		sc, st := scs[i], s.Stats()
		if roles[i] == RoleSlow {
			h.Items = items / len(rotation)
		}
		h.Optimum = sc.OptimumAt(mh.Blackout)
		h.Ideal = time.Duration(math.Ceil(float64(h.Items)/float64(mh.Slots))) * sc.Latency
		if roles[i] == RoleBlackout {
			h.Ideal += mh.Blackout
		}
		times := rec.at[hosts[i]]
		h.Done = len(times)
		if h.Done > 0 {
			h.Last = slices.MaxFunc(times, time.Time.Compare).Sub(start)
		}
		h.Early, h.Served = st.EarlyRequests, st.MaxInFlight
		res.Lost += h.Items - min(h.Done, h.Items)
		res.Ideal = max(res.Ideal, h.Ideal)
		res.Hosts = append(res.Hosts, h)
	}
	if res.Err != nil && !errors.Is(res.Err, context.DeadlineExceeded) {
		return res, fmt.Errorf("benchmarks: %s: crawl: %w", ManyHostsName, res.Err)
	}
	return res, nil
}

// start starts the detail hosts of the items ids 1..items: the healthy ones, the blacked-out one, then
// the slow one; roles and scs list their roles and scenarios in that order.
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
	for range mh.Healthy {
		add(RoleHealthy, base)
	}
	blackout := base
	blackout.Blackout = mockapi.Blackout{For: mh.Blackout}
	add(RoleBlackout, blackout)
	slow := base
	slow.Latency = mh.SlowLatency
	add(RoleSlow, slow)
	return servers, roles, scs, err
}

// doneTimes is the crawl's base RoundTripper: it records, per host, when
// each detail request answered 200.
type doneTimes struct {
	next *http.Transport
	mu   sync.Mutex
	at   map[string][]time.Time
}

func (d *doneTimes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusOK && strings.HasPrefix(r.URL.Path, "/items/") {
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

// WriteManyHosts writes the result as a Markdown table and the targets.
func WriteManyHosts(w io.Writer, r ManyHostsResult) error {
	mh := r.Scenario
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n%d healthy hosts (%d slots x %v, %d queued, 503 + Retry-After beyond), one answering 503 + Retry-After for its first %v, one taking %v per request; separate mock servers on 127.0.0.1, crawled by `politely crawl`'s default config.\n\n",
		ManyHostsName, mh.Healthy, mh.Slots, mh.Latency, mh.Queue, mh.Blackout, mh.SlowLatency)
	b.WriteString("| host | role | items | done | last done | goodput/s | optimum/s | ratio | early requests | most in flight |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, h := range r.Hosts {
		g := h.Goodput(mh.Blackout)
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.2fs | %.0f | %.0f | %.0f%% | %d | %d |\n",
			h.Host, h.Role, h.Items, h.Done, h.Last.Seconds(), g, h.Optimum, 100*g/h.Optimum, h.Early, h.Served)
	}
	fmt.Fprintf(&b, "\ncrawl: %.2fs, ideal %.2fs (%.2fx); items lost: %d\n\n", r.Elapsed.Seconds(), r.Ideal.Seconds(), r.TimeRatio(), r.Lost)
	for _, t := range r.Targets() {
		verdict := "met"
		if !t.Met {
			verdict = "MISSED"
		}
		fmt.Fprintf(&b, "- %s %s: %s\n", verdict, t.Name, t.Measured)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Targets are the many-host scenario's targets with their verdicts.
func (r ManyHostsResult) Targets() []Target {
	worst := r.WorstHealthyRatio()
	return []Target{
		{Name: "many hosts: every healthy host keeps >= 85% of its optimum while one is gated and one slow",
			Measured: fmt.Sprintf("worst healthy host %.0f%%", 100*worst), Met: worst >= 0.85},
		{Name: "many hosts: the crawl ends within 1.3x the ideal time",
			Measured: fmt.Sprintf("%.2fs of %.2fs ideal (%.2fx)", r.Elapsed.Seconds(), r.Ideal.Seconds(), r.TimeRatio()), Met: r.TimeRatio() <= 1.3},
		{Name: "many hosts: the gated host receives nothing before its Retry-After",
			Measured: fmt.Sprintf("%d early requests", r.GatedEarly()), Met: r.GatedEarly() == 0},
		{Name: "many hosts: nothing lost", Measured: fmt.Sprintf("%d items lost", r.Lost), Met: r.Lost == 0 && r.Err == nil},
	}
}
