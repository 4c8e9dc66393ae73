package mockapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeCursor: a cursor is accepted only if this server could have issued it.
func FuzzDecodeCursor(f *testing.F) {
	for _, c := range []string{"", encodeCursor(0), encodeCursor(50), "bzEw", "o10", "bi0x", "%%%"} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		n, bad := decodeCursor(c)
		if bad != nil {
			assert.Contains(t, bad.Error(), "cursor")
			return
		}
		require.GreaterOrEqual(t, n, 0)
		if c != "" {
			assert.Equal(t, c, encodeCursor(n))
		}
	})
}

// FuzzListingQuery: any query gets a 200 page or a 400 naming what was wrong, in JSON.
func FuzzListingQuery(f *testing.F) {
	for _, q := range []string{"", "page=2", "per_page=0", "per_page=1001", "offset=-1", "page=99999999999999999999", "cursor=bzU", "cursor=x"} {
		f.Add("page", q)
		f.Add("offset", q)
		f.Add("cursor", q)
	}
	f.Fuzz(func(t *testing.T, style, query string) {
		sc := Scenario{Items: 120, Pagination: Pagination(style)}
		h, err := NewHandler(Config{Scenario: sc})
		if err != nil {
			return // not a style
		}
		defer h.Close()
		req := httptest.NewRequest(http.MethodGet, "/items", nil)
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.True(t, json.Valid(rec.Body.Bytes()), "body %q", rec.Body)
		switch rec.Code {
		case http.StatusOK:
			var p listingPage
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.LessOrEqual(t, len(p.Items), 1000)
		case http.StatusBadRequest:
			msg := decode[map[string]string](t, rec.Body.Bytes())["error"]
			assert.True(t, strings.Contains(msg, "per_page") || strings.Contains(msg, "page") ||
				strings.Contains(msg, "offset") || strings.Contains(msg, "cursor"), "message %q", msg)
		default:
			t.Fatalf("status %d for %q", rec.Code, query)
		}
	})
}
