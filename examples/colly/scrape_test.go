package colly

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
)

// quotaServer serves n items behind a 100 req/s quota (burst 10) that
// answers 429 + Retry-After beyond it, on 127.0.0.1.
func quotaServer(t *testing.T, n int) (*mockapi.Server, []string) {
	t.Helper()
	sc, err := mockapi.Preset("quota")
	require.NoError(t, err)
	sc.Items = n
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/items/%d", srv.URL(), i+1)
	}
	return srv, urls
}

func TestCollyAloneLosesMostItemsUnderAQuota(t *testing.T) {
	srv, urls := quotaServer(t, 300)
	res, err := Scrape(urls, false)
	require.NoError(t, err)
	t.Logf("colly alone: %d of %d pages, %d throttled, %d lost; server saw %d requests", res.OK, len(urls), res.Throttled, res.Lost, srv.Stats().Requests)
	assert.Greater(t, res.Lost, len(urls)/2, "most pages are refused and never fetched again")
}

func TestCollyWithPolitelyLosesNothingUnderTheSameQuota(t *testing.T) {
	srv, urls := quotaServer(t, 300)
	res, err := Scrape(urls, true)
	require.NoError(t, err)
	st := srv.Stats()
	t.Logf("colly + politely: %d of %d pages, %d throttled, %d lost; server saw %d requests, %d before a Retry-After", res.OK, len(urls), res.Throttled, res.Lost, st.Requests, st.EarlyRequests)
	assert.Zero(t, res.Lost)
	assert.Empty(t, st.Unfetched())
	assert.Zero(t, st.EarlyRequests, "nothing sent before a Retry-After")
}
