package crawl

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadBodyReadsToTheEndOrTheMostWhateverTheAnnouncedSize(t *testing.T) {
	body := strings.Repeat("x", 100)
	tests := []struct {
		name       string
		most, size int64
		want       int
	}{
		{name: "size announced", most: 1000, size: 100, want: 100},
		{name: "size unknown", most: 1000, size: -1, want: 100},
		{name: "announced shorter than the body", most: 1000, size: 10, want: 100},
		{name: "announced longer than the body", most: 1000, size: 500, want: 100},
		{name: "announced zero", most: 1000, size: 0, want: 100},
		{name: "cut at most, size announced", most: 51, size: 50, want: 51},
		{name: "cut at most, announced shorter", most: 51, size: 10, want: 51},
		{name: "cut at most, size unknown", most: 51, size: -1, want: 51},
		{name: "cut at most, announced beyond it", most: 51, size: 100, want: 51},
	}
	// A buffer to read into: none, or one reused (its old bytes must not
	// show), smaller or larger than the body.
	buffers := map[string]func() []byte{
		"no buffer":           func() []byte { return nil },
		"small used buffer":   func() []byte { return []byte("0123456789") },
		"large used buffer":   func() []byte { return []byte(strings.Repeat("y", 300))[:7] },
		"empty spare buffer":  func() []byte { return make([]byte, 0, 64) },
		"exactly body's room": func() []byte { return make([]byte, 0, len(body)) },
	}
	for _, tt := range tests {
		for name, buf := range buffers {
			t.Run(tt.name+", "+name, func(t *testing.T) {
				got, err := readBody(buf(), strings.NewReader(body), tt.most, tt.size)
				require.NoError(t, err)
				assert.Equal(t, body[:tt.want], string(got))
				got, err = readBody(buf(), iotest.OneByteReader(strings.NewReader(body)), tt.most, tt.size)
				require.NoError(t, err)
				assert.Equal(t, body[:tt.want], string(got), "read one byte at a time")
			})
		}
	}
	_, err := readBody(nil, iotest.ErrReader(assert.AnError), 10, 5)
	assert.ErrorIs(t, err, assert.AnError)
}

// TestReadBodyReusesABufferLargeEnough checks that an answer is read into
// the buffer given when it fits, without a new one.
func TestReadBodyReusesABufferLargeEnough(t *testing.T) {
	buf := make([]byte, 0, 256)
	for _, size := range []int64{100, -1} {
		got, err := readBody(buf, strings.NewReader(strings.Repeat("x", 100)), 1000, size)
		require.NoError(t, err)
		assert.Len(t, got, 100)
		assert.Same(t, &buf[:1][0], &got[:1][0], "size %d: read into the buffer given", size)
	}
	body := strings.Repeat("x", 100)
	rd := strings.NewReader(body)
	allocs := testing.AllocsPerRun(100, func() {
		rd.Reset(body)
		_, _ = readBody(buf, rd, 1000, 100)
	})
	assert.Zero(t, allocs)
}

// TestSendDoesWhatHTTPClientDoWould checks the fetcher's send against what
// http.Client.Do does for the crawl's client: credentials in the URL sent as
// Basic authorization unless the header has its own, and a failed request
// reported as a *url.Error naming the URL without its password.
func TestSendDoesWhatHTTPClientDoWould(t *testing.T) {
	auth := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Header.Get("Authorization")
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	withUser := strings.Replace(srv.URL, "http://", "http://me:hunter2@", 1)

	fe := newFetcher(&http.Client{Transport: base, CheckRedirect: noRedirects}, &Config{UserAgent: "test/1.0", Limits: Limits{MaxBody: 1 << 10}})
	_, err := fe.get(context.Background(), http.MethodGet, withUser+"/x", nil)
	require.NoError(t, err)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("me:hunter2")), <-auth)
	assert.Empty(t, fe.plain.Get("Authorization"), "the shared header is left as it was")

	own := newFetcher(&http.Client{Transport: base, CheckRedirect: noRedirects},
		&Config{UserAgent: "test/1.0", Limits: Limits{MaxBody: 1 << 10}, Headers: Headers{"Authorization": "Bearer s"}, HeaderHosts: HeaderHosts{strings.TrimPrefix(srv.URL, "http://")}})
	_, err = own.get(context.Background(), http.MethodGet, withUser+"/x", nil)
	require.NoError(t, err)
	assert.Equal(t, "Bearer s", <-auth, "the header's own Authorization wins")

	failing := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, assert.AnError })}
	_, err = newFetcher(failing, &Config{UserAgent: "test/1.0", Limits: Limits{MaxBody: 1 << 10}}).get(context.Background(), http.MethodPost, withUser+"/x", nil)
	var uerr *url.Error
	require.ErrorAs(t, err, &uerr)
	assert.ErrorIs(t, err, assert.AnError)
	assert.Equal(t, "Post", uerr.Op)
	assert.Equal(t, strings.Replace(srv.URL, "http://", "http://me:***@", 1)+"/x", uerr.URL)
	assert.NotContains(t, err.Error(), "hunter2")
	clientErr := func() error {
		req, _ := http.NewRequest(http.MethodPost, withUser+"/x", nil)
		_, err := failing.Do(req)
		return err
	}()
	assert.Equal(t, clientErr.Error(), err.Error(), "the same message as http.Client's")
}

