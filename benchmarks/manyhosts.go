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
// second one has half of them. Gated hosts are in a blackout from their start
// (503 + Retry-After until it ends), and slow hosts take SlowLatency per
// request (Slots slots, SlowItems items each).
type ManyHosts struct {
	Healthy, Gated, Slow int           // hosts of each role
	ItemsPerHost         int           // items of each healthy and gated host
	Slots, Queue         int           // every host's capacity
	Mixed                bool          // every second healthy host has half the slots and queue
	Latency              time.Duration // a healthy or gated host's service time
	Blackout             time.Duration // a gated host answers 503 for this long after it starts
	SlowLatency          time.Duration // a slow host's service time
	SlowItems            int           // each slow host's items
	MaxTotal             int           // limits.concurrency.max_total; 0 leaves the default
	Cap                  time.Duration // the run stops after this long
}

// ManyHostsShape changes the many-host scenario's hosts; a zero field keeps
// the default (8 healthy hosts of 20 ms, one gated, one slow).
type ManyHostsShape struct {
	Healthy, Gated, Slow int           // hosts of each role; -1 for none gated or slow
	Latency              time.Duration // a healthy host's service time
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
	if shape.Healthy < 0 || shape.Gated < -1 || shape.Slow < -1 || shape.Latency < 0 || shape.MaxTotal < 0 {
		return ManyHosts{}, fmt.Errorf("benchmarks: many hosts: %+v: want no count below zero (-1 for none gated or slow) and a latency of 0 or more", shape)
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
	return ManyHosts{
		Healthy: pick(shape.Healthy, 8), Gated: pick(shape.Gated, 1), Slow: pick(shape.Slow, 1),
		ItemsPerHost: max(20, items), Slots: slots, Queue: 4, Mixed: shape.Mixed, Latency: latency,
		Blackout: max(time.Second, d(5)).Round(time.Second), SlowLatency: time.Second, SlowItems: max(4, int(24*scale)),
		MaxTotal: shape.MaxTotal, Cap: d(40) + 10*time.Second + 10*time.Duration(items)*latency/slots,
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
	Listed   time.Duration // when the listing's last page was read, after the crawl started
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
	if mh.Healthy+mh.Gated+mh.Slow == 0 {
		return res, fmt.Errorf("benchmarks: %s: no hosts", ManyHostsName)
	}
	// The listing's rotation has every healthy and gated host per times and
	// every slow one once; unit items per place in it.
	per, unit := 1, mh.ItemsPerHost
	if mh.Slow > 0 {
		per, unit = max(1, mh.ItemsPerHost/mh.SlowItems), mh.SlowItems
	}
	fast := mh.Healthy + mh.Gated
	places := fast*per + mh.Slow
	items := places * unit
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
	for range per {
		rotation = append(rotation, hosts[:fast]...)
	}
	rotation = append(rotation, hosts[fast:]...)
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
	var config string
	if mh.MaxTotal > 0 {
		config = fmt.Sprintf("limits: {concurrency: {max_total: %d}}\n", mh.MaxTotal)
	}
	start := time.Now()
	res.Err = c(cctx, CrawlJob{URL: listing.URL(), Pagination: mockapi.PaginationPage,
		Output: filepath.Join(work, "out.jsonl"), Failed: filepath.Join(work, "out.failed.jsonl"),
		Config: config, Base: rec, Progress: func(int64, int) {}})
	res.Elapsed = time.Since(start)

	if pages := rec.at[strings.TrimPrefix(listing.URL(), "http://")]; len(pages) > 0 {
		res.Listed = slices.MaxFunc(pages, time.Time.Compare).Sub(start)
	}
	share := mh.fairShare()
	var busy time.Duration
	for i, s := range servers[:len(roles)] {
		h := HostResult{Host: hosts[i], Role: roles[i], Items: per * unit}
		sc, st := scs[i], s.Stats()
		if roles[i] == RoleSlow {
			h.Items = unit
		}
		h.Optimum = sc.OptimumAt(mh.Blackout)
		if share > 0 && roles[i] == RoleHealthy {
			h.Optimum = min(h.Optimum, share/sc.Latency.Seconds())
		}
		h.Ideal = time.Duration(float64(h.Items) / h.Optimum * float64(time.Second))
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
		busy += time.Duration(h.Items) * sc.Latency
	}
	if mh.MaxTotal > 0 { // every item's service time, MaxTotal at a time
		res.Ideal = max(res.Ideal, busy/time.Duration(mh.MaxTotal))
	}
	if res.Err != nil && !errors.Is(res.Err, context.DeadlineExceeded) {
		return res, fmt.Errorf("benchmarks: %s: crawl: %w", ManyHostsName, res.Err)
	}
	return res, nil
}

// maxIdleConns is the idle connections politely crawl keeps over all hosts
// by default (limits.concurrency.max_total's default).
const maxIdleConns = 1024

// fairShare is the requests in service each host that is not gated gets
// when MaxTotal is shared out evenly over them (0 without MaxTotal): with a
// ceiling below the hosts' sum, a healthy host's optimum is at most this
// share. A gated or slow host's is not: by the end of a blackout, or of the
// healthy hosts' items, most others are done.
func (mh ManyHosts) fairShare() float64 {
	if mh.MaxTotal == 0 {
		return 0
	}
	return float64(mh.MaxTotal) / float64(max(1, mh.Healthy+mh.Slow))
}

// start starts the detail hosts of the items ids 1..items: the healthy ones,
// the gated ones, then the slow ones; roles and scs list their roles and
// scenarios in that order.
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
	for i := range mh.Healthy {
		sc := base
		if mh.Mixed && i%2 == 1 {
			sc.Capacity.Slots, sc.Capacity.Queue = max(1, mh.Slots/2), mh.Queue/2
		}
		add(RoleHealthy, sc)
	}
	blackout := base
	blackout.Blackout = mockapi.Blackout{For: mh.Blackout}
	for range mh.Gated {
		add(RoleBlackout, blackout)
	}
	slow := base
	slow.Latency = mh.SlowLatency
	for range mh.Slow {
		add(RoleSlow, slow)
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

// WriteManyHosts writes the result as a Markdown table and the targets.
func WriteManyHosts(w io.Writer, r ManyHostsResult) error {
	mh := r.Scenario
	var b strings.Builder
	mixed := ""
	if mh.Mixed {
		mixed = ", every second one with half of them"
	}
	fmt.Fprintf(&b, "## %s\n\n%d healthy hosts (%d slots x %v, %d queued, 503 + Retry-After beyond%s), %d answering 503 + Retry-After for their first %v, %d taking %v per request; separate mock servers on 127.0.0.1, crawled by `politely crawl`'s default config",
		ManyHostsName, mh.Healthy, mh.Slots, mh.Latency, mh.Queue, mixed, mh.Gated, mh.Blackout, mh.Slow, mh.SlowLatency)
	if mh.MaxTotal > 0 {
		fmt.Fprintf(&b, " with max_total %d (a healthy host's optimum is at most its even share of it among the hosts that are not gated, %.1f in service)", mh.MaxTotal, mh.fairShare())
	}
	b.WriteString(".\n\n")
	b.WriteString("| host | role | items | done | last done | goodput/s | optimum/s | ratio | early requests | most in flight |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, h := range r.Hosts {
		g := h.Goodput(mh.Blackout)
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.2fs | %.0f | %.0f | %.0f%% | %d | %d |\n",
			h.Host, h.Role, h.Items, h.Done, h.Last.Seconds(), g, h.Optimum, 100*g/h.Optimum, h.Early, h.Served)
	}
	fmt.Fprintf(&b, "\ncrawl: %.2fs, ideal %.2fs (%.2fx); listing read by %.2fs; items lost: %d\n\n", r.Elapsed.Seconds(), r.Ideal.Seconds(), r.TimeRatio(), r.Listed.Seconds(), r.Lost)
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
		{Name: "many hosts: every healthy host keeps >= 85% of its optimum while others are gated or slow",
			Measured: fmt.Sprintf("worst healthy host %.0f%%, %d of %d at >= 85%%", 100*worst, r.healthyAt(0.85), r.Scenario.Healthy), Met: worst >= 0.85},
		{Name: "many hosts: the crawl ends within 1.3x the ideal time",
			Measured: fmt.Sprintf("%.2fs of %.2fs ideal (%.2fx)", r.Elapsed.Seconds(), r.Ideal.Seconds(), r.TimeRatio()), Met: r.TimeRatio() <= 1.3},
		{Name: "many hosts: a gated host receives nothing before its Retry-After",
			Measured: fmt.Sprintf("%d early requests", r.GatedEarly()), Met: r.GatedEarly() == 0},
		{Name: "many hosts: nothing lost", Measured: fmt.Sprintf("%d items lost", r.Lost), Met: r.Lost == 0 && r.Err == nil},
	}
}
