package crawl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// endlessAPI serves a listing that never ends by itself: page n (from the
// query parameter p, cursor c or the path of a next link) is page(n); every
// page links to page n+1.
func endlessAPI(t *testing.T, page func(n int) string) *recorder {
	t.Helper()
	var api *recorder
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n == 0 {
			n = 1
		}
		w.Header().Set("Link", fmt.Sprintf(`</items?n=%d>; rel="next"`, n+1))
		fmt.Fprintf(w, `{"items":%s,"cursor":"%d","next":"/items?n=%d"}`, page(n), n+1, n+1)
	})
	return api
}

func itemsPage(ids ...int) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(`{"id":%d}`, id)
	}
	return s + "]"
}

func TestRunEndsAListingThatGoesOnWithoutItems(t *testing.T) {
	tests := []struct {
		name       string
		pagination string
		page       func(n int) string
		wantPages  int   // pages of the listing
		asked      int   // page requests the server receives, if not wantPages
		wantIDs    []int // items listed
		warning    string
	}{
		{name: "empty pages with fresh cursors", pagination: "    style: cursor\n    param: n\n    cursor_field: cursor",
			page: func(int) string { return "[]" }, wantPages: 10, warning: "no items on too many pages"},
		{name: "empty pages with fresh links, max_empty_pages 3", pagination: "    style: link\n    max_empty_pages: 3",
			page: func(int) string { return "[]" }, wantPages: 3, warning: "no items on too many pages"},
		{name: "empty pages between pages with items do not end it",
			pagination: "    style: next_url\n    next_field: next\n    max_empty_pages: 3",
			page: func(n int) string {
				if n == 1 || n == 4 {
					return itemsPage(n)
				}
				return "[]"
			}, wantPages: 7, asked: 9, wantIDs: []int{1, 4}, warning: "no items on too many pages"}, // 2 and 5 asked twice
		{name: "page numbers past the end repeat the last page", pagination: "    style: page\n    param: n",
			page:      func(n int) string { return itemsPage(2*min(n, 3)-1, 2*min(n, 3)) },
			wantPages: 4, wantIDs: []int{1, 2, 3, 4, 5, 6}, warning: "repeats the previous page's items"},
		{name: "cursors that repeat the items", pagination: "    style: cursor\n    param: n\n    cursor_field: cursor",
			page: func(n int) string { return itemsPage(7, 8) }, wantPages: 2, wantIDs: []int{7, 8}, warning: "repeats the previous page's items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := endlessAPI(t, tt.page)
			cfg := testConfig(t, api.URL+"/items", tt.pagination, "", nil)
			core, logs := observer.New(zapcore.WarnLevel)

			sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
			require.NoError(t, err)

			asked := tt.wantPages
			if tt.asked > 0 {
				asked = tt.asked
			}
			assert.Equal(t, asked, api.count("/items"), "pages requested: %v", api.paths())
			assert.Equal(t, int64(tt.wantPages), sum.Pages)
			var got []int
			for _, l := range readLines[outLine](t, cfg.Output) {
				got = append(got, int(l.Data["id"].(float64)))
			}
			assert.ElementsMatch(t, tt.wantIDs, got, "every item once")
			assert.Equal(t, 1, logs.FilterMessageSnippet(tt.warning).Len(), "%v", logs.All())
		})
	}
}

func TestPageEndsCountsEmptyPagesInARow(t *testing.T) {
	e := &pageEnds{maxEmpty: 2, log: zap.NewNop()}
	assert.False(t, e.end("u", page{}))
	assert.False(t, e.end("u", page{items: []any{"a"}}), "items reset the count")
	assert.False(t, e.end("u", page{}))
	assert.True(t, e.end("u", page{}))

	e = &pageEnds{maxEmpty: 10, log: zap.NewNop()}
	assert.False(t, e.end("u", page{items: []any{map[string]any{"a": 1, "b": 2}}}))
	assert.False(t, e.end("u", page{}))
	assert.False(t, e.end("u", page{items: []any{map[string]any{"b": 2, "a": 1}}}), "an empty page between: not the previous page")
	assert.True(t, e.end("u", page{items: []any{map[string]any{"a": 1, "b": 2}}}), "the same items in another key order")
}

func TestSameJSONComparesDecodedValuesAsTheirJSONForms(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "objects in another key order", a: `{"a":1,"b":[1,{"c":null}]}`, b: `{"b":[1,{"c":null}],"a":1}`, want: true},
		{name: "a difference deep down", a: `[{"a":{"b":[1,2,3]}}]`, b: `[{"a":{"b":[1,2,4]}}]`},
		{name: "arrays in another order", a: `[1,2]`, b: `[2,1]`},
		{name: "a number and its string", a: `{"id":1}`, b: `{"id":"1"}`},
		{name: "numbers written differently", a: `[1.0]`, b: `[1]`},
		{name: "null and a missing key", a: `{"a":null}`, b: `{"b":null}`},
		{name: "one key more", a: `{"a":1}`, b: `{"a":1,"b":2}`},
		{name: "false and null", a: `[false]`, b: `[null]`},
		{name: "equal scalars", a: `["x",true,null,2.5]`, b: `["x",true,null,2.5]`, want: true},
	}
	decode := func(s string) any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		require.NoError(t, dec.Decode(&v))
		return v
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, sameJSON(decode(tt.a), decode(tt.b)))
			assert.Equal(t, tt.want, sameJSON(decode(tt.b), decode(tt.a)), "either way round")
		})
	}
}

func TestRunWithATaskTellsARepeatedPageByItsItemsNotByTheirTaskURLs(t *testing.T) {
	// Every item's task URL is the same: pages differ only in keys the task
	// does not read, which a crawl with a task does not decode.
	page := func(n int) string {
		n = min(n, 3)
		return fmt.Sprintf(`[{"id":%d,"kind":"a"},{"id":%d,"kind":"a"}]`, 2*n-1, 2*n)
	}
	api := endlessAPI(t, page)
	cfg := testConfig(t, api.URL+"/items", "    style: page\n    param: n", "task:\n  url: \"/detail/{kind}\"", nil)
	core, logs := observer.New(zapcore.WarnLevel)

	sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
	require.NoError(t, err)

	assert.Equal(t, 4, api.count("/items"), "pages requested: %v", api.paths())
	assert.Equal(t, 1, api.count("/detail/a"), "the six items of pages 1-3 share one task URL: fetched once")
	assert.Equal(t, int64(1), sum.Succeeded)
	assert.Equal(t, int64(5), sum.Repeated)
	assert.Equal(t, 1, logs.FilterMessageSnippet("repeats the previous page's items").Len(), "%v", logs.All())
}

func TestRunWithATaskNamesAnItemsKeysWhenItLacksTheTasksField(t *testing.T) {
	api := endlessAPI(t, func(int) string { return `[{"id":1,"path":"/d/1","x":{"y":2}},{"id":2,"detail":"/d/2"}]` })
	cfg := testConfig(t, api.URL+"/items", "    style: none", "task:\n  url: \"{+detail}\"", nil)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)

	assert.Equal(t, int64(1), sum.Succeeded)
	failed := readLines[failedLine](t, cfg.FailedPath())
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0].Error, `dot path "detail": the item has no key "detail" (keys: id, path, x)`)
}
