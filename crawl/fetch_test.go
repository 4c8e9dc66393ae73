package crawl

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(body), tt.most, tt.size)
			require.NoError(t, err)
			assert.Equal(t, body[:tt.want], string(got))
			got, err = readBody(iotest.OneByteReader(strings.NewReader(body)), tt.most, tt.size)
			require.NoError(t, err)
			assert.Equal(t, body[:tt.want], string(got), "read one byte at a time")
		})
	}
	_, err := readBody(iotest.ErrReader(assert.AnError), 10, 5)
	assert.ErrorIs(t, err, assert.AnError)
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
	_, err := fe.get(context.Background(), http.MethodGet, withUser+"/x")
	require.NoError(t, err)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("me:hunter2")), <-auth)
	assert.Empty(t, fe.plain.Get("Authorization"), "the shared header is left as it was")

	own := newFetcher(&http.Client{Transport: base, CheckRedirect: noRedirects},
		&Config{UserAgent: "test/1.0", Limits: Limits{MaxBody: 1 << 10}, Headers: Headers{"Authorization": "Bearer s"}, HeaderHosts: HeaderHosts{strings.TrimPrefix(srv.URL, "http://")}})
	_, err = own.get(context.Background(), http.MethodGet, withUser+"/x")
	require.NoError(t, err)
	assert.Equal(t, "Bearer s", <-auth, "the header's own Authorization wins")

	failing := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, assert.AnError })}
	_, err = newFetcher(failing, &Config{UserAgent: "test/1.0", Limits: Limits{MaxBody: 1 << 10}}).get(context.Background(), http.MethodPost, withUser+"/x")
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

// FuzzRequestToIsNewRequest checks that a request made from a task's parsed
// URL (requestTo) goes where one made from its text would: the same URL,
// request URI and Host.
func FuzzRequestToIsNewRequest(f *testing.F) {
	for _, ref := range []string{"/items/1", "a%2Fb?x=1#f", "//Host:/p", "../x/./y?", "http://[::1]:/a%20b", "https://u:p@h:8443/%7e?q=%zz", "/a;b=c/%2f%2F"} {
		f.Add(ref)
	}
	base, err := url.Parse("http://api.example.com:8080/v1/items?page=2")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, ref string) {
		r, err := url.Parse(ref)
		if err != nil {
			return
		}
		u := base.ResolveReference(r)
		want, err := newRequest(context.Background(), http.MethodGet, u.String())
		if err != nil {
			return // a task URL that does not parse again fails before its request either way
		}
		got, err := requestTo(context.Background(), http.MethodGet, u)
		require.NoError(t, err)
		assert.Equal(t, want.URL.String(), got.URL.String())
		assert.Equal(t, want.URL.RequestURI(), got.URL.RequestURI())
		assert.Equal(t, want.Host, got.Host)
		assert.NotSame(t, u, got.URL, "the request has its own copy")
	})
}
