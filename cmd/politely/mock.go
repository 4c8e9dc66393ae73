package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/politely/politely/mockapi"
)

// mockFlags are politely mock's flags; a knob changes the preset only when given.
type mockFlags struct {
	scenario string
	addr     string
	list     bool
	servers  int
	shared   bool
	tls      bool
	tlsCert  string

	items          int
	perPage        int
	pagination     string
	latency        time.Duration
	jitter         time.Duration
	slots          int
	queue          int
	rate           float64
	burst          int
	headerLimit    int
	headerWindow   time.Duration
	headerKind     string
	headerBurst    int
	headerIETF     bool
	headerRequests bool
	headerHidden   bool
	headerReset    string
	seed           uint64
	blackoutAt     time.Duration
	blackoutFor    time.Duration
	blackoutStatus int
	blackoutNoRA   bool
	capStatus      int
	capNoRA        bool
	quotaStatus    int
	listingRate    float64
	listingBurst   int
	quotaNoRA      bool
	elastic        int
	glitchPages    []int
	glitchKind     string
	glitchAttempts int
	detailHosts    []string
	retryAfter     time.Duration
	raDate         bool
	quotaHeaders   string
	clockOffset    time.Duration
	raShift        time.Duration
	slotsAt        []string
	drift          time.Duration
	slowShare      float64
	refuseShare    float64
	loopShare      float64
	missingShare   float64
	onceShare      float64
	slowFactor     float64
	listingLat     time.Duration
	slowBody       float64
	slowBodyFor    time.Duration
	crawlDelay     time.Duration
	robotsLatency  time.Duration
	robotsStatus   int
	redirectTo     string
	redirectAt     time.Duration
	bodySize       int
	gzip           bool
	connClose      bool
	keepAliveMax   int
	pageOverlap    int
	announceTotal  bool
}

