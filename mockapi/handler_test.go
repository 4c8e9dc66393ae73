package mockapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerServesInProcessAndReleasesHeldRequestsOnClose(t *testing.T) {
	h, err := NewHandler(Config{Scenario: Scenario{Items: 5, Faults: Faults{Hang: 1, HangMax: time.Minute}}})
	require.NoError(t, err)
	ts := httptest.NewServer(h)
	c := newClient(t, time.Minute)

	r := get(t, c, ts.URL+"/items")
	require.Equal(t, http.StatusOK, r.status, "listing pages do not fault")
	assert.Len(t, decode[listingPage](t, r.body).Items, 5)

	held := make(chan int)
	go func() {
		resp, err := c.Get(ts.URL + "/items/1")
		if !assert.NoError(t, err) {
			close(held)
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return h.Stats().InFlight == 1 }, 5*time.Second, time.Millisecond)

	start := time.Now()
	h.Close()
	assert.Equal(t, http.StatusServiceUnavailable, <-held)
	c.CloseIdleConnections()
	ts.Close()
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, map[int]int64{200: 1, 503: 1}, h.Stats().ByStatus)
}
