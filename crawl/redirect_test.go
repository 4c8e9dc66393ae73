package crawl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redirectOutLine is an output line with final_url.
type redirectOutLine struct {
	URL      string         `json:"url"`
	FinalURL string         `json:"final_url"`
	Status   int            `json:"status"`
	Data     map[string]any `json:"data"`
}

func TestRunChecksEveryRedirectHopAgainstRobots(t *testing.T) {
	other := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /secret\n")
		default:
			fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
		}
	})
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
		case "/items":
			fmt.Fprint(w, `{"items":[{"p":"/r"},{"p":"/to-other-secret"},{"p":"/ok"},{"p":"/to-other-ok"}]}`)
		case "/r":
			http.Redirect(w, r, "/private/secret", http.StatusFound)
		case "/to-other-secret":
			http.Redirect(w, r, other.URL+"/secret/x", http.StatusSeeOther)
		case "/ok":
			http.Redirect(w, r, "/public/ok#frag", http.StatusMovedPermanently)
		case "/to-other-ok":
			http.Redirect(w, r, other.URL+"/public/there", http.StatusPermanentRedirect)
		default:
			fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
		}
	})
	cfg := testConfig(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	for _, rec := range []*recorder{api, other} {
		for _, p := range rec.paths() {
			assert.False(t, strings.HasPrefix(p, "/private") || strings.HasPrefix(p, "/secret"), "%s fetched %s", rec.URL, p)
		}
	}
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, 2)
	byURL := map[string]failedLine{}
	for _, f := range failed {
		byURL[f.URL] = f
	}
	assert.Equal(t, failedLine{URL: api.URL + "/r", Error: "redirect target disallowed by robots.txt", Status: 302, Attempts: 1},
		byURL[api.URL+"/r"])
	assert.Equal(t, failedLine{URL: api.URL + "/to-other-secret", Error: "redirect target disallowed by robots.txt", Status: 303, Attempts: 1},
		byURL[api.URL+"/to-other-secret"])

	out := readLines[redirectOutLine](t, cfg.Output)
	require.Len(t, out, 2)
	final := map[string]string{}
	for _, l := range out {
		final[l.URL] = l.FinalURL
		assert.Equal(t, 200, l.Status)
	}
	assert.Equal(t, map[string]string{
		api.URL + "/ok":          api.URL + "/public/ok",
		api.URL + "/to-other-ok": other.URL + "/public/there",
	}, final, "the output names where the data came from")
	assert.Equal(t, int64(len(api.requests())+len(other.requests())), sum.Requests)
}

func TestRunFailsBadRedirectsForGoodWithoutRetrying(t *testing.T) {
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/robots.txt":
			http.NotFound(w, r)
		case p == "/items":
			fmt.Fprint(w, `{"items":[{"p":"/loop/a"},{"p":"/file"},{"p":"/gopher"},{"p":"/hops/11"},{"p":"/hops/10"},{"p":"/nowhere"},{"p":"/self"}]}`)
		case p == "/loop/a":
			http.Redirect(w, r, "/loop/b", http.StatusFound)
		case p == "/loop/b":
			http.Redirect(w, r, "/loop/a", http.StatusFound)
		case p == "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case p == "/gopher":
			http.Redirect(w, r, "gopher://127.0.0.1:70/1", http.StatusMovedPermanently)
		case strings.HasPrefix(p, "/hops/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(p, "/hops/"))
			if n == 0 {
				fmt.Fprint(w, `{"arrived":true}`)
				return
			}
			http.Redirect(w, r, "/hops/"+strconv.Itoa(n-1)+"?from="+strconv.Itoa(n), http.StatusFound)
		case p == "/nowhere":
			w.WriteHeader(http.StatusFound) // no Location
		case p == "/self":
			http.Redirect(w, r, "/self", http.StatusTemporaryRedirect)
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfig(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"", nil) // retries: 4

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	out := readLines[redirectOutLine](t, cfg.Output)
	require.Len(t, out, 1, "10 hops are followed")
	assert.Equal(t, api.URL+"/hops/0?from=1", out[0].FinalURL)

	want := map[string]string{
		"/loop/a":  "redirect loop",
		"/file":    `redirect to a non-http(s) URL (scheme "file")`,
		"/gopher":  `redirect to a non-http(s) URL (scheme "gopher")`,
		"/hops/11": "more than 10 redirects",
		"/nowhere": "redirect without a valid Location",
		"/self":    "redirect loop",
	}
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, len(want))
	for _, f := range failed {
		path := strings.TrimPrefix(f.URL, api.URL)
		assert.Equal(t, want[path], f.Error, path)
		assert.Equal(t, 1, f.Attempts, "%s is not retried", path)
		assert.NotZero(t, f.Status, path)
	}
	// Each item was requested once: its chain, and no retry.
	assert.Equal(t, 2, api.count("/loop/"), "a, b, then the loop back to a is not sent")
	assert.Equal(t, 1, api.count("/file"))
	assert.Equal(t, 1, api.count("/gopher"))
	assert.Equal(t, 11+11, api.count("/hops/"), "11 -> 0 is 11 hops (the 11th not sent), 10 -> 0 is 10")
	assert.Equal(t, 1, api.count("/self"))
	assert.Zero(t, sum.Retries)
	assert.Equal(t, int64(len(api.requests())), sum.Requests, "the summary counts what the server received")
}

