package crawl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/temoto/robotstxt"
	"go.uber.org/zap"
)

func TestRobotsRulesAreFetchedAgainAfter24Hours(t *testing.T) {
	var rules atomic.Value
	rules.Store("User-agent: *\nDisallow: /a\n")
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, rules.Load())
	})
	cfg := testConfig(t, api.URL+"/items", "    style: none", "", nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := newRunner(cfg, runOptions{log: zap.NewNop(), interval: time.Second, now: func() time.Time { return now }})
	require.NoError(t, err)
	defer r.client.CloseIdleConnections()
	a, err := url.Parse(api.URL + "/a")
	require.NoError(t, err)
	allowed := func() bool {
		ok, err := r.robots.allowed(context.Background(), a)
		require.NoError(t, err)
		return ok
	}

	assert.False(t, allowed())
	rules.Store("User-agent: *\nDisallow: /b\n")
	now = now.Add(robotsTTL - time.Second)
	assert.False(t, allowed(), "rules younger than 24h are kept")
	assert.Equal(t, 1, api.count("/robots.txt"))

	now = now.Add(time.Second)
	assert.True(t, allowed(), "rules 24h old are fetched again")
	assert.Equal(t, 2, api.count("/robots.txt"))
}

func TestRobotsTxtLargerThanMaxBodyIsReadTo500KiB(t *testing.T) {
	big := "User-agent: *\nDisallow: /private\n" + strings.Repeat("# padding\n", 300<<10/10) + "Disallow: /late\n"
	require.Greater(t, len(big), 300<<10)
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, big)
			fmt.Fprint(w, strings.Repeat("# more padding after the limit\n", 1<<20/30)+"Disallow: /\n")
		case "/items":
			fmt.Fprint(w, `{"items":[{"p":"/ok"},{"p":"/private/x"},{"p":"/late/y"}]}`)
		default:
			fmt.Fprint(w, `{}`)
		}
	})
	cfg := testConfigLimits(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"", "limits:\n  max_body: 64KiB", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err, "a robots.txt over max_body does not disallow the host")
	assert.Equal(t, int64(1), sum.Succeeded, "only /ok: the rules within the first 500 KiB apply, the Disallow: / after them does not")
	assert.Equal(t, 0, api.count("/private"))
	assert.Equal(t, 0, api.count("/late"))
	assert.Equal(t, 1, api.count("/ok"))
}

// FuzzRulesAllowAsTestAgent checks that the rules kept for the crawl's
// agent (its group found once) answer for every path what robotstxt's
// TestAgent answers, for every status a robots.txt can come with.
func FuzzRulesAllowAsTestAgent(f *testing.F) {
	f.Add(200, "User-agent: *\nDisallow: /private/\n", "politely/1.0", "/private/x")
	f.Add(200, "User-agent: politely\nDisallow: /\n\nUser-agent: *\nAllow: /\n", "Politely/1.0 (+https://x)", "/a?b=c")
	f.Add(200, "User-agent: *\nDisallow: /*.json$\nAllow: /a/b.json\n", "bot", "/a/b.json")
	f.Add(200, "", "bot", "/")
	f.Add(404, "", "bot", "/x")
	f.Add(503, "", "bot", "/x")
	f.Fuzz(func(t *testing.T, status int, body, agent, path string) {
		data, err := robotstxt.FromStatusAndBytes(status, []byte(body))
		if err != nil {
			return // the crawl reads it as a 404
		}
		if got, want := newRules(time.Time{}, data, agent).allows(path), data.TestAgent(path, agent); got != want {
			t.Fatalf("status %d, agent %q, path %q: allows %v, TestAgent %v", status, agent, path, got, want)
		}
	})
}

func TestRobotsKeepsABoundedNumberOfOrigins(t *testing.T) {
	var apis []*recorder
	var urls []*url.URL
	for range 3 {
		api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "User-agent: *\nDisallow: /a\n")
		})
		u, err := url.Parse(api.URL + "/b")
		require.NoError(t, err)
		apis, urls = append(apis, api), append(urls, u)
	}
	cfg := testConfig(t, apis[0].URL+"/items", "    style: none", "", nil)
	r, err := newRunner(cfg, runOptions{log: zap.NewNop(), interval: time.Second, now: time.Now})
	require.NoError(t, err)
	defer r.client.CloseIdleConnections()
	r.robots.max = 2
	allowed := func(i int) {
		ok, err := r.robots.allowed(context.Background(), urls[i])
		require.NoError(t, err)
		assert.True(t, ok)
		assert.LessOrEqual(t, len(r.robots.origins), 2)
	}
	fetched := func() []int {
		return []int{apis[0].count("/robots.txt"), apis[1].count("/robots.txt"), apis[2].count("/robots.txt")}
	}

	allowed(0)
	allowed(1)
	allowed(2)
	assert.Equal(t, []int{1, 1, 1}, fetched())
	allowed(2)
	allowed(1)
	assert.Equal(t, []int{1, 1, 1}, fetched(), "the first origin was forgotten, the others kept")
	allowed(0)
	assert.Equal(t, []int{2, 1, 1}, fetched(), "a forgotten origin's robots.txt is fetched again")
	allowed(2)
	assert.Equal(t, []int{2, 1, 1}, fetched(), "both others were asked for since the sweep passed them: the sweep went round and forgot the second")
	allowed(1)
	assert.Equal(t, []int{2, 2, 1}, fetched())
}
