package crawl

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// seen is one request as a test server received it.
type seen struct {
	Host, Path string
	Header     http.Header
}

// recorder is a test server on 127.0.0.1 that records every request it
// receives, so that a test asserts what a host really got.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

// startRecorder serves handle on 127.0.0.1 until the test ends.
func startRecorder(t *testing.T, handle http.HandlerFunc) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{Host: r.Host, Path: r.URL.RequestURI(), Header: r.Header.Clone()})
		rec.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// requests returns what the server received so far.
func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

// paths returns the request URIs received, in order.
func (rec *recorder) paths() []string {
	var out []string
	for _, s := range rec.requests() {
		out = append(out, s.Path)
	}
	return out
}

// count returns how many requests had a path starting with prefix.
func (rec *recorder) count(prefix string) int {
	n := 0
	for _, s := range rec.requests() {
		if strings.HasPrefix(s.Path, prefix) {
			n++
		}
	}
	return n
}

// hostPort is the server's "127.0.0.1:PORT".
func (rec *recorder) hostPort() string { return strings.TrimPrefix(rec.URL, "http://") }

// localhostURL is the server's URL with the host name localhost: the same
// server, a different host for the crawl.
func (rec *recorder) localhostURL() string {
	return strings.Replace(rec.URL, "127.0.0.1", "localhost", 1)
}
