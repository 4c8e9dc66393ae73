package limiter

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// headerServer is a quota announced only in headers, counted like one of the
// common server-side limiters (see mockapi.HeaderQuotaKind): a fixed window
// (GitHub: Reset is the window's end in Unix seconds, 403 when used up), a
// sliding-window counter (Remaining counts the previous window's weighted
// share, Reset is the current window's end, 429 + Retry-After: Window
// beyond) or a token bucket (Remaining is the tokens, Reset the whole
// seconds until full, 429 + Retry-After: the seconds until a token).
type headerServer struct {
	kind    string // "fixed", "sliding" or "bucket"; "bucket-clock" sends Reset as the Unix second it is full at, read like "fixed-clock"; "fixed-delta" and "sliding-delta" send Reset as whole seconds until the window ends, "fixed-exact" and "sliding-exact" a Reset read exactly, "fixed-clock" and "sliding-clock" a Reset read with the lowest Date offset seen
	limit   int
	window  time.Duration
	burst   float64 // bucket only
	service time.Duration

	index      int64 // windows since the epoch
	curr, prev int
	tokens     float64
	last       time.Duration
	clock      time.Duration // "-clock": the lowest Date offset seen
	clocked    bool          // and whether one was
	phase      time.Duration // how far into one of the server's windows the run starts
	shift      time.Duration // how far the server's clock (its windows, Resets and Date) runs ahead of ours
	policy     bool          // the quota announces its window (RateLimit-Policy's w) in Quota.Window
}

func (h *headerServer) optimum() float64 { return float64(h.limit) / h.window.Seconds() }

func (h *headerServer) arrive(s *sim, r *simReq) {
	t := s.at(s.now).Add(h.shift)
	q := &Quota{Limit: h.limit}
	ok := true
	var retry time.Duration
	allowance := strings.HasPrefix(h.kind, "allowance")
	switch {
	case strings.HasPrefix(h.kind, "bucket") || allowance:
		rate := h.optimum()
		h.tokens = math.Min(h.burst, h.tokens+rate*(s.now-h.last).Seconds())
		h.last = s.now
		if ok = h.tokens >= 1; ok {
			h.tokens--
		} else {
			retry = time.Duration(math.Ceil((1-h.tokens)/rate)) * time.Second
		}
		q.Remaining = int(h.tokens)
		full := time.Duration(math.Ceil((h.burst-h.tokens)/rate)) * time.Second
		if h.kind == "bucket-clock" {
			// The Unix second at or after the instant it is full.
			exact := t.Add(time.Duration((h.burst - h.tokens) / rate * float64(time.Second)))
			full = exact.Truncate(time.Second).Sub(t)
			if exact.Truncate(time.Second).Before(exact) {
				full += time.Second
			}
		}
		if allowance {
			full = time.Duration(math.Ceil(h.window.Seconds())) * time.Second
			if ok {
				q.Remaining += int(rate * full.Seconds())
			} else {
				full = retry
			}
			if h.kind == "allowance" {
				q.Window = full
			} else {
				q.Limit += int(h.burst)
			}
		}
		q.Reset = t.Add(full) // a delay: read when the answer arrives, below
	default:
		w := h.window.Nanoseconds()
		at := t.UnixNano() + h.phase.Nanoseconds()
		idx := at / w
		switch {
		case idx == h.index:
		case idx == h.index+1:
			h.prev, h.curr = h.curr, 0
		default:
			h.prev, h.curr = 0, 0
		}
		h.index = idx
		count := float64(h.curr)
		if strings.HasPrefix(h.kind, "sliding") {
			count += float64(h.prev) * float64((idx+1)*w-at) / float64(w)
		}
		if ok = count+1 <= float64(h.limit); ok {
			h.curr++
			count++
		} else if strings.HasPrefix(h.kind, "sliding") {
			retry = h.window
		}
		q.Remaining = max(0, h.limit-int(math.Ceil(count-1e-9)))
		q.Reset = time.Unix(0, (idx+1)*w-h.phase.Nanoseconds())
	}
	if h.policy {
		q.Window = h.window
	}
	lat := s.uniform(h.service, 0.25)
	resp := simResponse{outcome: Success, quota: q, retryAfter: retry}
	if !ok {
		resp.outcome, lat = Throttled, time.Millisecond
	}
	switch {
	case h.kind == "bucket" || allowance:
		q.Reset = q.Reset.Add(lat)
	case strings.HasSuffix(h.kind, "-exact"):
		// A Reset read exactly: a fractional delay, or a Date on time.
	case strings.HasSuffix(h.kind, "-clock"):
		// A Unix time moved onto our clock by the lowest offset the
		// host's truncated Date headers showed so far (the transport's
		// estimate): late by the least fraction of a second an answer
		// was sent at.
		at := t.Add(lat)
		if off := at.Sub(at.Truncate(time.Second)); !h.clocked || off < h.clock {
			h.clock, h.clocked = off, true
		}
		q.Reset = q.Reset.Add(h.clock)
	case strings.HasSuffix(h.kind, "-delta"):
		// RateLimit-Reset as the whole seconds until the window's end,
		// read when the answer arrives.
		left := time.Duration(math.Ceil(q.Reset.Sub(t).Seconds())) * time.Second
		q.Reset = t.Add(lat + left)
	default:
		// A Unix time on the server's clock, moved onto ours by the Date
		// header, which is truncated to the second.
		at := t.Add(lat)
		q.Reset = q.Reset.Add(at.Sub(at.Truncate(time.Second)))
	}
	q.Reset = q.Reset.Add(-h.shift)
	s.respond(s.now+lat, r, resp)
}

