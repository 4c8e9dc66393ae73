package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/mockapi"
)

// lockedBuffer is a bytes.Buffer a running command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var mockURL = regexp.MustCompile(`at (https?://127\.0\.0\.1:\d+) `)

// mockRun is `politely mock` running in a goroutine until stop.
type mockRun struct {
	stdout, stderr lockedBuffer
	cancel         context.CancelFunc
	done           chan int
	client         *http.Client
}

// startMock runs `politely mock` with args and waits until it printed n
// servers' URLs, which it returns.
func startMock(t *testing.T, n int, args ...string) (*mockRun, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{}
	m := &mockRun{cancel: cancel, done: make(chan int, 1), client: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(cancel)
	go func() { m.done <- run(ctx, append([]string{"mock"}, args...), &m.stdout, &m.stderr) }()

	var urls []string
	require.Eventually(t, func() bool {
		urls = urls[:0]
		for _, u := range mockURL.FindAllStringSubmatch(m.stdout.String(), -1) {
			urls = append(urls, u[1])
		}
		return len(urls) == n
	}, 10*time.Second, 10*time.Millisecond, "one URL a server; stderr: %s", m.stderr.String())
	return m, urls
}

// get fetches url and reads its body to the end.
func (m *mockRun) get(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := m.client.Get(url)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp
}

// stats reads the /__stats of the server at url.
func (m *mockRun) stats(t *testing.T, url string) mockapi.Stats {
	t.Helper()
	resp, err := m.client.Get(url + "/__stats")
	require.NoError(t, err)
	var st mockapi.Stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	require.NoError(t, resp.Body.Close())
	return st
}

// stop ends the mock's context and waits for it to exit 0; it returns what
// the mock printed.
func (m *mockRun) stop(t *testing.T) string {
	t.Helper()
	m.client.CloseIdleConnections()
	m.cancel()
	select {
	case code := <-m.done:
		assert.Equal(t, exitOK, code, "stderr: %s", m.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("mock did not stop after its context ended")
	}
	return m.stdout.String()
}

func TestMockServesThePresetUntilTheContextEnds(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m, urls := startMock(t, 1, "--scenario", "quota", "--rate", "50", "--addr", "127.0.0.1:0")

	resp := m.get(t, urls[0]+"/items/1")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("RateLimit-Policy"), "q=50;", "the --rate knob reaches the quota")

	st := m.stats(t, urls[0])
	assert.Equal(t, "quota", st.Scenario)
	assert.Equal(t, int64(1), st.Requests)

	assert.Contains(t, m.stop(t), "stopped: 1 requests")
}

// --tls serves HTTPS and HTTP/2 with a certificate written where
// --tls-cert says, which a client that trusts it (a crawl through
// SSL_CERT_FILE) verifies.
func TestMockServesHTTPSWithTheCertificateItWrites(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "mock.pem")
	m, urls := startMock(t, 1, "--scenario", "capacity", "--items", "5", "--tls", "--tls-cert", path)
	assert.True(t, strings.HasPrefix(urls[0], "https://"), urls[0])
	assert.Contains(t, m.stdout.String(), "SSL_CERT_FILE="+path)

	pemBytes, err := os.ReadFile(path)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes), "the file holds a PEM certificate")
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(urls[0] + "/items/1")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2")

	_, err = m.client.Get(urls[0] + "/items/1")
	assert.Error(t, err, "a client that does not trust it")
	tr.CloseIdleConnections()
	assert.Contains(t, m.stop(t), "stopped: 1 requests")
}

func TestMockServesManyIndependentServersFromOneProcess(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m, urls := startMock(t, 3, "--scenario", "capacity", "--servers", "3", "--items", "5")
	assert.Len(t, map[string]bool{urls[0]: true, urls[1]: true, urls[2]: true}, 3, "each on its own port")

	for range 2 {
		m.get(t, urls[1]+"/items/1")
	}
	for i, want := range []int64{0, 2, 0} {
		assert.Equal(t, want, m.stats(t, urls[i]).Requests, "server %d counts only its own requests", i)
	}

	assert.Equal(t, 3, strings.Count(m.stop(t), "stopped: "))
}

func TestMockSharedServesOneServerOnManyPorts(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m, urls := startMock(t, 3, "--scenario", "capacity", "--servers", "3", "--shared", "--items", "5")
	assert.Len(t, map[string]bool{urls[0]: true, urls[1]: true, urls[2]: true}, 3, "each on its own port")

	m.get(t, urls[0]+"/items/1")
	m.get(t, urls[2]+"/items/2")
	for i := range urls {
		assert.Equal(t, int64(2), m.stats(t, urls[i]).Requests, "port %d shows the one server's ground truth", i)
	}
	assert.Equal(t, 3, strings.Count(m.stop(t), "stopped: 2 requests"))
}

