package crawl

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkWireRequest measures what the wire adds to a request: its
// timeout, following its caller's cancel, and the body that ends both. The
// caller's context is a value under one context shared by every request,
// as a task's is under the engine's. Under "stub" the RoundTripper below
// does with the request's context only what net/http's does (a child of it
// with its own cancel, ended when the body is closed), so that ns and
// allocations are the wire's and that child's; under "http" it is a real
// net/http Transport talking to a local server, for the whole request.
func BenchmarkWireRequest(b *testing.B) {
	type attemptKey struct{}
	stub := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		ctx, cancel := context.WithCancelCause(req.Context())
		select {
		case <-ctx.Done():
			cancel(nil)
			return nil, context.Cause(ctx)
		default:
		}
		return &http.Response{StatusCode: http.StatusOK, Body: &cancelOnClose{r: strings.NewReader("ok"), cancel: cancel}}, nil
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	defer base.CloseIdleConnections()

	for _, c := range []struct {
		name string
		next http.RoundTripper
	}{{"stub", stub}, {"http", base}} {
		w := &wire{next: c.next, timeout: 10 * time.Second, meter: &meter{}}
		shared, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			b.Fatal(err)
		}
		one := func() error {
			resp, err := w.RoundTrip(req.WithContext(context.WithValue(shared, attemptKey{}, 1)))
			if err != nil {
				return err
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			return resp.Body.Close()
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := one(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := one(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		cancel()
	}
}

// cancelOnClose is a body that cancels its request's context when closed,
// as net/http's does once the body is read.
type cancelOnClose struct {
	r      io.Reader
	cancel context.CancelCauseFunc
}

func (b *cancelOnClose) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *cancelOnClose) Close() error {
	b.cancel(nil)
	return nil
}