const headerRun = 30 * time.Second

// simHeaderQuota runs srv from a cold start for headerRun and returns the
// goodput as a share of its steady rate and the refused share of attempts.
func simHeaderQuota(t testing.TB, srv *headerServer, seed uint64) (share, refused float64) {
	return simHeaderQuotaStart(t, srv, seed, false)
}

// simHeaderQuotaStart is simHeaderQuota, with crawlStart: the first request
// goes alone (see sim.crawlStart).
func simHeaderQuotaStart(t testing.TB, srv *headerServer, seed uint64, crawlStart bool) (share, refused float64) {
	srv.tokens = srv.burst
	s := newSim(simLimiter(t, "", 0), srv, seed, headerRun)
	s.crawlStart = crawlStart
	s.run()
	a, ok, rej := s.totals(0, headerRun)
	return float64(ok) / headerRun.Seconds() / srv.optimum(), float64(rej) / float64(a)
}

var headerServers = []*headerServer{
	{kind: "fixed", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
	{kind: "fixed", limit: 600, window: time.Minute, service: 20 * time.Millisecond},
	{kind: "fixed", limit: 25, window: time.Second, service: 20 * time.Millisecond},
	// Windows of a second, whose Reset read through the Date header moves
	// on with every answer like a bucket's.
	{kind: "fixed", limit: 100, window: time.Second, service: 5 * time.Millisecond},
	{kind: "fixed", limit: 1000, window: time.Second, service: 20 * time.Millisecond},
	{kind: "sliding", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
	// RateLimit-Reset as whole seconds until the window's end (the IETF
	// draft's delay).
	{kind: "fixed-delta", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
	{kind: "fixed-delta", limit: 100, window: time.Second, service: 5 * time.Millisecond},
	{kind: "sliding-delta", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
	{kind: "sliding", limit: 100, window: time.Second, service: 20 * time.Millisecond},
	{kind: "sliding", limit: 1200, window: 10 * time.Second, service: 50 * time.Millisecond},
	{kind: "bucket", limit: 100, window: time.Second, burst: 20, service: 5 * time.Millisecond},
	{kind: "bucket", limit: 10, window: time.Second, burst: 10, service: 20 * time.Millisecond},
	{kind: "bucket", limit: 1000, window: time.Second, burst: 100, service: 20 * time.Millisecond},
	{kind: "allowance", limit: 100, window: time.Second, burst: 10, service: 5 * time.Millisecond},
	{kind: "allowance-x", limit: 100, window: time.Second, burst: 10, service: 5 * time.Millisecond},
	{kind: "allowance-x", limit: 10, window: time.Second, burst: 10, service: 20 * time.Millisecond},
	// A Reset in Unix seconds read exactly (a fractional delay, or a Date
	// that happens to be fresh), or with the lowest offset a host's Date
	// headers showed so far (the transport's reading): a sliding window is
	// paced from its first end, the distance between its two Resets being
	// its length until two ends show it, and a fixed window of a second
	// is no longer waited for up to a second past its end.
	{kind: "sliding-exact", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
	{kind: "sliding-exact", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond},
	{kind: "fixed-exact", limit: 50, window: time.Second, service: 5 * time.Millisecond},
	{kind: "fixed-clock", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
	{kind: "fixed-clock", limit: 50, window: time.Second, service: 5 * time.Millisecond},
	{kind: "fixed-clock", limit: 100, window: time.Second, service: 5 * time.Millisecond},
	{kind: "fixed-clock", limit: 1000, window: time.Second, service: 20 * time.Millisecond},
	{kind: "fixed-clock", limit: 25, window: time.Second, service: 20 * time.Millisecond},
	{kind: "fixed-clock", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond},
	{kind: "fixed-clock", limit: 600, window: time.Minute, service: 20 * time.Millisecond},
	{kind: "sliding-clock", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
	{kind: "sliding-clock", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond},
	{kind: "sliding-clock", limit: 50, window: time.Second, service: 5 * time.Millisecond},
	{kind: "sliding-clock", limit: 100, window: time.Second, service: 20 * time.Millisecond},
	{kind: "sliding-clock", limit: 1200, window: 10 * time.Second, service: 50 * time.Millisecond},
}

// headerServersMissed are servers of the class that miss the targets: only
// reported. A window of 5 a second draws a refusal or two (an answer written
// across a second's end reads its Reset a second early); a bucket of one
// token says Remaining 0 after every request, so only its 429s tell its rate.
var headerServersMissed = []*headerServer{
	{kind: "fixed", limit: 5, window: time.Second, service: 20 * time.Millisecond},
	{kind: "bucket", limit: 2, window: time.Second, burst: 1, service: 20 * time.Millisecond},
	{kind: "bucket", limit: 5, window: time.Second, burst: 1, service: 20 * time.Millisecond},
	{kind: "bucket", limit: 200, window: time.Second, burst: 1, service: 5 * time.Millisecond},
}

func TestSimulationHeaderQuotasMeetTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, srv := range headerServers {
		name := fmt.Sprintf("%s %d per %v", srv.kind, srv.limit, srv.window)
		t.Run(name, func(t *testing.T) {
			c := *srv
			share, refused := simHeaderQuota(t, &c, *simSeedFlag)
			t.Logf("%.1f%% of the steady rate, %.2f%% refused", 100*share, 100*refused)
			allowed := 1.0
			if strings.HasPrefix(srv.kind, "fixed") {
				// Reset in Unix seconds is read up to 1 s late: a used-up
				// window waits that much longer.
				allowed = srv.window.Seconds() / (srv.window + time.Second).Seconds()
			}
			assert.GreaterOrEqual(t, share, 0.9*allowed, "share of what the quota allows after Reset's rounding")
			assert.LessOrEqual(t, refused, 0.01, "refused share")
		})
	}
}

// TestSimulationHeaderQuotaReport prints the figures of every header quota model:
//
//	go test ./limiter -run TestSimulationHeaderQuotaReport -simreport -v
func TestSimulationHeaderQuotaReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | service | goodput over 30 s | refused | the first request alone: goodput | refused |\n|---|---|---|---|---|---|\n")
	for _, srv := range append(headerServers, headerServersMissed...) {
		c := *srv
		share, refused := simHeaderQuota(t, &c, *simSeedFlag)
		c = *srv
		cshare, crefused := simHeaderQuotaStart(t, &c, *simSeedFlag, true)
		fmt.Fprintf(&b, "| %s %d per %v (burst %.0f) | %v | %.1f%% | %.2f%% | %.1f%% | %.2f%% |\n", srv.kind, srv.limit, srv.window, srv.burst, srv.service, 100*share, 100*refused, 100*cshare, 100*crefused)
	}
	t.Log("\n" + b.String())
}

// smallBuckets are token buckets of a few tokens announced in headers
// (Remaining the tokens, Reset the whole seconds until full, 429 +
// Retry-After beyond): "one request per N ms" APIs, whose Remaining says 0
// after every request.
func smallBuckets() []*headerServer {
	var out []*headerServer
	for _, burst := range []float64{1, 2, 5} {
		for _, c := range []struct {
			limit   int
			service time.Duration
		}{{5, 20 * time.Millisecond}, {20, 20 * time.Millisecond}, {100, 5 * time.Millisecond}, {200, 5 * time.Millisecond}} {
			out = append(out, &headerServer{kind: "bucket", limit: c.limit, window: time.Second, burst: burst, service: c.service})
		}
	}
	return out
}

// TestSimulationSmallBucketsAreNotSlowedDownByTheirHeaders holds buckets of
// one token at 20 to 200 a second and of two at 100 and 200, whose
// Remaining says 0 or 1 whatever the rate: their rate is learnt from their
// 429s, as where no quota is announced, not measured from the requests sent
// (which spiralled down to a few percent of the quota). The targets (90%)
// are not met: the cold start's refusals, each a gate of a second, and a fit
// under the server's rate cost 10-15%, and at 5 a second 30%;
// TestSimulationBucketsOfOneTokenAreLearntAfterACrawlsFirstRequest holds
// buckets of one token (and of two at 100 a second) when the first request
// goes alone, as a crawl's first listing page does: its answer says nothing
// remains and pauses the host until Reset, and the throttle that follows
// the pause must be learnt from the requests sent after it. Counted from
// the first request, the pause made the first throttle look like a slow
// client's, whose rate the learner could not trust (64-67% of the quota).
func TestSimulationBucketsOfOneTokenAreLearntAfterACrawlsFirstRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, srv := range smallBuckets() {
		if srv.burst > 2 || srv.limit < 20 || (srv.burst == 2 && srv.limit != 100) {
			continue
		}
		for _, seed := range []uint64{*simSeedFlag, 1} {
			c := *srv
			share, refused := simHeaderQuotaStart(t, &c, seed, true)
			assert.GreaterOrEqual(t, share, 0.75, "%d/s burst %.0f, seed %d: share of the quota", srv.limit, srv.burst, seed)
			assert.LessOrEqual(t, refused, 0.01, "%d/s burst %.0f, seed %d: refused share", srv.limit, srv.burst, seed)
		}
	}
}

// TestSimulationBucketsOfOneTokenToldByTheirHeadersNeedOneThrottle holds
// buckets of one token at 5 to 200 a second when the first request goes
// alone: its answer says nothing remains, so the bucket held one token, and
// the host probes its rate from the end of that pause, from half its Limit
// over the time to Reset, doubling over three requests at least. The first
// throttle then tells the rate: no cold start's burst is refused first, a
// gate of a second each (81.7-84.8% at 20 to 200 a second, and 68.7% with
// 4.6% refused at 5 a second, before).
func TestSimulationBucketsOfOneTokenToldByTheirHeadersNeedOneThrottle(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		limit   int
		service time.Duration
		share   float64
	}{{5, 20 * time.Millisecond, 0.8}, {20, 20 * time.Millisecond, 0.86}, {100, 5 * time.Millisecond, 0.86}, {200, 5 * time.Millisecond, 0.86}} {
		for _, seed := range []uint64{*simSeedFlag, 1} {
			srv := &headerServer{kind: "bucket", limit: c.limit, window: time.Second, burst: 1, service: c.service}
			share, refused := simHeaderQuotaStart(t, srv, seed, true)
			assert.GreaterOrEqual(t, share, c.share, "%d/s, seed %d: share of the quota", c.limit, seed)
			assert.LessOrEqual(t, refused, 0.01, "%d/s, seed %d: refused share", c.limit, seed)
		}
	}
}

// TestSimulationBucketsOfOneTokenUnderASmallLimitAreNotReadAsFixedWindows
// holds buckets of one token at 2 to 4 a second when the first request goes
// alone: Remaining 0 of a Limit of 2 after every request, the half a
// second until it is full rounded up to a second, read as a window others
// used up, paced the host at a request a second (41.7% at 2 a second). One
// refusal, the probe's, is 1-2% of a 30 s run's requests at these rates.
func TestSimulationBucketsOfOneTokenUnderASmallLimitAreNotReadAsFixedWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, limit := range []int{2, 3, 4} {
		for _, seed := range []uint64{*simSeedFlag, 1} {
			srv := &headerServer{kind: "bucket", limit: limit, window: time.Second, burst: 1, service: 20 * time.Millisecond}
			share, refused := simHeaderQuotaStart(t, srv, seed, true)
			assert.GreaterOrEqual(t, share, 0.8, "%d/s, seed %d: share of the quota", limit, seed)
			assert.LessOrEqual(t, refused, 0.025, "%d/s, seed %d: refused share", limit, seed)
		}
	}
}

// TestSimulationBucketsOfAFewTokensAreNotReadAsFixedWindows holds buckets
// of 5 tokens at 20, 100 and 200 a second when the first request goes
// alone, as a crawl's first listing page does: Remaining 4 of a Limit of
// 20 to 200, read as a fixed window, paced the host at one to three
// requests a second (0.5-15% of the quota).
func TestSimulationBucketsOfAFewTokensAreNotReadAsFixedWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, limit := range []int{20, 100, 200} {
		for _, seed := range []uint64{*simSeedFlag, 1} {
			srv := &headerServer{kind: "bucket", limit: limit, window: time.Second, burst: 5, service: 5 * time.Millisecond}
			if limit == 20 {
				srv.service = 20 * time.Millisecond
			}
			share, refused := simHeaderQuotaStart(t, srv, seed, true)
			assert.GreaterOrEqual(t, share, 0.85, "%d/s burst 5, seed %d: share of the quota", limit, seed)
			assert.LessOrEqual(t, refused, 0.01, "%d/s burst 5, seed %d: refused share", limit, seed)
		}
	}
}

// TestSimulationSmallBucketReport prints every row.
func TestSimulationSmallBucketsAreNotSlowedDownByTheirHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, srv := range smallBuckets() {
		if srv.burst > 2 || srv.limit < 20 || (srv.burst == 2 && srv.limit < 100) {
			continue
		}
		for _, seed := range []uint64{*simSeedFlag, 1} {
			c := *srv
			share, refused := simHeaderQuota(t, &c, seed)
			assert.GreaterOrEqual(t, share, 0.8, "%d/s burst %.0f, seed %d: share of the quota", srv.limit, srv.burst, seed)
			assert.LessOrEqual(t, refused, 0.01, "%d/s burst %.0f, seed %d: refused share", srv.limit, srv.burst, seed)
		}
	}
}

