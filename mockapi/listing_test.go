package mockapi

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type listingPage struct {
	Items      []listItem `json:"items"`
	Page       int        `json:"page"`
	Offset     int        `json:"offset"`
	PerPage    int        `json:"per_page"`
	Total      *int       `json:"total"`
	TotalPages *int       `json:"total_pages"`
	NextCursor *string    `json:"next_cursor"`
	Next       *string    `json:"next"`
}

var linkNext = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// walk pages through the listing the way a client of style would, and
// returns every item id seen, in order, and the number of pages fetched.
func walk(t *testing.T, c *http.Client, base string, style Pagination, perPage int) (ids []int, pages int) {
	t.Helper()
	u := fmt.Sprintf("%s/items?per_page=%d", base, perPage)
	for n := 1; u != ""; n++ {
		require.Less(t, n, 1000, "listing does not end")
		r := get(t, c, u)
		require.Equal(t, http.StatusOK, r.status, "GET %s: %s", u, r.body)
		p := decode[listingPage](t, r.body)
		pages++
		for _, it := range p.Items {
			ids = append(ids, it.ID)
			assert.Equal(t, "/items/"+strconv.Itoa(it.ID), it.DetailPath)
		}
		switch style {
		case PaginationPage:
			u = ""
			if len(p.Items) > 0 {
				u = fmt.Sprintf("%s/items?per_page=%d&page=%d", base, perPage, p.Page+1)
			}
		case PaginationOffset:
			u = ""
			if len(p.Items) > 0 {
				u = fmt.Sprintf("%s/items?per_page=%d&offset=%d", base, perPage, p.Offset+len(p.Items))
			}
		case PaginationCursor:
			require.NotNil(t, p.NextCursor, "next_cursor missing")
			u = ""
			if *p.NextCursor != "" {
				u = fmt.Sprintf("%s/items?per_page=%d&cursor=%s", base, perPage, url.QueryEscape(*p.NextCursor))
			}
		case PaginationLink:
			u = ""
			if l := r.header.Get("Link"); l != "" {
				m := linkNext.FindStringSubmatch(l)
				require.NotNil(t, m, "Link header %q", l)
				u = m[1]
			}
		case PaginationNextURL:
			u = ""
			if p.Next != nil {
				u = *p.Next
			}
		}
	}
	return ids, pages
}

func TestEveryPaginationStyleWalksToTheEndWithEveryItemOnce(t *testing.T) {
	styles := []Pagination{PaginationPage, PaginationOffset, PaginationCursor, PaginationLink, PaginationNextURL}
	sizes := []struct {
		name           string
		items, perPage int
		pages          int // pages a client fetches, counting the empty page after the last
	}{
		{"partial last page", 23, 5, 5},
		{"exact multiple", 20, 5, 4},
		{"one page", 3, 10, 1},
	}
	for _, style := range styles {
		for _, size := range sizes {
			t.Run(string(style)+"/"+size.name, func(t *testing.T) {
				s := startServer(t, Config{Scenario: Scenario{Items: size.items, Pagination: style}})
				ids, pages := walk(t, newClient(t, 10*time.Second), s.URL(), style, size.perPage)

				want := make([]int, 0, size.items)
				for id := 1; id <= size.items; id++ {
					want = append(want, id)
				}
				assert.Equal(t, want, ids)
				wantPages := size.pages
				if style == PaginationPage || style == PaginationOffset {
					wantPages++ // these styles only end on an empty page
				}
				assert.Equal(t, wantPages, pages)
				assert.Equal(t, int64(pages), s.Stats().ByClass[ClassListing])
			})
		}
	}
}
