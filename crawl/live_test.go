package crawl

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLiveSummaryReportsTheCountersWhileTheCrawlRuns(t *testing.T) {
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.NotFound(w, r)
		case "/items":
			fmt.Fprint(w, `{"items":[`)
			for i := range 200 {
				if i > 0 {
					fmt.Fprint(w, ",")
				}
				fmt.Fprintf(w, `{"p":"/d/%d"}`, i)
			}
			fmt.Fprint(w, `]}`)
		default:
			time.Sleep(5 * time.Millisecond)
			fmt.Fprint(w, `{}`)
		}
	})
	cfg := testConfig(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+p}\"", nil)
	var live LiveSummary
	_, ok := live.Summary()
	assert.False(t, ok, "no crawl yet")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan Summary)
	go func() {
		sum, _ := Run(ctx, cfg, WithLiveSummary(&live), WithProgress(10*time.Millisecond, func(Progress) {}))
		ended <- sum
	}()

	var sum Summary
	require.Eventually(t, func() bool {
		sum, ok = live.Summary()
		return ok && sum.Succeeded >= 10
	}, 20*time.Second, 5*time.Millisecond)
	cancel()
	final := <-ended
	assert.True(t, sum.Interrupted)
	assert.Equal(t, int64(1), sum.Pages)
	assert.GreaterOrEqual(t, sum.Requests, sum.Succeeded+2, "robots.txt, the page and the tasks")
	assert.LessOrEqual(t, sum.Requests, final.Requests)
	assert.LessOrEqual(t, sum.Succeeded, final.Succeeded)
}