// TestSimulationSmallBucketReport prints the figures of buckets of a few
// tokens announced in headers:
//
//	go test ./limiter -run TestSimulationSmallBucketReport -simreport -v
func TestSimulationSmallBucketReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | service | seed | goodput over 30 s | refused | the first request alone: goodput | refused |\n|---|---|---|---|---|---|---|\n")
	for _, srv := range smallBuckets() {
		for _, seed := range []uint64{1, 42} {
			c := *srv
			share, refused := simHeaderQuota(t, &c, seed)
			c = *srv
			cshare, crefused := simHeaderQuotaStart(t, &c, seed, true)
			fmt.Fprintf(&b, "| %s %d per %v (burst %.0f) | %v | %d | %.1f%% | %.2f%% | %.1f%% | %.2f%% |\n", srv.kind, srv.limit, srv.window, srv.burst, srv.service, seed, 100*share, 100*refused, 100*cshare, 100*crefused)
		}
	}
	t.Log("\n" + b.String())
}

// TestSimulationBucketsOfOneTokenWithoutHeadersAreLearnt holds buckets of
// one token at 10 to 50 a second that announce no quota (429 + Retry-After
// in whole seconds): each gap between two admitted requests bounds the
// rate, so the second throttle's few requests tell it (about 85% of the
// quota over 30 s, 0.3-1.6% refused, where a fit that took the burst for
// 1.4 tokens held it at 61-69%). 90% is not met: the cold start's refusals
// and two gates of a second.
func TestSimulationBucketsOfOneTokenWithoutHeadersAreLearnt(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, rate := range []float64{10, 20, 50} {
		for _, seed := range []uint64{*simSeedFlag, 1} {
			_, over30, rejected := simQuotaNoHeaders(t, rate, 1, 20*time.Millisecond, seed)
			assert.GreaterOrEqual(t, over30, 0.8, "%v/s, seed %d: share of the quota over 30 s", rate, seed)
			assert.LessOrEqual(t, rejected, 0.02, "%v/s, seed %d: refused share", rate, seed)
		}
	}
}