func newMockCmd() *cobra.Command {
	var f mockFlags
	cmd := &cobra.Command{
		Use:   "mock --scenario NAME [knobs] [--addr 127.0.0.1:PORT]",
		Short: "Serve a mock API (capacity, quota, header quota, faults) until interrupted",
		Long: `Serve one of the mock API presets (see --list) on a local address and print
its URL; the ground truth of what it received is at URL/__stats. Knobs change
the preset. It stops on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.list {
				return listScenarios(cmd.OutOrStdout())
			}
			if f.scenario == "" {
				return &exitError{code: exitUsage, err: fmt.Errorf("mock: --scenario is required (or --list)")}
			}
			sc, err := mockScenario(f, cmd.Flags())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if f.servers < 1 || f.servers > 1 && !strings.HasSuffix(f.addr, ":0") {
				return &exitError{code: exitUsage, err: fmt.Errorf("mock: --servers must be >= 1, and more than one needs --addr with port 0, got %d at %s", f.servers, f.addr)}
			}
			var cert *mockapi.Cert
			if f.tls || f.tlsCert != "" {
				if cert, err = mockCert(f.tlsCert, cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			return serveMock(cmd.Context(), sc, f.addr, f.servers, f.shared, cert, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.scenario, "scenario", "", "the preset to serve (see --list)")
	fl.IntVar(&f.servers, "servers", 1, "serve this many independent servers of the preset, each on its own port with its own state and ground truth, one line each (many hosts from one process)")
	fl.BoolVar(&f.shared, "shared", false, "with --servers: the servers' ports lead to one server (one capacity, quota and ground truth), as one API known under many host names")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:0", "address to listen on; port 0 picks a free one")
	fl.BoolVar(&f.tls, "tls", false, "serve HTTPS, HTTP/2 offered, with a self-signed certificate for 127.0.0.1 and localhost, written to --tls-cert (politely crawl trusts it with SSL_CERT_FILE=that file)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "write --tls's certificate (PEM) to this file, and serve HTTPS (default: politely-mock-PID.pem in the temporary directory)")
	fl.BoolVar(&f.list, "list", false, "list the presets and exit")
	fl.IntVar(&f.items, "items", 0, "items in the listing")
	fl.IntVar(&f.perPage, "per-page", 0, "listing page size")
	fl.StringVar(&f.pagination, "pagination", "", "listing style: page, offset, cursor, link or next_url")
	fl.DurationVar(&f.latency, "latency", 0, "base service time of a request")
	fl.DurationVar(&f.jitter, "jitter", 0, "latency spread (at most --latency)")
	fl.IntVar(&f.slots, "slots", 0, "capacity: requests served at once (0: unlimited)")
	fl.IntVar(&f.queue, "queue", 0, "capacity: requests that may wait for a slot")
	fl.Float64Var(&f.rate, "rate", 0, "quota: token bucket rate in requests/s (0: off)")
	fl.IntVar(&f.burst, "burst", 0, "quota: token bucket burst")
	fl.Float64Var(&f.listingRate, "listing-rate", 0, "a token bucket of the listing's own, in requests/s: listing pages take its tokens instead of --rate's (per-endpoint limits on one host; the answer beyond it as --rate's)")
	fl.IntVar(&f.listingBurst, "listing-burst", 0, "the listing's token bucket burst")
	fl.IntVar(&f.headerLimit, "header-limit", 0, "header quota: requests per window (0: off)")
	fl.DurationVar(&f.headerWindow, "header-window", 0, "header quota: window length")
	fl.StringVar(&f.headerKind, "header-kind", "", "header quota: fixed, sliding or token-bucket")
	fl.IntVar(&f.headerBurst, "header-burst", 0, "header quota: token-bucket size")
	fl.StringVar(&f.headerReset, "header-reset", "", "header quota: X-RateLimit-Reset as epoch (the Unix second), epoch-ms (the Unix millisecond) or delta (seconds until it); default: the kind's own")
	fl.BoolVar(&f.headerIETF, "header-ietf", false, "header quota: announce it in RateLimit and RateLimit-Policy instead of X-RateLimit-*")
	fl.BoolVar(&f.headerHidden, "header-hidden", false, "header quota: send no quota headers; refuse with 429 + Retry-After (a fixed window: until its end), as an API that states its limit only in its docs")
	fl.BoolVar(&f.headerRequests, "header-requests", false, "header quota: announce it as inference APIs do, in x-ratelimit-limit-requests, -remaining-requests and -reset-requests (\"1s\", \"6m0s\", \"20ms\") with -tokens siblings, instead of X-RateLimit-*")
	fl.Uint64Var(&f.seed, "seed", 0, "faults: seed of the injected faults")
	fl.DurationVar(&f.blackoutAt, "blackout-at", 0, "blackout: when the 503 window starts, after the server started")
	fl.DurationVar(&f.blackoutFor, "blackout-for", 0, "blackout: how long every request is answered 503 + Retry-After (0: off)")
	fl.IntVar(&f.blackoutStatus, "blackout-status", 0, "blackout: the answer during the window: 403, 408, 425, 429, 500, 502, 503 or 504 (default 503)")
	fl.BoolVar(&f.blackoutNoRA, "blackout-no-retry-after", false, "blackout: answer without a Retry-After")
	fl.IntVar(&f.capStatus, "capacity-status", 0, "capacity: the answer beyond the queue, 503 or 429")
	fl.BoolVar(&f.capNoRA, "capacity-no-retry-after", false, "capacity: answer beyond the queue without a Retry-After (=false: with one, e.g. for inflight-429)")
	fl.DurationVar(&f.retryAfter, "retry-after", 0, "capacity and quota: the Retry-After beyond them (quota default: the seconds until a token)")
	fl.BoolVar(&f.raDate, "retry-after-date", false, "send every Retry-After as an HTTP-date instead of seconds")
	fl.StringVar(&f.quotaHeaders, "quota-headers", "", "quota: the header families sent: both, ietf (RateLimit, RateLimit-Policy), x (X-RateLimit-*) or none")
	fl.DurationVar(&f.clockOffset, "clock-offset", 0, "the server's clock ahead of ours (negative: behind), in its Date header, windows, Resets and Retry-After dates")
	fl.DurationVar(&f.raShift, "retry-after-shift", 0, "move every Retry-After by this many whole seconds (negative: sooner, down to 0 or a date in the past)")
	fl.StringSliceVar(&f.slotsAt, "slots-at", nil, "AT=SLOTS,...: capacity: change the slots at these times after the start (e.g. 5s=16,15s=32)")
	fl.DurationVar(&f.drift, "latency-drift", 0, "add this to the service time for every second since the start (negative: take it off)")
	fl.Float64Var(&f.slowShare, "slow-share", 0, "the share of requests served --slow-factor times slower (a bimodal server)")
	fl.Float64Var(&f.refuseShare, "refuse-share", 0, "the share of detail requests refused as the capacity refuses, whatever the load (a sick backend behind a load balancer)")
	fl.Float64Var(&f.loopShare, "redirect-loop-share", 0, "the share of items whose detail redirects to itself and back, forever (a redirect loop)")
	fl.Float64Var(&f.missingShare, "missing-share", 0, "the share of items whose detail answers 404 at once (deleted since they were listed)")
	fl.Float64Var(&f.onceShare, "redirect-once-share", 0, "the share of items whose detail redirects once to a canonical URL on the same host (?canonical=1), then served")
	fl.Float64Var(&f.slowFactor, "slow-factor", 0, "how many times slower the --slow-share requests are (default 10)")
	fl.IntSliceVar(&f.glitchPages, "page-glitch", nil, "N,...: answer these listing pages (by place, from 1) 200 without the page on their first attempts")
	fl.StringVar(&f.glitchKind, "page-glitch-kind", "", "what --page-glitch answers: empty (no items, the next link as if full; default), error ({\"error\": ...} alone) or 500 (a 500 with that body)")
	fl.IntVar(&f.glitchAttempts, "page-glitch-attempts", 0, "how many first attempts at a --page-glitch page get the glitch (default 1)")
	fl.IntVar(&f.quotaStatus, "quota-status", 0, "quota: the answer beyond the burst, 429 or 503 (nginx limit_req's default)")
	fl.BoolVar(&f.quotaNoRA, "quota-no-retry-after", false, "quota: answer beyond the burst without a Retry-After")
	fl.IntVar(&f.elastic, "elastic-slots", 0, "stretch every service time by in-service/N beyond N in service: a server that never refuses and slows with its load")
	fl.DurationVar(&f.listingLat, "listing-latency", 0, "service time of a listing page, in place of --latency")
	fl.Float64Var(&f.slowBody, "slow-body", 0, "faults: the share of detail answers whose body trickles out over --slow-body-for")
	fl.DurationVar(&f.slowBodyFor, "slow-body-for", 0, "faults: how long a slow body takes")
	fl.DurationVar(&f.crawlDelay, "crawl-delay", 0, "announce this Crawl-delay in robots.txt")
	fl.DurationVar(&f.robotsLatency, "robots-latency", 0, "robots.txt's own service time (a slow origin behind a cached API)")
	fl.IntVar(&f.robotsStatus, "robots-status", 0, "answer every robots.txt request with this status instead of its rules (404, 500, 503, 429...; no Retry-After)")
	fl.StringVar(&f.redirectTo, "redirect-to", "", "[https://]HOST:PORT[/PREFIX]: answer every detail request with a 302 to the same path on that server (under PREFIX, e.g. /private)")
	fl.DurationVar(&f.redirectAt, "redirect-at", 0, "start --redirect-to this long after the start (items that move mid-crawl)")
	fl.IntVar(&f.bodySize, "body-size", 0, "pad every detail answer to about this many bytes")
	fl.BoolVar(&f.gzip, "gzip", false, "gzip listing and detail answers for clients that accept it")
	fl.BoolVar(&f.connClose, "connection-close", false, "answer every request with Connection: close (no keep-alive)")
	fl.IntVar(&f.keepAliveMax, "keepalive-requests", 0, "close every connection after this many requests on it (0: no limit)")
	fl.IntVar(&f.pageOverlap, "page-overlap", 0, "start every listing page after the first this many items early (ids repeat across pages)")
	fl.BoolVar(&f.announceTotal, "announce-total", false, "announce the listing's item count in every page's \"total\" (and \"total_pages\" for page numbers)")
	fl.StringSliceVar(&f.detailHosts, "detail-hosts", nil, "[https://]HOST:PORT,...: put the items' detail URLs on these servers, in turn")
	return cmd
}

// mockScenario is the preset f names with the knobs that were given applied.
func mockScenario(f mockFlags, fl *pflag.FlagSet) (mockapi.Scenario, error) {
	sc, err := mockapi.Preset(f.scenario)
	if err != nil {
		return sc, fmt.Errorf("mock: --scenario: %w", err)
	}
	set := func(name string, apply func()) {
		if fl.Changed(name) {
			apply()
		}
	}
	set("items", func() { sc.Items = f.items })
	set("per-page", func() { sc.PerPage = f.perPage })
	set("pagination", func() { sc.Pagination = mockapi.Pagination(f.pagination) })
	set("latency", func() { sc.Latency = f.latency })
	set("jitter", func() { sc.Jitter = f.jitter })
	set("slots", func() { sc.Capacity.Slots = f.slots })
	set("queue", func() { sc.Capacity.Queue = f.queue })
	set("rate", func() { sc.Quota.Rate = f.rate })
	set("burst", func() { sc.Quota.Burst = f.burst })
	set("header-limit", func() { sc.HeaderQuota.Limit = f.headerLimit })
	set("header-window", func() { sc.HeaderQuota.Window = f.headerWindow })
	set("header-kind", func() { sc.HeaderQuota.Kind = mockapi.HeaderQuotaKind(f.headerKind) })
	set("header-burst", func() { sc.HeaderQuota.Burst = f.headerBurst })
	set("header-ietf", func() { sc.HeaderQuota.IETF = f.headerIETF })
	set("header-requests", func() { sc.HeaderQuota.Requests = f.headerRequests })
	set("header-hidden", func() { sc.HeaderQuota.Hidden = f.headerHidden })
	set("header-reset", func() { sc.HeaderQuota.Reset = mockapi.HeaderResetForm(f.headerReset) })
	set("seed", func() { sc.Faults.Seed = f.seed })
	set("blackout-at", func() { sc.Blackout.At = f.blackoutAt })
	set("blackout-for", func() { sc.Blackout.For = f.blackoutFor })
	set("blackout-status", func() { sc.Blackout.Status = f.blackoutStatus })
	set("blackout-no-retry-after", func() { sc.Blackout.NoRetryAfter = f.blackoutNoRA })
	set("capacity-status", func() { sc.Capacity.Status = f.capStatus })
	set("capacity-no-retry-after", func() { sc.Capacity.NoRetryAfter = f.capNoRA })
	set("detail-hosts", func() { sc.DetailHosts = f.detailHosts })
	set("retry-after", func() { sc.Capacity.RetryAfter, sc.Quota.RetryAfter = f.retryAfter, f.retryAfter })
	set("retry-after-date", func() { sc.RetryAfterDate = f.raDate })
	set("clock-offset", func() { sc.ClockOffset = f.clockOffset })
	set("retry-after-shift", func() { sc.RetryAfterShift = f.raShift })
	set("latency-drift", func() { sc.LatencyDrift = f.drift })
	set("slow-share", func() { sc.SlowShare = f.slowShare })
	set("refuse-share", func() { sc.RefuseShare = f.refuseShare })
	set("redirect-loop-share", func() { sc.RedirectLoopShare = f.loopShare })
	set("missing-share", func() { sc.MissingShare = f.missingShare })
	set("redirect-once-share", func() { sc.RedirectOnceShare = f.onceShare })
	set("slow-factor", func() { sc.SlowFactor = f.slowFactor })
	set("listing-latency", func() { sc.ListingLatency = f.listingLat })
	set("elastic-slots", func() { sc.ElasticSlots = f.elastic })
	set("quota-status", func() { sc.Quota.Status = f.quotaStatus })
	set("quota-no-retry-after", func() { sc.Quota.NoRetryAfter = f.quotaNoRA })
	set("page-glitch", func() { sc.PageGlitch.Pages = f.glitchPages })
	set("page-glitch-kind", func() { sc.PageGlitch.Kind = mockapi.GlitchKind(f.glitchKind) })
	set("page-glitch-attempts", func() { sc.PageGlitch.Attempts = f.glitchAttempts })
	set("slow-body", func() { sc.Faults.SlowBody = f.slowBody })
	set("slow-body-for", func() { sc.Faults.SlowBodyDuration = f.slowBodyFor })
	set("crawl-delay", func() { sc.Robots.CrawlDelay = f.crawlDelay })
	set("robots-latency", func() { sc.Robots.Latency = f.robotsLatency })
	set("robots-status", func() { sc.Robots.Status = f.robotsStatus })
	set("redirect-to", func() { sc.RedirectTo = f.redirectTo })
	set("redirect-at", func() { sc.RedirectAt = f.redirectAt })
	set("body-size", func() { sc.BodySize = f.bodySize })
	set("gzip", func() { sc.Gzip = f.gzip })
	set("connection-close", func() { sc.CloseConnections = f.connClose })
	set("keepalive-requests", func() { sc.KeepAliveRequests = f.keepAliveMax })
	set("page-overlap", func() { sc.PageOverlap = f.pageOverlap })
	set("announce-total", func() { sc.AnnounceTotal = f.announceTotal })
	if fl.Changed("slots-at") {
		steps, err := slotSteps(f.slotsAt)
		if err != nil {
			return sc, err
		}
		sc.Capacity.Schedule = steps
	}
	if fl.Changed("quota-headers") {
		h, ok := quotaHeaderFamilies[f.quotaHeaders]
		if !ok {
			return sc, fmt.Errorf("mock: --quota-headers must be both, ietf, x or none, got %q", f.quotaHeaders)
		}
		sc.Quota.Headers = h
	}
	if fl.Changed("listing-rate") || fl.Changed("listing-burst") { // refused as --rate's quota refuses
		q := sc.Quota
		q.Rate, q.Burst = f.listingRate, f.listingBurst
		sc.ListingQuota = q
	}
	// NewHandler validates the scenario; a bad knob is a usage error, unlike
	// an address that cannot be listened on.
	h, err := mockapi.NewHandler(mockapi.Config{Scenario: sc})
	if err != nil {
		return sc, fmt.Errorf("mock: %w", err)
	}
	h.Close()
	return sc, nil
}

// slotSteps parses --slots-at's AT=SLOTS values into a capacity schedule.
func slotSteps(vals []string) ([]mockapi.Step, error) {
	steps := make([]mockapi.Step, 0, len(vals))
	for _, v := range vals {
		at, n, ok := strings.Cut(v, "=")
		d, derr := time.ParseDuration(at)
		slots, serr := strconv.Atoi(n)
		if !ok || derr != nil || serr != nil {
			return nil, fmt.Errorf("mock: --slots-at wants AT=SLOTS values such as 5s=16, got %q", v)
		}
		steps = append(steps, mockapi.Step{At: d, Slots: slots})
	}
	return steps, nil
}

// mockCert makes the certificate of --tls and writes it to path (a file in
// the temporary directory if empty), saying so on stdout.
func mockCert(path string, stdout io.Writer) (*mockapi.Cert, error) {
	cert, err := mockapi.NewCert()
	if err != nil {
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("mock: %w", err)}
	}
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("politely-mock-%d.pem", os.Getpid()))
	}
	if err := os.WriteFile(path, cert.PEM(), 0o644); err != nil {
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("mock: --tls-cert: %w", err)}
	}
	fmt.Fprintf(stdout, "certificate in %s: a crawl trusts it with SSL_CERT_FILE=%s\n", path, path)
	return cert, nil
}

// quotaHeaderFamilies are --quota-headers' values.
var quotaHeaderFamilies = map[string]mockapi.QuotaHeaders{
	"both": mockapi.QuotaHeadersBoth, "ietf": mockapi.QuotaHeadersIETF, "x": mockapi.QuotaHeadersX, "none": mockapi.QuotaHeadersNone,
}

// serveMock serves sc on addr (n servers, each on a port of its own, when n >
// 1; with shared, n ports of one server) until ctx ends, then prints what
// they received.
func serveMock(ctx context.Context, sc mockapi.Scenario, addr string, n int, shared bool, cert *mockapi.Cert, stdout io.Writer) error {
	srvs := make([]*mockapi.Server, 0, n)
	defer func() { // on a failed start; Close is idempotent
		for _, srv := range srvs {
			srv.Close()
		}
	}()
	for range n {
		cfg := mockapi.Config{Scenario: sc, Addr: addr, TLS: cert}
		if shared && len(srvs) > 0 {
			cfg.Handler = srvs[0].Handler()
		}
		srv, err := mockapi.Start(cfg)
		if err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("mock: %w", err)}
		}
		srvs = append(srvs, srv)
	}
	for _, srv := range srvs {
		fmt.Fprintf(stdout, "mock API %q at %s (ground truth at %s/__stats); interrupt to stop\n", sc.Name, srv.URL(), srv.URL())
	}
	<-ctx.Done()
	for _, srv := range srvs {
		st := srv.Stats()
		if err := srv.Close(); err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("mock: close: %w", err)}
		}
		fmt.Fprintf(stdout, "stopped: %d requests, %d throttled, max %d in flight\n", st.Requests, st.Throttled(), st.MaxInFlight)
	}
	return nil
}

func listScenarios(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, sc := range mockapi.Scenarios() {
		fmt.Fprintf(tw, "%s\t%s\n", sc.Name, strings.TrimSpace(sc.Description))
	}
	return tw.Flush()
}
