package mockapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRobotsTxtDisallowsPrivateAndAnnouncesCrawlDelay(t *testing.T) {
	tests := []struct {
		name   string
		robots Robots
		want   string
	}{
		{"no crawl delay", Robots{}, "User-agent: *\nDisallow: /private/\n"},
		{"crawl delay in seconds", Robots{CrawlDelay: 1500 * time.Millisecond}, "User-agent: *\nDisallow: /private/\nCrawl-delay: 1.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Robots: tt.robots}})
			r := get(t, newClient(t, 10*time.Second), s.URL()+"/robots.txt")
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
			assert.Equal(t, tt.want, string(r.body))
			assert.Equal(t, int64(1), s.Stats().ByClass[ClassRobots])
		})
	}
}

func TestPrivateItemsAreListedUnderTheDisallowedPathAndCountedAsViolations(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 10, Robots: Robots{PrivateEvery: 4}}})
	c := newClient(t, 10*time.Second)
	page := decode[listingPage](t, get(t, c, s.URL()+"/items").body)
	require.Len(t, page.Items, 10)
	var private []string
	for _, it := range page.Items {
		if it.ID%4 == 0 {
			private = append(private, it.DetailPath)
		} else {
			assert.Equal(t, "/items/"+strconv.Itoa(it.ID), it.DetailPath)
		}
	}
	assert.Equal(t, []string{"/private/items/4", "/private/items/8"}, private)

	for _, p := range append(private, "/items/1", "/private/elsewhere") {
		get(t, c, s.URL()+p)
	}
	stats := s.Stats()
	assert.Equal(t, int64(3), stats.RobotsViolations, "the two private items and /private/elsewhere")
	assert.Equal(t, map[int]int{1: 1, 4: 1, 8: 1}, stats.DetailOK, "a private item is still served")
	assert.Equal(t, int64(1), stats.ByStatus[404])
}

func TestRobotsTxtCanBeSlowOrAnsweredWithAnErrorWhileTheAPIServes(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 10, Robots: Robots{Latency: 100 * time.Millisecond, Status: http.StatusServiceUnavailable}}})
	c := newClient(t, 10*time.Second)
	start := time.Now()
	r := get(t, c, s.URL()+"/robots.txt")
	// The mock sets its timers early by the lateness it has learnt (a
	// millisecond or less), so that they fire on time: not a hair under.
	assert.GreaterOrEqual(t, time.Since(start), 95*time.Millisecond, "robots.txt takes its own latency")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Empty(t, r.header.Get("Retry-After"))
	assert.NotContains(t, string(r.body), "Disallow")

	start = time.Now()
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status, "the API is not touched")
	assert.Less(t, time.Since(start), 100*time.Millisecond, "a detail does not take robots.txt's latency")
	assert.Equal(t, int64(1), s.Stats().ByStatus[http.StatusServiceUnavailable])

	_, err := NewHandler(Config{Scenario: Scenario{Robots: Robots{Status: 42}}})
	assert.Error(t, err)
}