// FuzzTaskRequestIsNewRequest checks that a task's request (newTaskRequest)
// is the one http.NewRequest makes from the same text, or fails as it does:
// the same URL, request URI and Host.
func FuzzTaskRequestIsNewRequest(f *testing.F) {
	for _, raw := range plainURLSeeds {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want, wantErr := newRequest(context.Background(), http.MethodGet, raw)
		got, err := newTaskRequest(context.Background(), http.MethodGet, raw)
		if wantErr != nil || err != nil {
			assert.Equal(t, wantErr, err)
			return
		}
		assert.Equal(t, want.URL, got.URL)
		assert.Equal(t, []any{want.Method, want.Proto, want.ProtoMajor, want.ProtoMinor, want.Body, want.ContentLength, want.Context()},
			[]any{got.Method, got.Proto, got.ProtoMajor, got.ProtoMinor, got.Body, got.ContentLength, got.Context()})
		assert.Equal(t, want.URL.RequestURI(), got.URL.RequestURI())
		assert.Equal(t, want.Host, got.Host)
	})
}

// FuzzParsePlainURLIsURLParse checks that a URL parsePlainURL takes is the
// one url.Parse makes of it.
func FuzzParsePlainURLIsURLParse(f *testing.F) {
	for _, raw := range plainURLSeeds {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := parsePlainURL(raw)
		if !ok {
			return
		}
		want, err := url.Parse(raw)
		require.NoError(t, err, "%q", raw)
		assert.Equal(t, want, got, "%q", raw)
	})
}

// plainURLSeeds are task URLs of the plain shape and of every other.
var plainURLSeeds = []string{
	"http://api.example.com:8080/v1/items/1", "https://h/items/~a_b-c.d", "http://h", "http://h/", "http://h//x",
	"http://127.0.0.1:8080/items/7", "http://h/a%2Fb?x=1#f", "http://Host:/p", "http://[::1]:/a%20b",
	"https://u:p@h:8443/%7e?q=%zz", "http://h/a;b=c/%2f%2F", "http://h:", "http://:80/x", "http://h:8a/x",
	"HTTP://h/x", "http://h.-/x", "http://h/x?", "http://h/x#", "http://h/x y", "http://h:1:2/x", "http:/h/x",
	"http://h:080/x", "http://h:99999999999999999999/x", "http://h/ü", "http://exa mple/x", "http://h/..//./x",
}

// TestRunWritesEachAnswerWholeWhenTheirBuffersAreReused crawls answers of
// many lengths, with and without a Content-Length, at a concurrency where
// the tasks' answer buffers are reused: every line holds its own answer,
// nothing of another's.
func TestRunWritesEachAnswerWholeWhenTheirBuffersAreReused(t *testing.T) {
	const items = 300
	answer := func(id int) string {
		return fmt.Sprintf(`{"id":%d,"pad":%q}`, id, strings.Repeat(string(rune('a'+id%26)), (id*37)%700))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/items" {
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			var list []string
			for id := (page-1)*50 + 1; id <= min(page*50, items); id++ {
				list = append(list, fmt.Sprintf(`{"id":%d}`, id))
			}
			fmt.Fprintf(w, `{"items":[%s]}`, strings.Join(list, ","))
			return
		}
		id, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/d/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if id%2 == 1 {
			w.Header().Set("Content-Length", strconv.Itoa(len(answer(id))))
		} else if f, ok := w.(http.Flusher); ok {
			f.Flush() // no Content-Length: chunked
		}
		fmt.Fprint(w, answer(id))
	}))
	defer srv.Close()
	cfg := testConfigLimits(t, srv.URL+"/items", "    style: page", "task:\n  url: \"/d/{id}\"",
		"limits:\n  concurrency: {algorithm: fixed, initial: 16, max: 16}", nil)
	cfg.Politeness.Robots = false
	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	require.Equal(t, int64(items), sum.Succeeded)
	lines := readLines[struct {
		URL  string          `json:"url"`
		Data json.RawMessage `json:"data"`
	}](t, cfg.Output)
	require.Len(t, lines, items)
	for _, l := range lines {
		id, err := strconv.Atoi(l.URL[strings.LastIndexByte(l.URL, '/')+1:])
		require.NoError(t, err)
		assert.Equal(t, answer(id), string(l.Data), "item %d", id)
	}
}
