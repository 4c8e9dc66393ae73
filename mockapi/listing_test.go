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

func TestListingAnnouncesTheTotalWhenAsked(t *testing.T) {
	tests := []struct {
		name           string
		style          Pagination
		announce       bool
		wantTotalPages bool
	}{
		{"page numbers", PaginationPage, true, true},
		{"offset has no pages", PaginationOffset, true, false},
		{"cursor has no pages", PaginationCursor, true, false},
		{"not announced", PaginationLink, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Items: 23, PerPage: 5, Pagination: tt.style, AnnounceTotal: tt.announce}})
			p := decode[listingPage](t, get(t, newClient(t, 10*time.Second), s.URL()+"/items").body)
			if !tt.announce {
				assert.Nil(t, p.Total)
				assert.Nil(t, p.TotalPages)
				return
			}
			require.NotNil(t, p.Total)
			assert.Equal(t, 23, *p.Total)
			if tt.wantTotalPages {
				require.NotNil(t, p.TotalPages)
				assert.Equal(t, 5, *p.TotalPages)
			} else {
				assert.Nil(t, p.TotalPages)
			}
		})
	}
}

func TestNextLinksKeepTheClientsQueryParameters(t *testing.T) {
	for _, style := range []Pagination{PaginationLink, PaginationNextURL} {
		t.Run(string(style), func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Items: 10, Pagination: style}})
			r := get(t, newClient(t, 10*time.Second), s.URL()+"/items?per_page=4&api_key=k1")
			want := s.URL() + "/items?api_key=k1&page=2&per_page=4"
			if style == PaginationLink {
				assert.Equal(t, "<"+want+`>; rel="next"`, r.header.Get("Link"))
			} else {
				p := decode[listingPage](t, r.body)
				require.NotNil(t, p.Next)
				assert.Equal(t, want, *p.Next)
			}
		})
	}
}

func TestListingRejectsBadParametersNamingThem(t *testing.T) {
	tests := []struct {
		style Pagination
		query string
		want  string
	}{
		{PaginationPage, "page=0", `page must be an integer >= 1, got "0"`},
		{PaginationPage, "page=two", `page must be an integer >= 1, got "two"`},
		{PaginationPage, "per_page=1001", `per_page must be an integer from 1 to 1000, got "1001"`},
		{PaginationOffset, "offset=-5", `offset must be an integer >= 0, got "-5"`},
		{PaginationCursor, "cursor=zzz", `cursor "zzz" is not one this server issued`},
	}
	for _, tt := range tests {
		t.Run(string(tt.style)+"/"+tt.query, func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Pagination: tt.style}})
			r := get(t, newClient(t, 10*time.Second), s.URL()+"/items?"+tt.query)
			assert.Equal(t, http.StatusBadRequest, r.status)
			assert.Equal(t, tt.want, decode[map[string]string](t, r.body)["error"])
		})
	}
}

func TestDetailHostsSpreadTheItemsOverOtherServers(t *testing.T) {
	sc := Scenario{DetailHosts: []string{"127.0.0.1:1", "localhost:2"}, Robots: Robots{PrivateEvery: 3}}
	assert.Equal(t, "http://localhost:2/items/1", sc.DetailPath(1))
	assert.Equal(t, "http://127.0.0.1:1/items/2", sc.DetailPath(2))
	assert.Equal(t, "http://127.0.0.1:1/private/items/6", sc.DetailPath(6))
	assert.Equal(t, "/items/1", Scenario{}.DetailPath(1))
}

func TestRedirectToAnswersEveryDetailRequestWithARedirectToTheOtherServer(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 3, RedirectTo: "localhost:9"}})
	c := newClient(t, 10*time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := get(t, c, s.URL()+"/items/2?x=1")
	assert.Equal(t, http.StatusFound, r.status)
	assert.Equal(t, "http://localhost:9/items/2?x=1", r.header.Get("Location"))
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items").status, "the listing is served")
	assert.Equal(t, http.StatusNotFound, get(t, c, s.URL()+"/items/4").status, "no such item")
}