func TestMockWithACancelledContextPrintsItsURLAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, stdout, stderr := runCLI(t, ctx, "mock", "--scenario", "capacity")
	assert.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Regexp(t, `mock API "capacity" at http://127\.0\.0\.1:\d+ `, stdout)
	assert.Contains(t, stdout, "stopped: 0 requests")
}

func TestMockListsThePresets(t *testing.T) {
	code, stdout, _ := runCLI(t, context.Background(), "mock", "--list")
	assert.Equal(t, exitOK, code)
	for _, sc := range mockapi.Scenarios() {
		assert.Contains(t, stdout, sc.Name+" ")
	}
}

func TestMockKnobsForRetryAfterQuotaHeadersAndClockChangeThePreset(t *testing.T) {
	f := mockFlags{scenario: "quota", retryAfter: 5 * time.Second, raDate: true, quotaHeaders: "ietf", clockOffset: -3 * time.Second}
	fl := newMockCmd().Flags()
	for _, name := range []string{"retry-after", "retry-after-date", "quota-headers", "clock-offset"} {
		fl.Lookup(name).Changed = true
	}
	sc, err := mockScenario(f, fl)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, sc.Quota.RetryAfter)
	assert.Equal(t, 5*time.Second, sc.Capacity.RetryAfter)
	assert.True(t, sc.RetryAfterDate)
	assert.Equal(t, mockapi.QuotaHeadersIETF, sc.Quota.Headers)
	assert.Equal(t, -3*time.Second, sc.ClockOffset)

	f = mockFlags{scenario: "header-quota-sliding", headerIETF: true, headerReset: "delta"}
	fl = newMockCmd().Flags()
	fl.Lookup("header-ietf").Changed = true
	fl.Lookup("header-reset").Changed = true
	sc, err = mockScenario(f, fl)
	require.NoError(t, err)
	assert.True(t, sc.HeaderQuota.IETF)
	assert.Equal(t, mockapi.HeaderResetDelta, sc.HeaderQuota.Reset)

	f = mockFlags{scenario: "quota-no-headers", listingRate: 2, listingBurst: 1}
	fl = newMockCmd().Flags()
	fl.Lookup("listing-rate").Changed = true
	fl.Lookup("listing-burst").Changed = true
	sc, err = mockScenario(f, fl)
	require.NoError(t, err)
	assert.Equal(t, 2.0, sc.ListingQuota.Rate)
	assert.Equal(t, 1, sc.ListingQuota.Burst)
	assert.Equal(t, sc.Quota.Headers, sc.ListingQuota.Headers, "refused as the preset's quota refuses")

	f = mockFlags{scenario: "capacity", loopShare: 0.1, missingShare: 0.2, onceShare: 0.3}
	fl = newMockCmd().Flags()
	fl.Lookup("redirect-loop-share").Changed = true
	fl.Lookup("missing-share").Changed = true
	fl.Lookup("redirect-once-share").Changed = true
	sc, err = mockScenario(f, fl)
	require.NoError(t, err)
	assert.Equal(t, 0.1, sc.RedirectLoopShare)
	assert.Equal(t, 0.2, sc.MissingShare)
	assert.Equal(t, 0.3, sc.RedirectOnceShare)

	f = mockFlags{scenario: "capacity", robotsLatency: time.Second, robotsStatus: 503}
	fl = newMockCmd().Flags()
	fl.Lookup("robots-latency").Changed = true
	fl.Lookup("robots-status").Changed = true
	sc, err = mockScenario(f, fl)
	require.NoError(t, err)
	assert.Equal(t, time.Second, sc.Robots.Latency)
	assert.Equal(t, 503, sc.Robots.Status)

	f = mockFlags{scenario: "header-quota-token-bucket", headerRequests: true}
	fl = newMockCmd().Flags()
	fl.Lookup("header-requests").Changed = true
	sc, err = mockScenario(f, fl)
	require.NoError(t, err)
	assert.True(t, sc.HeaderQuota.Requests)
	assert.False(t, sc.HeaderQuota.IETF)

	f = mockFlags{scenario: "header-quota", headerHidden: true}
	fl = newMockCmd().Flags()
	fl.Lookup("header-hidden").Changed = true
	sc, err = mockScenario(f, fl)
	require.NoError(t, err)
	assert.True(t, sc.HeaderQuota.Hidden)

	sc, err = mockScenario(mockFlags{scenario: "quota"}, newMockCmd().Flags())
	require.NoError(t, err)
	assert.Zero(t, sc.Quota.RetryAfter, "a knob not given leaves the preset as it is")
	assert.False(t, sc.RetryAfterDate)
	assert.Equal(t, mockapi.QuotaHeadersBoth, sc.Quota.Headers)
	assert.Zero(t, sc.ClockOffset)
	assert.False(t, sc.HeaderQuota.IETF)
	assert.False(t, sc.HeaderQuota.Requests)
	assert.Empty(t, sc.HeaderQuota.Reset)
}

