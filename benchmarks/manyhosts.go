package benchmarks

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

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
// answer a bare 429 beyond it (no Retry-After, no quota headers), or with
// QuotaHeaders announce the quota (RateLimit-* and X-RateLimit-*) and send a
// Retry-After with the 429. Faulty hosts answer as healthy ones but for a
// FaultyShare of their first FaultyAttempts attempts at an item, each a 500,
// a reset connection or a body cut short in equal parts (a later attempt
// answers). Black holes
// never answer an item (BlackHoleItems each): each attempt waits for the
// crawl's timeout, which the config's hosts: sets to BlackHoleTimeout for them.
// Flaky hosts answer as healthy ones but for a FlakyHang share of their
// requests, which hang until the crawl's timeout (BlackHoleTimeout too),
// whatever the attempt (FlakyItems each; robots.txt always answers), and
// with FlakyDies every request from that long after their start.
// Refusing hosts refuse every connection (nothing listens on their port;
// BlackHoleItems each), as a host that is down does. Tarpits answer every
// item with its headers and the start of a body, then nothing until the
// crawl's timeout (BlackHoleTimeout; BlackHoleItems each).
type ManyHosts struct {
	Healthy, Gated, Slow int           // hosts of each role
	Quota, BlackHoles    int           // hosts of each role
	Flaky, Refusing      int           // hosts of each role
	Tarpits, Redirecting int           // hosts of each role
	Faulty               int           // hosts of each role
	ItemsPerHost         int           // items of each healthy, faulty, gated and quota host
	Grouped              bool          // the listing lists each host's items together, the hosts that are not healthy first
	Slots, Queue         int           // every host's capacity
	Mixed                bool          // every second healthy host has half the slots and queue
	Latency              time.Duration // a healthy or gated host's service time
	Spread               float64       // the slowest healthy host's service time over Latency (<= 1: all the same)
	Jitter               float64       // each request's service time on a healthy, faulty or gated host spreads uniformly by ± this share of it (0: none)
	Blackout             time.Duration // a gated host answers 503 for this long after it starts
	SlowLatency          time.Duration // a slow host's service time
	SlowItems            int           // each slow host's items
	QuotaRate            float64       // a quota host's requests per second
	QuotaBurst           int           // and its bucket
	QuotaHeaders         bool          // quota hosts announce their quota and send a Retry-After with a 429
	BlackHoleItems       int           // each black hole's items
	BlackHoleTimeout     time.Duration // a black hole's and a flaky host's timeout in the config's hosts:
	DeadRobots           bool          // black holes hang their robots.txt too
	FlakyItems           int           // each flaky host's items
	FlakyHang            float64       // the share of a flaky host's requests that hang
	FlakyDies            time.Duration // a flaky host leaves every request hanging from this long after its start (0: never)
	FaultyShare          float64       // the share of a faulty host's first attempts that fail
	MaxTotal             int           // limits.concurrency.max_total; 0 leaves the default
	Cap                  time.Duration // the run stops after this long
	// TLS, when set, serves every host and the listing over HTTPS with it,
	// HTTP/2 offered (a dying host's front too), and the crawl trusts it:
	// each host then costs the crawl a TLS handshake, and its requests
	// share one connection as streams where HTTP/2 is agreed, as a real
	// host's do. A refusing host refuses the connection either way.
	TLS *mockapi.Cert
	// Profile, when set, receives a CPU profile of the crawl, from its
	// start to its end: its goroutines are labelled side=crawl and the
	// mock servers' side=mock (go tool pprof -tagfocus side=crawl), so
	// that the servers' CPU, which a real crawl does not pay, is told
	// from the crawl's.
	Profile io.Writer
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
	Faulty               int           // healthy hosts whose first attempts fail now and then: a 500, a reset, a body cut short (default none)
	FaultyShare          float64       // the share of a faulty host's first faultyAttempts attempts that fail (default 0.3)
	ItemsPerHost         int           // each healthy, faulty, gated and quota host's items (default 2.5 s of a healthy host's pace, 20 at least)
	Grouped              bool          // the listing lists each host's items together, the hosts that are not healthy first (default: the hosts in turn)
	FlakyItems           int           // each flaky host's items (default 40)
	FlakyHang            float64       // the share of a flaky host's requests that hang (default 0.4)
	FlakyDies            time.Duration // flaky hosts stop answering anything this long after their start (default never)
	Latency              time.Duration // a healthy host's service time
	Spread               float64       // the slowest healthy host's service time over Latency (default 1)
	Jitter               float64       // each request's service time spreads ± this share of it (default 0: none)
	Blackout             time.Duration // a gated host's blackout (default 5 s at scale 1)
	BlackHoleItems       int           // each black hole's items (default 4)
	BlackHoleTimeout     time.Duration // a black hole's and a flaky host's timeout in the config's hosts: (default 2 s at scale 1)
	DeadRobots           bool          // black holes hang their robots.txt too (default: they answer it)
	MaxTotal             int           // limits.concurrency.max_total
	Mixed                bool          // every second healthy host has half the capacity
	QuotaHeaders         bool          // quota hosts announce their quota and send a Retry-After with a 429 (default: a bare 429)
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
		shape.Spread < 0 || math.IsNaN(shape.Spread) || math.IsInf(shape.Spread, 0) || !(shape.Jitter >= 0 && shape.Jitter < 1) ||
		shape.Flaky < 0 || shape.FlakyItems < 0 || shape.Refusing < 0 || shape.Tarpits < 0 || shape.Redirecting < 0 || !(shape.FlakyHang >= 0 && shape.FlakyHang < 1) ||
		shape.Faulty < 0 || shape.ItemsPerHost < 0 || shape.FlakyDies < 0 || !(shape.FaultyShare >= 0 && shape.FaultyShare <= 1) {
		return ManyHosts{}, fmt.Errorf("benchmarks: many hosts: %+v: want no count below zero (-1 for none gated or slow), a latency, blackout and timeout of 0 or more, a finite spread of 0 or more, a jitter in [0, 1), a flaky hang share in [0, 1) and a faulty share in [0, 1]", shape)
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
	items := cmp.Or(shape.ItemsPerHost, max(20, int(2.5*scale*slots*float64(time.Second)/float64(latency))))
	blackout := cmp.Or(shape.Blackout, max(time.Second, d(5)).Round(time.Second))
	spread := max(1, shape.Spread)
	holeTimeout := cmp.Or(shape.BlackHoleTimeout, max(500*time.Millisecond, d(2)))
	flakyItems, flakyHang := cmp.Or(shape.FlakyItems, 40), cmp.Or(shape.FlakyHang, 0.4)
	return ManyHosts{
		Healthy: pick(shape.Healthy, 8), Gated: pick(shape.Gated, 1), Slow: pick(shape.Slow, 1),
		Quota: shape.Quota, BlackHoles: blackHoles(shape), Redirecting: shape.Redirecting, Flaky: shape.Flaky, FlakyItems: flakyItems, FlakyHang: flakyHang, FlakyDies: shape.FlakyDies, Refusing: shape.Refusing, Tarpits: shape.Tarpits,
		Faulty: shape.Faulty, FaultyShare: cmp.Or(shape.FaultyShare, 0.3), Grouped: shape.Grouped,
		ItemsPerHost: items, Slots: slots, Queue: 4, Mixed: shape.Mixed, Latency: latency, Spread: spread, Jitter: shape.Jitter,
		Blackout: blackout, SlowLatency: time.Second, SlowItems: max(4, int(24*scale)),
		QuotaRate: 100, QuotaBurst: 10, QuotaHeaders: shape.QuotaHeaders, BlackHoleItems: cmp.Or(shape.BlackHoleItems, 4), BlackHoleTimeout: holeTimeout, DeadRobots: shape.DeadRobots,
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
	}{{RoleHealthy, mh.Healthy}, {RoleFaulty, mh.Faulty}, {RoleBlackout, mh.Gated}, {RoleQuota, mh.Quota}, {RoleSlow, mh.Slow}, {RoleBlackHole, mh.BlackHoles}, {RoleFlaky, mh.Flaky}, {RoleRefusing, mh.Refusing}, {RoleTarpit, mh.Tarpits}, {RoleRedirect, mh.Redirecting}} {
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
	return float64(cmp.Or(mh.MaxTotal, maxIdleConns)) / float64(max(1, mh.Healthy+mh.Faulty+mh.Slow+mh.Quota+mh.BlackHoles+mh.Flaky+mh.Refusing+mh.Tarpits+mh.Redirecting))
}