func TestRedirectAtRedirectsOnlyFromItsTime(t *testing.T) {
	clk := newFakeClock()
	s := startServer(t, Config{Now: clk.Now, Scenario: Scenario{Items: 3, RedirectTo: "localhost:9", RedirectAt: 5 * time.Second}})
	c := newClient(t, 10*time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/2").status, "served here before RedirectAt")
	clk.Advance(5 * time.Second)
	r := get(t, c, s.URL()+"/items/2")
	assert.Equal(t, http.StatusFound, r.status, "moved from RedirectAt on")
	assert.Equal(t, "http://localhost:9/items/2", r.header.Get("Location"))
	_, err := NewHandler(Config{Scenario: Scenario{RedirectAt: -time.Second}})
	assert.ErrorContains(t, err, "RedirectAt")
}

func TestPageGlitchAnswersAPageEmptyAnErrorOrA500OnItsFirstAttempts(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 10, PerPage: 2, PageGlitch: PageGlitch{Pages: []int{2}}}})
	c := newClient(t, 10*time.Second)
	type page struct {
		Items []listItem `json:"items"`
		Page  int        `json:"page"`
	}
	assert.Len(t, decode[page](t, get(t, c, s.URL()+"/items?page=1").body).Items, 2)
	r := get(t, c, s.URL()+"/items?page=2")
	require.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, decode[page](t, r.body).Items, "the glitch: 200 and no items")
	assert.Len(t, decode[page](t, get(t, c, s.URL()+"/items?page=2").body).Items, 2, "asked again: the page")

	s = startServer(t, Config{Scenario: Scenario{Items: 10, PerPage: 2, Pagination: PaginationCursor,
		PageGlitch: PageGlitch{Pages: []int{1}, Kind: GlitchError, Attempts: 2}}})
	for range 2 {
		r = get(t, c, s.URL()+"/items")
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, map[string]any{"error": "upstream timed out; try again"}, decode[map[string]any](t, r.body))
	}
	assert.Contains(t, string(get(t, c, s.URL()+"/items").body), `"next_cursor"`, "the third attempt gets the page")

	s = startServer(t, Config{Scenario: Scenario{Items: 10, PerPage: 2, Pagination: PaginationCursor,
		PageGlitch: PageGlitch{Pages: []int{1}, Kind: GlitchServerError}}})
	r = get(t, c, s.URL()+"/items")
	assert.Equal(t, http.StatusInternalServerError, r.status, "the glitch: a 500")
	assert.Equal(t, map[string]any{"error": "upstream timed out; try again"}, decode[map[string]any](t, r.body))
	assert.Contains(t, string(get(t, c, s.URL()+"/items").body), `"next_cursor"`, "asked again: the page")

	_, err := NewHandler(Config{Scenario: Scenario{PageGlitch: PageGlitch{Pages: []int{0}}}})
	assert.ErrorContains(t, err, "PageGlitch.Pages")
	_, err = NewHandler(Config{Scenario: Scenario{PageGlitch: PageGlitch{Kind: "teapot"}}})
	assert.ErrorContains(t, err, "PageGlitch.Kind")
}

func TestRedirectLoopShareSendsAShareOfItemsRoundALoopForever(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 200, RedirectLoopShare: 0.25}})
	c := newClient(t, 10*time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	looping := 0
	for id := 1; id <= 200; id++ {
		path := "/items/" + strconv.Itoa(id)
		r := get(t, c, s.URL()+path)
		if r.status == http.StatusOK {
			continue
		}
		looping++
		require.Equal(t, http.StatusFound, r.status)
		require.Equal(t, path+"?loop=1", r.header.Get("Location"))
		back := get(t, c, s.URL()+path+"?loop=1")
		require.Equal(t, http.StatusFound, back.status)
		require.Equal(t, path, back.header.Get("Location"), "and back again")
		require.Equal(t, http.StatusFound, get(t, c, s.URL()+path).status, "on every attempt")
	}
	assert.InDelta(t, 50, looping, 20, "about a quarter of the items loop")
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items").status, "the listing is served")
}

func TestMissingShareAnswersAShareOfItems404AtOnce(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 200, MissingShare: 0.25, Latency: 2 * time.Second}})
	c := newClient(t, 10*time.Second)
	var missing []int
	ok := 0
	for id := 1; id <= 200; id++ {
		if unit(0, "missing", strconv.Itoa(id), 0) < 0.25 {
			missing = append(missing, id)
		} else if ok == 0 {
			ok = id
		}
	}
	assert.InDelta(t, 50, len(missing), 20, "about a quarter of the items are missing")
	start := time.Now()
	for _, id := range missing[:10] {
		require.Equal(t, http.StatusNotFound, get(t, c, s.URL()+"/items/"+strconv.Itoa(id)).status)
		require.Equal(t, http.StatusNotFound, get(t, c, s.URL()+"/items/"+strconv.Itoa(id)).status, "on every attempt")
	}
	assert.Less(t, time.Since(start), 2*time.Second, "20 answers without the 2 s service time")
	assert.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/"+strconv.Itoa(ok)).status)
}

func TestRedirectOnceShareSendsAShareOfItemsToTheirCanonicalURLOnce(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 200, RedirectOnceShare: 0.25}})
	c := newClient(t, 10*time.Second)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	moved := 0
	for id := 1; id <= 200; id++ {
		path := "/items/" + strconv.Itoa(id)
		r := get(t, c, s.URL()+path)
		if r.status == http.StatusOK {
			continue
		}
		moved++
		require.Equal(t, http.StatusFound, r.status)
		require.Equal(t, path+"?canonical=1", r.header.Get("Location"))
		require.Equal(t, http.StatusOK, get(t, c, s.URL()+path+"?canonical=1").status, "the canonical URL is served")
	}
	assert.InDelta(t, 50, moved, 20, "about a quarter of the items move")
}