func TestMockKnobsForChangingSlowAndHurriedServersChangeThePreset(t *testing.T) {
	f := mockFlags{scenario: "capacity", slotsAt: []string{"5s=16", "15s=32"}, drift: time.Millisecond, slowShare: 0.1,
		slowFactor: 20, listingLat: time.Second, slowBody: 1, slowBodyFor: 200 * time.Millisecond, raShift: -time.Second,
		blackoutStatus: 500, blackoutNoRA: true}
	fl := newMockCmd().Flags()
	for _, name := range []string{"slots-at", "latency-drift", "slow-share", "slow-factor", "listing-latency", "slow-body", "slow-body-for", "retry-after-shift",
		"blackout-status", "blackout-no-retry-after"} {
		fl.Lookup(name).Changed = true
	}
	sc, err := mockScenario(f, fl)
	require.NoError(t, err)
	assert.Equal(t, []mockapi.Step{{At: 5 * time.Second, Slots: 16}, {At: 15 * time.Second, Slots: 32}}, sc.Capacity.Schedule)
	assert.Equal(t, time.Millisecond, sc.LatencyDrift)
	assert.InDelta(t, 0.1, sc.SlowShare, 1e-12)
	assert.InDelta(t, 20, sc.SlowFactor, 1e-12)
	assert.Equal(t, time.Second, sc.ListingLatency)
	assert.InDelta(t, 1, sc.Faults.SlowBody, 1e-12)
	assert.Equal(t, 200*time.Millisecond, sc.Faults.SlowBodyDuration)
	assert.Equal(t, -time.Second, sc.RetryAfterShift)
	assert.Equal(t, 500, sc.Blackout.Status)
	assert.True(t, sc.Blackout.NoRetryAfter)
}

func TestMockKnobsForACapacitysAnswerChangeThePreset(t *testing.T) {
	f := mockFlags{scenario: "inflight-429", capStatus: 429, capNoRA: false}
	fl := newMockCmd().Flags()
	require.NoError(t, fl.Parse([]string{"--capacity-no-retry-after=false"}))
	sc, err := mockScenario(f, fl)
	require.NoError(t, err)
	assert.False(t, sc.Capacity.NoRetryAfter, "an in-flight cap that sends a Retry-After")
	assert.Equal(t, 429, sc.Capacity.Status)

	fl = newMockCmd().Flags()
	require.NoError(t, fl.Parse([]string{"--capacity-status", "429"}))
	f = mockFlags{scenario: "capacity", capStatus: 429}
	sc, err = mockScenario(f, fl)
	require.NoError(t, err)
	assert.Equal(t, 429, sc.Capacity.Status)
	assert.False(t, sc.Capacity.NoRetryAfter)

	fl = newMockCmd().Flags()
	require.NoError(t, fl.Parse([]string{"--elastic-slots", "8"}))
	sc, err = mockScenario(mockFlags{scenario: "fast", elastic: 8}, fl)
	require.NoError(t, err)
	assert.Equal(t, 8, sc.ElasticSlots)

	fl = newMockCmd().Flags()
	require.NoError(t, fl.Parse([]string{"--quota-status", "503", "--quota-no-retry-after"}))
	sc, err = mockScenario(mockFlags{scenario: "quota-no-headers", quotaStatus: 503, quotaNoRA: true}, fl)
	require.NoError(t, err)
	assert.Equal(t, 503, sc.Quota.Status, "nginx's limit_req")
	assert.True(t, sc.Quota.NoRetryAfter)

	fl = newMockCmd().Flags()
	require.NoError(t, fl.Parse([]string{"--page-glitch", "3,7", "--page-glitch-kind", "error", "--page-glitch-attempts", "2"}))
	sc, err = mockScenario(mockFlags{scenario: "capacity", glitchPages: []int{3, 7}, glitchKind: "error", glitchAttempts: 2}, fl)
	require.NoError(t, err)
	assert.Equal(t, mockapi.PageGlitch{Pages: []int{3, 7}, Kind: mockapi.GlitchError, Attempts: 2}, sc.PageGlitch)
}

