package mockapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// listItem is one entry of a listing page.
type listItem struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	DetailPath string `json:"detail_path"`
}

// detail is the body of a detail request.
type detail struct {
	ID          int      `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Price       float64  `json:"price"`
	Tags        []string `json:"tags"`
	Padding     string   `json:"padding,omitempty"`
}

// DetailPath is the path of item id's detail endpoint in scenario sc:
// /items/{id}, or /private/items/{id} for the items Robots.PrivateEvery hides;
// with DetailHosts, the absolute URL of that path on one of them.
func (sc Scenario) DetailPath(id int) string {
	p := "/items/" + strconv.Itoa(id)
	if n := sc.Robots.PrivateEvery; n > 0 && id%n == 0 {
		p = "/private" + p
	}
	if n := len(sc.DetailHosts); n > 0 {
		p = baseURL(sc.DetailHosts[id%n]) + p
	}
	return p
}

// baseURL is the URL of the server at host, "host:port" (plain HTTP) or
// one that names its scheme ("https://host:port").
func baseURL(host string) string {
	if strings.Contains(host, "://") {
		return host
	}
	return "http://" + host
}

func newDetail(id int) detail {
	return detail{
		ID:          id,
		Name:        "item-" + strconv.Itoa(id),
		Description: "Item number " + strconv.Itoa(id) + " of the politely mock API.",
		Price:       float64(id%1000) + 0.99,
		Tags:        []string{"mock", "group-" + strconv.Itoa(id%7)},
	}
}

// pad fills Padding from fill (a run of "x" at least size long) so that d
// encodes to about size bytes of JSON.
func (d *detail) pad(size int, fill string) {
	if size <= 0 {
		return
	}
	b, _ := json.Marshal(d) // a detail always encodes
	if n := size - len(b) - len(`,"padding":""`); n > 0 {
		d.Padding = fill[:min(n, len(fill))]
	}
}

// badRequest is a listing query the server cannot answer; its message names the parameter.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// page builds the listing page the request asks for, or a *badRequest. next is
// the absolute URL of the following page for the link and next_url styles, ""
// on the last page.
func (sc *Scenario) page(r *http.Request, attempt int) (body map[string]any, next string, bad *badRequest) {
	q := r.URL.Query()
	perPage := sc.PerPage
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > sc.MaxPerPage {
			return nil, "", &badRequest{fmt.Sprintf("per_page must be an integer from 1 to %d, got %q", sc.MaxPerPage, v)}
		}
		perPage = n
	}
	body = map[string]any{"per_page": perPage}
	var offset, pageNo int
	switch sc.Pagination {
	case PaginationOffset:
		n, bad := intParam(q, "offset", 0)
		if bad != nil {
			return nil, "", bad
		}
		offset = n
		body["offset"] = n
	case PaginationCursor:
		n, bad := decodeCursor(q.Get("cursor"))
		if bad != nil {
			return nil, "", bad
		}
		offset = n
	default: // page, link, next_url
		n, bad := intParam(q, "page", 1)
		if bad != nil {
			return nil, "", bad
		}
		pageNo = n
		offset = (min(n, sc.Items+2) - 1) * perPage // pages past the end are empty
		body["page"] = n
	}
	// With an overlap of k, the n-th page of page numbers and offsets starts
	// (n-1)*k items early and a cursor k before its page: items enter the
	// listing's head while it is paged, and every id is still listed.
	k := min(sc.PageOverlap, perPage-1)
	start := offset
	if k > 0 && offset > 0 {
		if sc.Pagination == PaginationCursor {
			start = offset - k
		} else {
			start = offset - offset/perPage*k
		}
	}
	start = min(start, sc.Items)
	end := min(sc.Items, start+perPage)
	items := make([]listItem, 0, max(0, end-start))
	for id := start + 1; id <= end; id++ {
		items = append(items, listItem{ID: id, Name: "item-" + strconv.Itoa(id), DetailPath: sc.DetailPath(id)})
	}
	if g := sc.PageGlitch; attempt <= g.Attempts && slices.Contains(g.Pages, offset/perPage+1) {
		if g.Kind == GlitchError || g.Kind == GlitchServerError {
			return map[string]any{"error": "upstream timed out; try again"}, "", nil
		}
		items = items[:0]
	}
	body["items"] = items
	if sc.AnnounceTotal {
		body["total"] = sc.Items
		if pageNo > 0 {
			body["total_pages"] = (sc.Items + perPage - 1) / perPage
		}
	}
	more := end < sc.Items
	if more && (sc.Pagination == PaginationLink || sc.Pagination == PaginationNextURL) {
		q.Set("page", strconv.Itoa(pageNo+1))
		next = (&url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
	}
	switch sc.Pagination {
	case PaginationCursor:
		body["next_cursor"] = ""
		if more {
			body["next_cursor"] = encodeCursor(end)
		}
	case PaginationNextURL:
		body["next"] = nil
		if more {
			body["next"] = next
		}
	}
	return body, next, nil
}

func intParam(q url.Values, name string, least int) (int, *badRequest) {
	v := q.Get(name)
	if v == "" {
		return least, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return 0, &badRequest{fmt.Sprintf("%s must be an integer >= %d, got %q", name, least, v)}
	}
	return n, nil
}

// Cursors are opaque to clients: "o" and the offset, base64url-encoded.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, *badRequest) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(c)
	s, ok := strings.CutPrefix(string(raw), "o")
	n, convErr := strconv.Atoi(s)
	if err != nil || !ok || convErr != nil || n < 0 || s != strconv.Itoa(n) {
		return 0, &badRequest{fmt.Sprintf("cursor %q is not one this server issued", c)}
	}
	return n, nil
}
