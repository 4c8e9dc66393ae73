package crawl_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/politely/politely/crawl"
)

// A crawl of a two-item API: the listing, one request per item, JSON Lines
// out, and a summary. robots.txt is absent (404), so everything is allowed.
func ExampleRun() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/items":
			fmt.Fprint(w, `{"items": [{"id": 1}, {"id": 2}]}`)
		case "/items/1", "/items/2":
			fmt.Fprintf(w, `{"detail": %q}`, r.URL.Path)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	dir, err := os.MkdirTemp("", "crawl-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cfg, err := crawl.Parse("api.yaml", fmt.Appendf(nil, `
user_agent: "example/1.0"
source:
  url: %q
  pagination: {style: none}
  items_field: items
task:
  url: "/items/{id}"
output: %q
`, api.URL+"/items", filepath.Join(dir, "out.jsonl")))
	if err != nil {
		panic(err)
	}
	sum, err := crawl.Run(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	fmt.Printf("pages %d, items %d, succeeded %d, failed %d, requests %d\n",
		sum.Pages, sum.Items, sum.Succeeded, sum.Failed, sum.Requests)
	// Output:
	// pages 1, items 2, succeeded 2, failed 0, requests 4
}