func TestMockKnobsForBodiesConnectionsRedirectsAndRobotsChangeThePreset(t *testing.T) {
	f := mockFlags{scenario: "capacity", crawlDelay: 100 * time.Millisecond, redirectTo: "127.0.0.1:9/private", bodySize: 1 << 20,
		gzip: true, connClose: true, pageOverlap: 10, announceTotal: true}
	fl := newMockCmd().Flags()
	preset, err := mockapi.Preset("capacity")
	require.NoError(t, err)
	assert.False(t, preset.AnnounceTotal, "the preset announces no total without the knob")
	for _, name := range []string{"crawl-delay", "redirect-to", "body-size", "gzip", "connection-close", "page-overlap", "announce-total"} {
		fl.Lookup(name).Changed = true
	}
	sc, err := mockScenario(f, fl)
	require.NoError(t, err)
	assert.Equal(t, 100*time.Millisecond, sc.Robots.CrawlDelay)
	assert.Equal(t, "127.0.0.1:9/private", sc.RedirectTo)
	assert.Equal(t, 1<<20, sc.BodySize)
	assert.True(t, sc.Gzip)
	assert.True(t, sc.CloseConnections)
	assert.Equal(t, 10, sc.PageOverlap)
	assert.True(t, sc.AnnounceTotal)

	f.bodySize = -1
	_, err = mockScenario(f, fl)
	assert.ErrorContains(t, err, "BodySize")
}

func TestMockRejectsBadUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "no scenario", args: []string{"mock"}, code: exitUsage, want: "--scenario is required"},
		{name: "unknown scenario", args: []string{"mock", "--scenario", "qouta"}, code: exitUsage, want: `unknown scenario "qouta" (known: blackout, capacity,`},
		{name: "jitter above latency", args: []string{"mock", "--scenario", "quota", "--jitter", "50ms"}, code: exitUsage, want: "itter"},
		{name: "unknown header quota kind", args: []string{"mock", "--scenario", "header-quota", "--header-kind", "leaky"}, code: exitUsage, want: "HeaderQuota.Kind must be one of fixed, sliding, token-bucket"},
		{name: "unknown reset form", args: []string{"mock", "--scenario", "header-quota", "--header-reset", "unix"}, code: exitUsage, want: `HeaderQuota.Reset must be epoch, epoch-ms or delta, got "unix"`},
		{name: "unknown pagination", args: []string{"mock", "--scenario", "fast", "--pagination", "pages"}, code: exitUsage, want: "agination"},
		{name: "unknown quota header family", args: []string{"mock", "--scenario", "quota", "--quota-headers", "draft"}, code: exitUsage, want: `--quota-headers must be both, ietf, x or none, got "draft"`},
		{name: "negative retry-after", args: []string{"mock", "--scenario", "quota", "--retry-after", "-1s"}, code: exitUsage, want: "RetryAfter must be >= 0"},
		{name: "slots-at without slots", args: []string{"mock", "--scenario", "capacity", "--slots-at", "5s"}, code: exitUsage, want: `--slots-at wants AT=SLOTS values such as 5s=16, got "5s"`},
		{name: "slots-at to zero", args: []string{"mock", "--scenario", "capacity", "--slots-at", "5s=0"}, code: exitUsage, want: "Capacity.Schedule[0].Slots must be >= 1, got 0"},
		{name: "blackout as a 404", args: []string{"mock", "--scenario", "blackout", "--blackout-status", "404"}, code: exitUsage, want: "Blackout.Status must be 403, 408, 425, 429, 500, 502, 503 or 504, got 404"},
		{name: "slow share above 1", args: []string{"mock", "--scenario", "capacity", "--slow-share", "2"}, code: exitUsage, want: "SlowShare must be a fraction in [0, 1], got 2"},
		{name: "retry-after shift in parts of a second", args: []string{"mock", "--scenario", "quota", "--retry-after-shift", "-500ms"}, code: exitUsage, want: "RetryAfterShift must be whole seconds, got -500ms"},
		{name: "address in use", args: []string{"mock", "--scenario", "fast", "--addr", busy.Addr().String()}, code: exitFailed, want: "address already in use"},
		{name: "servers on a fixed port", args: []string{"mock", "--scenario", "fast", "--servers", "2", "--addr", "127.0.0.1:8080"}, code: exitUsage, want: "more than one needs --addr with port 0"},
		{name: "no servers", args: []string{"mock", "--scenario", "fast", "--servers", "0"}, code: exitUsage, want: "--servers must be >= 1"},
		{name: "argument", args: []string{"mock", "quota"}, code: exitUsage, want: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, ctx, tt.args...)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr)
			assert.Contains(t, stderr, tt.want)
		})
	}
}