// lateAfterGate delays the first request that arrives after each refusal
// by late, as a client whose first request after a pause waits on its
// connection: the request after it, on time, reaches the server less than
// the pacer's interval later.
type lateAfterGate struct {
	*headerServer
	late    time.Duration
	refused bool
}

func (l *lateAfterGate) arrive(s *sim, r *simReq) {
	if l.refused {
		l.refused = false
		s.after(s.now+l.late, func() { l.arrive(s, r) })
		return
	}
	h := l.headerServer
	l.refused = math.Min(h.burst, h.tokens+h.optimum()*(s.now-h.last).Seconds()) < 1
	h.arrive(s, r)
}

func TestSimulationBucketOfOneTokenKeepsGoingWhenTheFirstGapAfterAGateIsRefused(t *testing.T) {
	// A bucket of one token at 100 a second, the first request after each
	// refusal 3 ms late: after a gate it admits that one and refuses the
	// next, sent one interval after the first one left. The learner once
	// fitted ~2e-7 a second to such a record and the host sent nothing
	// more (the one-token crawl row's stall: 5 items, then nothing).
	if testing.Short() {
		t.Skip("simulation")
	}
	srv := &lateAfterGate{headerServer: &headerServer{kind: "bucket", limit: 100, window: time.Second, burst: 1, service: 5 * time.Millisecond}, late: 3 * time.Millisecond}
	srv.tokens = srv.burst
	s := newSim(simLimiter(t, "", 0), srv, *simSeedFlag, headerRun)
	s.crawlStart = true
	s.run()
	a, ok, rej := s.totals(0, headerRun)
	share := float64(ok) / headerRun.Seconds() / srv.optimum()
	t.Logf("%.1f%% of the quota, %d of %d refused", 100*share, rej, a)
	// The interval after a gate's first permit is stretched by half: the
	// late request no longer brings the next one closer than the server's
	// interval (without that, every gate's record read as a fallen rate
	// and halved it: 40%).
	assert.Greater(t, share, 0.75, "share of the quota over 30 s")
	_, late, _ := s.totals(headerRun-5*time.Second, headerRun)
	assert.Greater(t, late, 100, "requests admitted in the last 5 s")
}

