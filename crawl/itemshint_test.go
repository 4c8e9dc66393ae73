package crawl

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArrayHintNamesThePagesArrays(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"a top-level array", `{"data": [1, 2, 3], "total": 3}`, `; the page's arrays: data (3 elements)`},
		{"nearest first, then sorted", `{"meta": {"links": [1, 2]}, "results": [], "b": [1]}`,
			`; the page's arrays: b (1 element), results (0 elements), meta.links (2 elements)`},
		{"the whole body", `[{"id": 1}]`, `; the page's arrays: the whole body, without items_field (1 element)`},
		{"none", `{"id": 1, "name": "x"}`, ``},
		{"deeper than two objects", `{"a": {"b": {"c": [1]}}}`, ``},
		{"keys a dot path cannot name", `{"a.b": [1], "": [2], "ok": [3]}`, `; the page's arrays: ok (1 element)`},
		{"at most five", `{"a": [], "b": [], "c": [], "d": [], "e": [], "f": []}`,
			`; the page's arrays: a (0 elements), b (0 elements), c (0 elements), d (0 elements), e (0 elements)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, arrayHint(decodeItem(t, tt.body)))
		})
	}
}

func TestRunNamesThePagesArraysForAWrongItemsField(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"results":[{"id":1}],"meta":{"total":1,"links":[]}}`)
	}))
	defer api.Close()
	cfg := testConfig(t, api.URL+"/items", "    style: none", "politeness: {robots: false}", nil)

	_, err := runTest(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `source.items_field: dot path "items": the body has no key "items" (keys: meta, results); the page's arrays: results (1 element), meta.links (0 elements)`)
}
