package crawl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