// TestSimulationHeaderQuotaPhaseReport prints windowed quotas whose first
// window ends early in the run (windows are aligned to the server's clock, a
// crawl starts at any phase of one), the first request alone; the optimum is
// the steady rate, so a run that starts late in a window gets its first
// window's quota in less than a window's time and reads above 100%:
//
//	go test ./limiter -run TestSimulationHeaderQuotaPhaseReport -simreport -v
func TestSimulationHeaderQuotaPhaseReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	phases := []float64{0, 0.2, 0.5, 0.8, 0.95}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | service |")
	for _, ph := range phases {
		fmt.Fprintf(&b, " started %.0f%% into a window: goodput, refused |", 100*ph)
	}
	fmt.Fprintf(&b, "\n|---|---|%s\n", strings.Repeat("---|", len(phases)))
	for _, srv := range []*headerServer{
		{kind: "sliding-clock", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond},
		{kind: "sliding-clock", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
		{kind: "sliding-clock", limit: 50, window: time.Second, service: 5 * time.Millisecond},
		{kind: "sliding", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond},
		{kind: "sliding", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
		{kind: "fixed-clock", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond},
		{kind: "fixed-clock", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
		{kind: "fixed", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond},
		// Announced in IETF RateLimit and RateLimit-Policy: the window
		// is known, Reset is whole seconds until it ends.
		{kind: "fixed-delta", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond, policy: true},
		{kind: "fixed-delta", limit: 500, window: 5 * time.Second, service: 5 * time.Millisecond, policy: true},
		{kind: "fixed-delta", limit: 50, window: time.Second, service: 5 * time.Millisecond, policy: true},
		{kind: "sliding-delta", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond, policy: true},
		{kind: "fixed-delta", limit: 300, window: 10 * time.Second, service: 5 * time.Millisecond},
	} {
		policy := ""
		if srv.policy {
			policy = " (policy)"
		}
		fmt.Fprintf(&b, "| %s%s %d per %v | %v |", srv.kind, policy, srv.limit, srv.window, srv.service)
		for _, ph := range phases {
			c := *srv
			c.phase = time.Duration(ph * float64(srv.window))
			share, refused := simHeaderQuotaStart(t, &c, *simSeedFlag, true)
			fmt.Fprintf(&b, " %.1f%%, %.2f%% |", 100*share, 100*refused)
		}
		b.WriteString("\n")
	}
	t.Log("\n" + b.String())
}

// hiddenServer is a header quota that does not bind (h) in front of a
// bucket its headers do not describe (a per-endpoint or secondary limit):
// rate a second, burst tokens, 429 + Retry-After: 1 s beyond, with the
// header quota's figures on the refusal.
type hiddenServer struct {
	h                   *headerServer
	rate, burst, tokens float64
	last                time.Duration
}

func (x *hiddenServer) arrive(s *sim, r *simReq) {
	x.tokens = math.Min(x.burst, x.tokens+x.rate*(s.now-x.last).Seconds())
	x.last = s.now
	if x.tokens >= 1 {
		x.tokens--
		x.h.arrive(s, r)
		return
	}
	q := &Quota{Limit: x.h.limit, Remaining: int(x.h.tokens), Reset: s.at(s.now + time.Millisecond + time.Second)}
	s.respond(s.now+time.Millisecond, r, simResponse{outcome: Throttled, quota: q, retryAfter: time.Second})
}

func TestSimulationALimitTheHeadersDoNotDescribeIsLearnt(t *testing.T) {
	// A header bucket of 1,000/s burst 100 that never binds, in front of
	// a hidden 50/s bucket of 10: the refusals come while Remaining says
	// ~100 remain. Learnt as where no quota is announced, the host is
	// paced at the hidden rate (it was paced by the headers alone: each
	// gate ended in a burst that emptied the hidden bucket again).
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, seed := range []uint64{*simSeedFlag, 1, 7} {
		h := &headerServer{kind: "bucket", limit: 1000, window: time.Second, burst: 100, service: 5 * time.Millisecond}
		h.tokens = h.burst
		srv := &hiddenServer{h: h, rate: 50, burst: 10, tokens: 10}
		s := newSim(simLimiter(t, "", 0), srv, seed, headerRun)
		s.crawlStart = true
		s.run()
		a, ok, rej := s.totals(0, headerRun)
		share := float64(ok) / headerRun.Seconds() / srv.rate
		t.Logf("seed %d: %.1f%% of the hidden rate, %d of %d refused", seed, 100*share, rej, a)
		assert.GreaterOrEqual(t, share, 0.8, "seed %d: share of the hidden rate over 30 s", seed)
		assert.LessOrEqual(t, float64(rej)/float64(a), 0.01, "seed %d: refused share", seed)
	}
}

// TestSimulationWindowsOfASecondAreUsedWhenResetIsRoundedUp holds fixed
// windows of a second whose Reset names a time up to a second after the
// window's end: whole seconds until it ("1" all along), or a Unix second
// read through each answer's own Date. Remaining spread over that second
// with every answer used 60% of each window; the refills seen tell when a
// window really ends. A window's first requests go before its refill shows,
// and Limit/20 is kept in reserve until a used-up window's end shows that
// it refills then: 85-93%.
func TestSimulationWindowsOfASecondAreUsedWhenResetIsRoundedUp(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, srv := range []*headerServer{
		{kind: "fixed-delta", limit: 100, window: time.Second, service: 5 * time.Millisecond},
		{kind: "fixed-delta", limit: 50, window: time.Second, service: 5 * time.Millisecond, policy: true},
		{kind: "fixed-delta", limit: 25, window: time.Second, service: 20 * time.Millisecond},
		{kind: "fixed", limit: 100, window: time.Second, service: 5 * time.Millisecond},
		{kind: "fixed", limit: 1000, window: time.Second, service: 20 * time.Millisecond},
		{kind: "fixed", limit: 25, window: time.Second, service: 20 * time.Millisecond},
	} {
		for _, crawl := range []bool{false, true} {
			c := *srv
			share, refused := simHeaderQuotaStart(t, &c, *simSeedFlag, crawl)
			name := fmt.Sprintf("%s %d per %v, the first request alone %v", srv.kind, srv.limit, srv.window, crawl)
			assert.GreaterOrEqual(t, share, 0.85, "%s: share of the quota", name)
			assert.LessOrEqual(t, refused, 0.01, "%s: refused share", name)
		}
	}
}

// epochBuckets are header token buckets whose Reset is the Unix second at
// which they are full (read through the Date header), not the seconds until
// then: a bucket of a few tokens names a second up to one ahead whatever the
// rate it is sent at.
var epochBuckets = []*headerServer{
	{kind: "bucket-clock", limit: 20, window: time.Second, burst: 5, service: 20 * time.Millisecond},
	{kind: "bucket-clock", limit: 20, window: time.Second, burst: 5, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 100, window: time.Second, burst: 10, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 100, window: time.Second, burst: 20, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 300, window: time.Second, burst: 50, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 10, window: time.Second, burst: 10, service: 20 * time.Millisecond},
	{kind: "bucket-clock", limit: 50, window: time.Second, burst: 5, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 1000, window: time.Second, burst: 100, service: 20 * time.Millisecond},
	{kind: "bucket-clock", limit: 20, window: time.Second, burst: 6, service: 20 * time.Millisecond},
	{kind: "bucket-clock", limit: 20, window: time.Second, burst: 10, service: 20 * time.Millisecond},
	{kind: "bucket-clock", limit: 50, window: time.Second, burst: 20, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 100, window: time.Second, burst: 30, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 100, window: time.Second, burst: 50, service: 5 * time.Millisecond},
	{kind: "bucket-clock", limit: 10, window: time.Second, burst: 3, service: 20 * time.Millisecond},
	{kind: "bucket-clock", limit: 5, window: time.Second, burst: 2, service: 20 * time.Millisecond},
}

// TestSimulationBucketsWithAnEpochResetAreNotReadAsFixedWindows holds
// header token buckets whose Reset is the Unix second they are full at: it
// moves a whole second each second, like a fixed window's end, while
// Remaining stays at the bucket's size. Read as fixed windows whose
// Remaining is spread over the second, buckets of more than a quarter of
// their Limit ran at 45-84% of their rate (a bucket of 5 at 20 a second
// whose first answer said 5: 3 requests a second). Buckets of two or three
// tokens are left out: their refusals teach their rate.
func TestSimulationBucketsWithAnEpochResetAreNotReadAsFixedWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, srv := range epochBuckets {
		if srv.burst < 5 {
			continue
		}
		for _, crawl := range []bool{false, true} {
			c := *srv
			share, refused := simHeaderQuotaStart(t, &c, *simSeedFlag, crawl)
			name := fmt.Sprintf("%d/s burst %.0f × %v, the first request alone %v", srv.limit, srv.burst, srv.service, crawl)
			// Started with a burst, a bucket of 10 at 100 a second reads
			// 89.7-90.7% over the seeds: a bucket's pacing, not its Reset.
			floor := 0.9
			if !crawl {
				floor = 0.88
			}
			assert.GreaterOrEqual(t, share, floor, "%s: share of the quota", name)
			assert.LessOrEqual(t, refused, 0.01, "%s: refused share", name)
		}
	}
}

// TestSimulationEpochBucketReport prints the figures of epochBuckets:
//
//	go test ./limiter -run TestSimulationEpochBucketReport -simreport -v
func TestSimulationEpochBucketReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| server | service | seed | goodput over 30 s | refused | the first request alone: goodput | refused |\n|---|---|---|---|---|---|---|\n")
	for _, srv := range epochBuckets {
		for _, seed := range []uint64{1, 42} {
			c := *srv
			share, refused := simHeaderQuota(t, &c, seed)
			c = *srv
			cshare, crefused := simHeaderQuotaStart(t, &c, seed, true)
			fmt.Fprintf(&b, "| %s %d per %v (burst %.0f) | %v | %d | %.1f%% | %.2f%% | %.1f%% | %.2f%% |\n", srv.kind, srv.limit, srv.window, srv.burst, srv.service, seed, 100*share, 100*refused, 100*cshare, 100*crefused)
		}
	}
	t.Log("\n" + b.String())
}

