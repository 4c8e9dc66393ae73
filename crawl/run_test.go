package crawl

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
)

func TestRunFetchesEveryItemInEachPaginationStyle(t *testing.T) {
	const items, perPage = 23, 5 // 5 pages, the last one short
	tests := []struct {
		name       string
		mock       mockapi.Pagination
		pagination string
		query      string // per_page, when not 5
		pages      int64
	}{
		{name: "link", mock: mockapi.PaginationLink, pagination: "    style: link", pages: 5},
		{name: "next_url", mock: mockapi.PaginationNextURL, pagination: "    style: next_url\n    next_field: next", pages: 5},
		{name: "cursor", mock: mockapi.PaginationCursor, pagination: "    style: cursor\n    cursor_field: next_cursor", pages: 5},
		// page and offset stop at the first empty page, one past the last
		// (asked once: it follows a short page).
		{name: "page", mock: mockapi.PaginationPage, pagination: "    style: page", pages: 6},
		{name: "offset", mock: mockapi.PaginationOffset, pagination: "    style: offset", pages: 6},
		{name: "none", mock: mockapi.PaginationPage, pagination: "    style: none", query: "100", pages: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startMock(t, mockapi.Scenario{Items: items, PerPage: perPage, Pagination: tt.mock})
			perPageQ := "5"
			if tt.query != "" {
				perPageQ = tt.query
			}
			cfg := testConfig(t, srv.URL()+"/items?per_page="+perPageQ, tt.pagination, detailTask, nil)

			sum, err := runTest(t, cfg)
			require.NoError(t, err)

			lines := readLines[outLine](t, cfg.Output)
			assert.ElementsMatch(t, seq(items), ids(t, lines), "every item exactly once")
			for _, l := range lines {
				assert.Equal(t, 200, l.Status)
				assert.Contains(t, l.URL, srv.URL()+"/items/")
			}
			assert.Empty(t, readLines[failedLine](t, cfg.FailedPath()))
			assert.Equal(t, tt.pages, sum.Pages)
			assert.Equal(t, int64(items), sum.Items)
			assert.Equal(t, int64(items), sum.Succeeded)
			// pages + details + robots.txt, nothing retried
			assert.Equal(t, tt.pages+items+1, sum.Requests)
			assert.Equal(t, srv.Stats().Requests, sum.Requests, "the server counted the same requests")
			assert.Zero(t, sum.Retries)
			assert.False(t, sum.Interrupted)
			assert.Positive(t, sum.MaxConcurrency)
			assert.Positive(t, sum.FinalLimit)
		})
	}
}

func TestRunWithoutTaskWritesTheItemsWithTheirPageURL(t *testing.T) {
	srv := startMock(t, mockapi.Scenario{Items: 12, PerPage: 5, Pagination: mockapi.PaginationLink})
	cfg := testConfig(t, srv.URL()+"/items", "    style: link", "", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	lines := readLines[outLine](t, cfg.Output)
	assert.ElementsMatch(t, seq(12), ids(t, lines))
	for _, l := range lines {
		id := int(l.Data["id"].(float64))
		want := srv.URL() + "/items"
		if id > 5 {
			want = fmt.Sprintf("%s/items?page=%d", srv.URL(), (id+4)/5)
		}
		assert.Equal(t, want, l.URL, "item %d carries its page's URL", id)
		assert.Equal(t, fmt.Sprintf("/items/%d", id), l.Data["detail_path"])
		assert.Zero(t, l.Status, "no status without a task")
	}
	assert.Equal(t, Summary{Pages: 3, Items: 12, Succeeded: 12, Requests: 4, MaxConcurrency: sum.MaxConcurrency,
		FinalLimit: sum.FinalLimit, DurationS: sum.DurationS}, sum)
	assert.Zero(t, srv.Stats().ByClass[mockapi.ClassDetail])
}

func TestRunReportsProgressWithTheAnnouncedTotal(t *testing.T) {
	srv := startMock(t, mockapi.Scenario{Items: 30, PerPage: 10, AnnounceTotal: true})
	cfg := testConfig(t, srv.URL()+"/items", "    style: page", detailTask, nil)
	var snaps []Progress // calls are never concurrent

	sum, err := runTest(t, cfg, WithProgress(5*time.Millisecond, func(p Progress) { snaps = append(snaps, p) }))
	require.NoError(t, err)

	require.NotEmpty(t, snaps)
	last := snaps[len(snaps)-1]
	assert.Equal(t, int64(30), last.Total, "the mock's total")
	assert.Equal(t, int64(30), last.Listed)
	assert.Equal(t, int64(30), last.Succeeded, "the last snapshot is taken at the end")
	assert.Equal(t, sum.Requests, last.Requests)
	assert.Zero(t, last.InFlight)
	for i := 1; i < len(snaps); i++ {
		assert.GreaterOrEqual(t, snaps[i].Succeeded, snaps[i-1].Succeeded)
		assert.GreaterOrEqual(t, snaps[i].Rate, 0.0)
	}
}

func TestRunRefusesABadProgressInterval(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1/items", "    style: none", "", nil)
	_, err := Run(context.Background(), cfg, WithProgress(0, func(Progress) {}))
	assert.ErrorContains(t, err, "progress interval must be positive")
}
