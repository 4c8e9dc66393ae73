package crawl

import (
	"crypto/tls"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
)

// startTLSMock serves sc over HTTPS (HTTP/2 offered) with a certificate of
// its own until the test ends.
func startTLSMock(t *testing.T, sc mockapi.Scenario, cert *mockapi.Cert) *mockapi.Server {
	t.Helper()
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc, TLS: cert})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// trusting is a base transport that trusts cert, HTTP/2 offered if h2.
func trusting(t *testing.T, cert *mockapi.Cert, h2 bool) *http.Transport {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cert.ClientConfig()
	tr.ForceAttemptHTTP2 = h2
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// A crawl of an HTTPS API, over HTTP/2 (its requests streams of one
// connection) and over HTTP/1.1, through a blackout that answers 503 +
// Retry-After: every item is written once, and the server receives no
// request in the wait it asked for.
func TestRunOverHTTPSHonoursRetryAfterAndWritesEveryItemOnce(t *testing.T) {
	cert, err := mockapi.NewCert()
	require.NoError(t, err)
	for _, h2 := range []bool{true, false} {
		t.Run(map[bool]string{true: "HTTP/2", false: "HTTP/1.1"}[h2], func(t *testing.T) {
			srv := startTLSMock(t, mockapi.Scenario{Items: 200, PerPage: 50, Latency: 5 * time.Millisecond,
				Blackout: mockapi.Blackout{At: 20 * time.Millisecond, For: 600 * time.Millisecond}}, cert)
			cfg := testConfig(t, srv.URL()+"/items", "    style: page", `task:
  url: "{+detail_path}"`, nil)
			sum, err := runTest(t, cfg, WithBaseTransport(trusting(t, cert, h2)))
			require.NoError(t, err)
			assert.Equal(t, int64(200), sum.Succeeded)
			got := ids(t, readLines[outLine](t, cfg.Output))
			slices.Sort(got)
			assert.Equal(t, seq(200), got, "each item once")
			st := srv.Stats()
			assert.Positive(t, st.ByStatus[503], "the blackout answered")
			assert.Zero(t, st.EarlyRequests, "requests before the Retry-After")
		})
	}
}

// A host whose certificate fails verification answers, but no retry makes
// it trusted: its robots.txt is asked once, and each of its items fails at
// once naming the certificate (not "disallowed by robots.txt", nor an
// unresponsive host).
func TestRunFailsTheItemsOfAnUntrustedHostAtOnce(t *testing.T) {
	cert, err := mockapi.NewCert()
	require.NoError(t, err)
	detail := startTLSMock(t, mockapi.Scenario{Items: 12}, cert)
	listing := startMock(t, mockapi.Scenario{Items: 12, PerPage: 6, DetailHosts: []string{detail.URL()}})
	cfg := testConfig(t, listing.URL()+"/items", "    style: page", `task:
  url: "{+detail_path}"`, nil)
	sum, err := runTest(t, cfg) // the default transport: the mock's certificate is nobody's
	require.NoError(t, err)
	assert.Zero(t, sum.Succeeded)
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, 12)
	for _, f := range failed {
		assert.Contains(t, f.Error, "certificate", "%s", f.URL)
		assert.NotContains(t, f.Error, "unresponsive", "%s", f.URL)
		assert.LessOrEqual(t, f.Attempts, 1, "%s", f.URL)
	}
	assert.Zero(t, detail.Stats().Requests, "no request was read past a failed handshake")
}

// The listing's host with an untrusted certificate stops the crawl at once,
// with an error that names the certificate and how to trust one's own.
func TestRunStopsAtOnceOnAnUntrustedListing(t *testing.T) {
	cert, err := mockapi.NewCert()
	require.NoError(t, err)
	srv := startTLSMock(t, mockapi.Scenario{Items: 12}, cert)
	cfg := testConfig(t, srv.URL()+"/items", "    style: page", `task:
  url: "{+detail_path}"`, nil)
	sum, err := runTest(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate is not trusted")
	assert.Contains(t, err.Error(), "SSL_CERT_FILE")
	assert.LessOrEqual(t, sum.Requests, int64(1), "robots.txt's one attempt")
}