// TestSimulationHeaderBucketsFullWithinASecondStartNearTheirRate holds the
// cold start of token buckets announced in headers whose burst refills in
// under a second and whose Reset (when the bucket is full) is sent as whole
// seconds: Remaining stays at its top while the client sends slower than
// the refill, and each answer's Reset moves a little on. Such a bucket is
// told from a window within a few answers and is not held to a request a
// second by a reserve larger than the bucket. Before its refill is known,
// and once it is while the bucket stays full, what it holds is spent
// within a refill span rather than over the second its Reset names: the
// buckets of 10 and 20 tokens reach 70-100% of their rate over the first
// 3 s (bar: each case's), where pacing by the second left them at 46-90%.
// A bucket of 20 a second and 5 tokens whose first requests go out
// together is refused at once and gated for its Retry-After's second.
func TestSimulationHeaderBucketsFullWithinASecondStartNearTheirRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, c := range []struct {
		limit   int
		burst   float64
		service time.Duration
		bar     float64
	}{{100, 10, 5 * time.Millisecond, 0.85}, {100, 20, 5 * time.Millisecond, 0.95}, {500, 10, 5 * time.Millisecond, 0.65},
		{1000, 20, 20 * time.Millisecond, 0.65}, {20, 5, 20 * time.Millisecond, 0.35}} {
		for _, crawl := range []bool{false, true} {
			srv := &headerServer{kind: "bucket", limit: c.limit, window: time.Second, burst: c.burst, tokens: c.burst, service: c.service}
			s := newSim(simLimiter(t, "", 0), srv, *simSeedFlag, 3*time.Second)
			s.crawlStart = crawl
			s.run()
			_, ok, rej := s.totals(0, 3*time.Second)
			assert.GreaterOrEqual(t, float64(ok)/3/srv.optimum(), c.bar, "%d/s burst %.0f, first request alone %v: share of the rate over the first 3 s", c.limit, c.burst, crawl)
			assert.LessOrEqual(t, rej, 1, "%d/s burst %.0f, first request alone %v: refused (a cold start's first requests may outnumber a small bucket)", c.limit, c.burst, crawl)
		}
	}
}

