package mockapi

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsClient trusts cert; h2 offers HTTP/2 (else HTTP/1.1 only). Its idle
// connections close at the end of the test.
func tlsClient(t *testing.T, cert *Cert, h2 bool) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cert.ClientConfig(), ForceAttemptHTTP2: h2, MaxIdleConnsPerHost: 64}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// A server with a Cert speaks HTTPS, HTTP/2 to a client that offers it and
// HTTP/1.1 to one that does not, and a client that does not trust the
// certificate is refused.
func TestStartServesHTTPSAndHTTP2WithItsCert(t *testing.T) {
	cert, err := NewCert()
	require.NoError(t, err)
	s := startServer(t, Config{TLS: cert, Scenario: Scenario{Items: 3}})
	assert.Regexp(t, `^https://127\.0\.0\.1:\d+$`, s.URL())
	for _, h2 := range []bool{true, false} {
		resp, err := tlsClient(t, cert, h2).Get(s.URL() + "/items/1")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
		want := 1
		if h2 {
			want = 2
		}
		assert.Equal(t, want, resp.ProtoMajor, "HTTP/2 offered: %v", h2)
	}
	_, err = newClient(t, 10*time.Second).Get(s.URL() + "/items/1")
	assert.Error(t, err, "a client that does not trust the certificate")
	block, _ := pem.Decode(cert.PEM())
	require.NotNil(t, block)
	leaf, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.NoError(t, leaf.VerifyHostname("localhost"))
	assert.NoError(t, leaf.VerifyHostname("127.0.0.1"))
}

// Over HTTP/2 a client's requests are streams of one connection, sent while
// answers are on their way: a request that arrives on the connection that
// carried an answer telling its client to wait, right after it, may have
// been sent before the client read it, and is not early; past readSlack it
// is.
func TestEarlyRequestsOverHTTP2CountOnlyThoseLongAfterTheAnswer(t *testing.T) {
	cert, err := NewCert()
	require.NoError(t, err)
	clk := newFakeClock()
	s := startServer(t, Config{TLS: cert, Now: clk.Now, Scenario: Scenario{Quota: Quota{Rate: 1, Burst: 1}}})
	c := tlsClient(t, cert, true)
	assert.Equal(t, 200, get(t, c, s.URL()+"/items/1").status)
	r := get(t, c, s.URL()+"/items/2")
	assert.Equal(t, 429, r.status, "told to wait")
	clk.Advance(inFlightSlack + time.Millisecond)
	assert.Equal(t, 429, get(t, c, s.URL()+"/items/3").status, "the same connection, after the answer")
	assert.EqualValues(t, 0, s.Stats().EarlyRequests, "a stream may have left before the client read the answer")
	clk.Advance(readSlack)
	assert.Equal(t, 429, get(t, c, s.URL()+"/items/4").status, "long after the answer")
	assert.EqualValues(t, 1, s.Stats().EarlyRequests)
}
