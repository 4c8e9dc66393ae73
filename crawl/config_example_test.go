package crawl_test

import (
	"errors"
	"fmt"

	"github.com/politely/politely/crawl"
)

func ExampleParse() {
	yaml := []byte(`user_agent: "acme-sync/1.2 (+mailto:ops@acme.example)"
source:
  url: "https://api.example.com/v1/items?per_page=100"
  pagination: {style: cursor, cursor_field: meta.next_cursor}
  items_field: data
task:
  url: "/v1/items/{id}"
headers:
  Authorization: "Bearer ${API_TOKEN}"
limits:
  rate: 20
  concurrency: {max: 32}
output: items.jsonl
`)
	env := func(name string) (string, bool) { return "t0ken", name == "API_TOKEN" }
	cfg, err := crawl.Parse("api.yaml", yaml, crawl.WithLookupEnv(env))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Source.Pagination.Style, cfg.Source.Pagination.Param, cfg.Source.Pagination.CursorField)
	fmt.Println(cfg.Limits.Rate, cfg.Limits.Burst, cfg.Limits.Concurrency, cfg.Limits.Timeout)
	fmt.Println(cfg.Headers) // values are never printed
	fmt.Println(cfg.FailedPath())
	// Output:
	// cursor cursor meta.next_cursor
	// 20 1 {auto 4 1 32 1024} 10s
	// {Authorization: [redacted]}
	// items.failed.jsonl
}

func ExampleConfigError() {
	_, err := crawl.Parse("api.yaml", []byte(`user_agent: x
source:
  url: https://api.example.com/items
  pagination:
    style: pages
limits:
  concurency: {max: 8}
`))
	fmt.Println(err)
	var ce *crawl.ConfigError
	if errors.As(err, &ce) {
		fmt.Println("exit 2:", ce.Line, ce.Key)
	}
	// Output:
	// api.yaml:7: limits.concurency: unknown key (did you mean "concurrency"?)
	// exit 2: 7 limits.concurency
}
