package crawl

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// hiccupAPI serves a listing of pages pages of two items each (page n
// holds items 2n-1 and 2n; the page after the last has none), with total
// announced when announce is set. Its page n's first glitches[n] answers
// are body(n) instead: a page answered 200 while a shard or replica lags.
func hiccupAPI(t *testing.T, pages int, announce bool, glitches map[int]int, body func(n int) string) *recorder {
	t.Helper()
	var mu sync.Mutex
	asked := map[int]int{}
	return startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		n = max(n, 1)
		mu.Lock()
		asked[n]++
		glitch := asked[n] <= glitches[n]
		mu.Unlock()
		if n <= pages {
			w.Header().Set("Link", fmt.Sprintf(`</items?n=%d>; rel="next"`, n+1))
		}
		if glitch {
			fmt.Fprint(w, body(n))
			return
		}
		items := "[]"
		if n <= pages {
			items = itemsPage(2*n-1, 2*n)
		}
		next := fmt.Sprintf(`"%d"`, n+1)
		if n > pages {
			next = "null"
		}
		total := ""
		if announce {
			total = fmt.Sprintf(`"total":%d,`, 2*pages)
		}
		fmt.Fprintf(w, `{%s"items":%s,"cursor":%s}`, total, items, next)
	})
}

// emptyPage is a glitched page: no items, its next cursor as if it had them.
func emptyPage(n int) string { return fmt.Sprintf(`{"items":[],"cursor":"%d"}`, n+1) }

func TestRunAsksAgainAPageWithoutItemsAfterOneWithItems(t *testing.T) {
	paginations := map[string]string{
		"page numbers": "    style: page\n    param: n",
		"cursors":      "    style: cursor\n    param: n\n    cursor_field: cursor",
		"links":        "    style: link",
	}
	for name, pagination := range paginations {
		t.Run(name, func(t *testing.T) {
			api := hiccupAPI(t, 4, false, map[int]int{2: 1}, emptyPage)
			cfg := testConfig(t, api.URL+"/items", pagination, "", nil)
			core, logs := observer.New(zapcore.WarnLevel)

			sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
			require.NoError(t, err)

			assert.ElementsMatch(t, seq(8), ids(t, readLines[outLine](t, cfg.Output)), "the page asked again gave its items")
			assert.Equal(t, 1, logs.FilterMessageSnippet("with them when asked again").Len(), "%v", logs.All())
			assert.Equal(t, int64(8), sum.Succeeded)
			assert.Equal(t, int64(5), sum.Pages, "each page counted once")
		})
	}
}

func TestRunAsksThePageAfterAListingsLastPageOnceMore(t *testing.T) {
	api := hiccupAPI(t, 3, false, nil, emptyPage)
	cfg := testConfig(t, api.URL+"/items", "    style: page\n    param: n", "", nil)
	core, logs := observer.New(zapcore.WarnLevel)

	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)

	assert.ElementsMatch(t, seq(6), ids(t, readLines[outLine](t, cfg.Output)))
	assert.Equal(t, 5, api.count("/items"), "pages 1-3, then page 4 twice: %v", api.paths())
	assert.Equal(t, int64(4), sum.Pages)
	assert.Zero(t, logs.Len(), "a listing's own end says nothing: %v", logs.All())
}

func TestRunWarnsWhereAListingEndsShortOfTheItemsItAnnounced(t *testing.T) {
	api := hiccupAPI(t, 4, true, map[int]int{3: 2}, emptyPage)
	cfg := testConfig(t, api.URL+"/items", "    style: page\n    param: n", "", nil)
	core, logs := observer.New(zapcore.WarnLevel)

	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)

	assert.ElementsMatch(t, seq(4), ids(t, readLines[outLine](t, cfg.Output)), "page 3 was empty twice: the listing ends there")
	warned := logs.FilterMessageSnippet("short of the items it announced")
	require.Equal(t, 1, warned.Len(), "%v", logs.All())
	assert.Equal(t, map[string]any{"page": api.URL + "/items?n=3", "listed": int64(4), "announced": int64(8)},
		warned.All()[0].ContextMap())
	assert.Equal(t, int64(4), sum.Succeeded)
}

func TestRunRetriesAListingPageWithoutItemsFieldAfterPagesWithIt(t *testing.T) {
	api := hiccupAPI(t, 3, false, map[int]int{2: 2}, func(int) string { return `{"error":"upstream timed out; try again"}` })
	cfg := testConfig(t, api.URL+"/items", "    style: cursor\n    param: n\n    cursor_field: cursor", "", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	assert.ElementsMatch(t, seq(6), ids(t, readLines[outLine](t, cfg.Output)))
	assert.Equal(t, 3, api.count("/items?n=2"), "page 2 asked until it had its items: %v", api.paths())
	assert.Equal(t, int64(2), sum.Retries)
}

func TestRunFailsAtOnceWhenTheFirstPageLacksItemsField(t *testing.T) {
	api := hiccupAPI(t, 3, false, map[int]int{1: 1}, func(int) string { return `{"error":"upstream timed out; try again"}` })
	cfg := testConfig(t, api.URL+"/items", "    style: page\n    param: n", "", nil)

	_, err := runTest(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after 1 attempt: source.items_field:", "on the first page it is the config's key, most likely")
	assert.Equal(t, 1, api.count("/items"))
}

func TestRunEndsAtAPageWithoutItemsOnceEveryAnnouncedItemIsListed(t *testing.T) {
	api := hiccupAPI(t, 3, true, nil, emptyPage)
	cfg := testConfig(t, api.URL+"/items", "    style: page\n    param: n", "", nil)
	core, logs := observer.New(zapcore.WarnLevel)

	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)

	assert.ElementsMatch(t, seq(6), ids(t, readLines[outLine](t, cfg.Output)))
	assert.Equal(t, 4, api.count("/items"), "pages 1-3, then page 4 once: the 6 items announced were listed: %v", api.paths())
	assert.Equal(t, int64(4), sum.Pages)
	assert.Zero(t, logs.Len(), "%v", logs.All())
}

func TestRunAsksAgainAPageWithoutItemsBeforeEveryAnnouncedItemIsListed(t *testing.T) {
	api := hiccupAPI(t, 4, true, map[int]int{3: 1}, emptyPage)
	cfg := testConfig(t, api.URL+"/items", "    style: page\n    param: n", "", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	assert.ElementsMatch(t, seq(8), ids(t, readLines[outLine](t, cfg.Output)), "page 3, empty once while 4 of 8 were listed, was asked again")
	assert.Equal(t, 2, api.count("/items?n=3"), "%v", api.paths())
	assert.Equal(t, int64(8), sum.Succeeded)
}