// TestSimulationHeaderBucketColdStartReport prints the share of a header
// token bucket's rate over the first 3 s and over 30 s from a cold start,
// alone and with a crawl's first request alone, for buckets of 2 to 100
// tokens whose Reset is the whole seconds until they are full:
//
//	go test ./limiter -run TestSimulationHeaderBucketColdStartReport -simreport -v
func TestSimulationHeaderBucketColdStartReport(t *testing.T) {
	if !*simReport {
		t.Skip("run with -simreport")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| bucket | service | first request alone | first 3 s | 30 s | refused |\n|---|---|---|---|---|---|\n")
	for _, c := range []struct {
		limit   int
		burst   float64
		service time.Duration
	}{{100, 10, 5 * time.Millisecond}, {100, 20, 5 * time.Millisecond}, {100, 5, 20 * time.Millisecond}, {50, 5, 5 * time.Millisecond},
		{20, 5, 20 * time.Millisecond}, {500, 10, 5 * time.Millisecond}, {1000, 20, 20 * time.Millisecond}, {1000, 100, 20 * time.Millisecond},
		{200, 50, 5 * time.Millisecond}, {10, 2, 20 * time.Millisecond}, {100, 2, 5 * time.Millisecond}} {
		for _, crawl := range []bool{false, true} {
			srv := &headerServer{kind: "bucket", limit: c.limit, window: time.Second, burst: c.burst, tokens: c.burst, service: c.service}
			s := newSim(simLimiter(t, "", 0), srv, *simSeedFlag, headerRun)
			s.crawlStart = crawl
			s.run()
			_, ok3, _ := s.totals(0, 3*time.Second)
			a, ok, rej := s.totals(0, headerRun)
			fmt.Fprintf(&b, "| %d/s burst %.0f | %v | %v | %.1f%% | %.1f%% | %.2f%% |\n", c.limit, c.burst, c.service, crawl,
				100*float64(ok3)/3/srv.optimum(), 100*float64(ok)/headerRun.Seconds()/srv.optimum(), 100*float64(rej)/float64(a))
		}
	}
	t.Log("\n" + b.String())
}

// TestSimulationSlidingWindowsOfASecondFromEveryPhase holds sliding windows
// of a second whose Reset (a Unix second) is read through the Date header,
// the crawl starting at every tenth of the server's second: until the Date
// first turns, the transport reads each Reset up to a second late, and a
// window of a second's end read so looks like the next one's. It made the
// first window's distance to the next up to half a window too long (the
// window measured only ever grew), a single step of Reset at the Date's
// turn read as a bucket's moving Reset, and a gate of a whole window (the
// window's Retry-After) a window twice as long, or a jump back read as a
// fixed window's: 50-88% of the quota at four of the ten phases.
func TestSimulationSlidingWindowsOfASecondFromEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	for _, srv := range []*headerServer{
		{kind: "sliding-clock", limit: 50, window: time.Second, service: 5 * time.Millisecond},
		{kind: "sliding-clock", limit: 80, window: time.Second, service: 5 * time.Millisecond},
		{kind: "sliding-clock", limit: 100, window: time.Second, service: 20 * time.Millisecond},
	} {
		for shift := time.Duration(0); shift < time.Second; shift += 100 * time.Millisecond {
			c := *srv
			c.shift = shift
			share, refused := simHeaderQuota(t, &c, *simSeedFlag)
			assert.GreaterOrEqual(t, share, 0.9, "%d per %v, the server's clock %v ahead: share of the steady rate", srv.limit, srv.window, shift)
			assert.LessOrEqual(t, refused, 0.01, "%d per %v, the server's clock %v ahead: refused share", srv.limit, srv.window, shift)
		}
	}
}
