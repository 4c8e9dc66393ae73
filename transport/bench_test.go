package transport

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/politely/politely/limiter"
)

// stubBase answers every request at once with a canned response, so that a
// benchmark measures the Transport's own cost per request.
type stubBase struct{ header http.Header }

func (s stubBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Header: s.header, Body: io.NopCloser(strings.NewReader("ok")), Request: req}, nil
}

// BenchmarkRoundTrip compares a request through the stub alone (the
// baseline) with the same request through a Transport, without quota headers
// and with a GitHub-style quota on every response.
func BenchmarkRoundTrip(b *testing.B) {
	// A quota so large (10^9 per second) that it never paces: the figure is
	// the cost of reading and applying it.
	quota := http.Header{
		"X-Ratelimit-Limit":     {"1000000000"},
		"X-Ratelimit-Remaining": {"999999999"},
		"X-Ratelimit-Reset":     {"1"},
	}
	cases := []struct {
		name string
		rt   func(b *testing.B, base http.RoundTripper) http.RoundTripper
		h    http.Header
	}{
		{"baseline", func(*testing.B, http.RoundTripper) http.RoundTripper { return nil }, http.Header{}},
		{"transport", newBenchTransport, http.Header{}},
		{"transport+quota", newBenchTransport, quota},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			base := stubBase{header: c.h}
			rt := c.rt(b, base)
			if rt == nil {
				rt = base
			}
			req, err := http.NewRequest(http.MethodGet, "https://api.example.com/items", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}

func newBenchTransport(b *testing.B, base http.RoundTripper) http.RoundTripper {
	lim, err := limiter.New(limiter.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return New(lim, WithBase(base))
}

func BenchmarkParseQuota(b *testing.B) {
	h := http.Header{
		"Ratelimit-Policy": {`"burst";q=100;w=60, "daily";q=1000;w=86400`},
		"Ratelimit":        {`"burst";r=50;t=30`},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := ParseQuota(h, now); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