func TestNextHop(t *testing.T) {
	start, err := url.Parse("http://127.0.0.1:8080/a/b?x=1")
	require.NoError(t, err)
	chain := func(n int) []*url.URL {
		c := []*url.URL{start}
		for i := 1; i < n; i++ {
			u, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:8080/hop/%d", i))
			c = append(c, u)
		}
		return c
	}
	tests := []struct {
		name     string
		chain    []*url.URL
		location string
		want     string
		err      error
	}{
		{name: "relative", chain: chain(1), location: "c", want: "http://127.0.0.1:8080/a/c"},
		{name: "absolute path", chain: chain(1), location: "/c?y=2", want: "http://127.0.0.1:8080/c?y=2"},
		{name: "scheme-relative", chain: chain(1), location: "//localhost:9/x", want: "http://localhost:9/x"},
		{name: "fragment dropped", chain: chain(1), location: "/c#top", want: "http://127.0.0.1:8080/c"},
		{name: "https", chain: chain(1), location: "https://example.com/", want: "https://example.com/"},
		{name: "tenth hop", chain: chain(10), location: "/ten", want: "http://127.0.0.1:8080/ten"},
		{name: "eleventh hop", chain: chain(11), location: "/eleven", err: errTooManyRedirects},
		{name: "back to the start", chain: chain(3), location: "/a/b?x=1#f", err: errRedirectLoop},
		{name: "to itself", chain: chain(1), location: "", err: errRedirectLocation},
		{name: "file", chain: chain(1), location: "file:///etc/passwd", err: errRedirectScheme},
		{name: "javascript", chain: chain(1), location: "javascript:alert(1)", err: errRedirectScheme},
		{name: "no host", chain: chain(1), location: "http:///x", err: errRedirectLocation},
		{name: "not a URL", chain: chain(1), location: "http://[::1", err: errRedirectLocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextHop(tt.chain, tt.location)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func TestRedirectMethod(t *testing.T) {
	assert.Equal(t, "GET", redirectMethod("POST", 302))
	assert.Equal(t, "GET", redirectMethod("POST", 301))
	assert.Equal(t, "GET", redirectMethod("DELETE", 303))
	assert.Equal(t, "HEAD", redirectMethod("HEAD", 303))
	assert.Equal(t, "PUT", redirectMethod("PUT", 302))
	assert.Equal(t, "POST", redirectMethod("POST", 307))
	assert.Equal(t, "POST", redirectMethod("POST", 308))
}

// FuzzNextHop: any Location after any chain is handled without panic, and a
// hop it allows is an absolute http(s) URL with a host, without a fragment,
// not visited before, within maxRedirects.
func FuzzNextHop(f *testing.F) {
	f.Add("http://127.0.0.1:8080/a", "/b", uint8(0))
	f.Add("https://api.example.com/x?y=1", "//cdn.example.com/z#f", uint8(3))
	f.Add("http://127.0.0.1:8080/a", "file:///etc/passwd", uint8(1))
	f.Add("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a", uint8(0))
	f.Add("http://h/", "gopher://h:70/", uint8(10))
	f.Add("http://h/a", "%zz", uint8(2))
	f.Fuzz(func(t *testing.T, first, location string, hops uint8) {
		u, err := url.Parse(first)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return
		}
		chain := []*url.URL{u}
		for i := range int(hops % 16) {
			chain = append(chain, u.JoinPath("hop", strconv.Itoa(i)))
		}
		next, err := nextHop(chain, location)
		if err != nil {
			if next != nil {
				t.Fatalf("a URL with an error: %v", next)
			}
			if !unfollowable(err) {
				t.Fatalf("error %v is not one of the redirect errors", err)
			}
			return
		}
		switch {
		case len(chain) > maxRedirects:
			t.Fatalf("hop %d allowed", len(chain))
		case next.Scheme != "http" && next.Scheme != "https":
			t.Fatalf("scheme %q allowed", next.Scheme)
		case next.Hostname() == "":
			t.Fatalf("no host in %v", next)
		case next.Fragment != "":
			t.Fatalf("fragment kept in %v", next)
		}
		for _, c := range chain {
			if sameURL(c, next.String()) {
				t.Fatalf("loop to %v allowed", next)
			}
		}
	})
}

// onlyTo is a RoundTripper that sends requests to one host:port only and
// records every request it is given, sent or not: a fuzzed redirect must
// never reach the network beyond the test's own server.
type onlyTo struct {
	host string
	next http.RoundTripper
	mu   sync.Mutex
	reqs []*http.Request
}

func (o *onlyTo) RoundTrip(req *http.Request) (*http.Response, error) {
	o.mu.Lock()
	o.reqs = append(o.reqs, req)
	o.mu.Unlock()
	if req.URL.Host != o.host {
		return nil, errors.New("test: host not served")
	}
	return o.next.RoundTrip(req)
}

// FuzzFollowRedirect: whatever Location a server answers (once, or at every
// hop), the fetcher sends at most 11 requests, all http(s), never a
// configured header to another host, and never a Referer.
func FuzzFollowRedirect(f *testing.F) {
	f.Add("/elsewhere", false)
	f.Add("//localhost:1/x", false)
	f.Add("http://127.0.0.1:1/x", true)
	f.Add("file:///etc/passwd", false)
	f.Add("/start", true)
	f.Add("/start?n=1#x", true)
	f.Add("gopher://h/", false)
	f.Add("%2e%2e/%zz", true)
	var location atomic.Value
	location.Store("")
	var everyHop atomic.Bool // else only /once redirects
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/once" && !everyHop.Load() {
			fmt.Fprint(w, `{}`)
			return
		}
		w.Header()["Location"] = []string{location.Load().(string)}
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()

	f.Fuzz(func(t *testing.T, loc string, always bool) {
		if strings.ContainsAny(loc, "\r\n\x00") {
			return // not a header value a server can send
		}
		location.Store(loc)
		everyHop.Store(always)
		rt := &onlyTo{host: host, next: base}
		cfg := &Config{UserAgent: "fuzz/1.0", Headers: Headers{"Authorization": "Bearer s"},
			HeaderHosts: HeaderHosts{host}, Limits: Limits{MaxBody: 1 << 10}}
		fe := newFetcher(&http.Client{Transport: rt, CheckRedirect: noRedirects}, cfg)
		_, _ = fe.get(context.Background(), http.MethodGet, srv.URL+"/once", nil)
		if len(rt.reqs) > maxRedirects+1 {
			t.Fatalf("%d requests", len(rt.reqs))
		}
		for _, r := range rt.reqs {
			if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
				t.Fatalf("a request to %q", r.URL.Scheme)
			}
			if r.Header.Get("Referer") != "" {
				t.Fatalf("Referer sent to %s", r.URL)
			}
			if hostKey(r.URL) != host && r.Header.Get("Authorization") != "" {
				t.Fatalf("the header went to %s", r.URL.Host)
			}
		}
	})
}
