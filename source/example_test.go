package source_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/politely/politely/source"
)

func ExampleRange() {
	src, err := source.Range(10, 20, 3)
	if err != nil {
		panic(err)
	}
	for it, err := range source.All(context.Background(), src) {
		if err != nil {
			panic(err)
		}
		fmt.Println(it.Value, it.Index, it.Count, it.Page, it.Next)
	}
	// Output:
	// 10 0 4 range:10 end
	// 13 1 4 range:10 end
	// 16 2 4 range:10 end
	// 19 3 4 range:10 end
}

// An API that pages by continuation token, read in two runs: the first stops
// after one page and keeps the cursor a checkpoint would store; the second
// resumes there.
func ExampleTokens() {
	pages := map[string]source.Page[string]{
		"":      {Items: []string{"ada", "grace"}, Next: "abc12"},
		"abc12": {Items: []string{"barbara"}, Next: "def34"},
		"def34": {Items: []string{"frances"}},
	}
	fetch := func(_ context.Context, token string) (source.Page[string], error) {
		return pages[token], nil
	}
	ctx := context.Background()

	first, _ := source.Tokens(fetch, source.WithMaxPages(1))
	var checkpoint source.Cursor
	for it, err := range source.All(ctx, first) {
		if err != nil {
			panic(err)
		}
		fmt.Println("run 1:", it.Value)
		checkpoint = it.Next
	}
	fmt.Println("checkpoint:", checkpoint)

	second, _ := source.Tokens(fetch, source.WithCursor(checkpoint))
	for it, err := range source.All(ctx, second) {
		if err != nil {
			panic(err)
		}
		fmt.Println("run 2:", it.Value, "page", it.Page)
	}
	// Output:
	// run 1: ada
	// run 1: grace
	// checkpoint: token:2:abc12
	// run 2: barbara page token:2:abc12
	// run 2: frances page token:3:def34
}

// A page-number API: the fetcher would GET ?page=N; an empty page ends.
func ExamplePageNumbers() {
	fetch := func(_ context.Context, page int) (source.Page[int], error) {
		if page > 3 {
			return source.Page[int]{}, nil
		}
		return source.Page[int]{Items: []int{page * 10, page*10 + 1}}, nil
	}
	src, _ := source.PageNumbers(fetch)
	for it, err := range source.All(context.Background(), src) {
		if err != nil {
			panic(err)
		}
		fmt.Print(it.Value, " ")
	}
	fmt.Println()
	// Output:
	// 10 11 20 21 30 31
}

// A next-link API whose last page links back to an earlier one: the source
// ends with ErrLoop instead of crawling forever.
func ExampleNextLinks() {
	pages := map[string]source.Page[string]{
		"https://api.example/items":         {Items: []string{"a"}, Next: "/items?after=a"},
		"https://api.example/items?after=a": {Items: []string{"b"}, Next: "/items"},
	}
	fetch := func(_ context.Context, url string) (source.Page[string], error) {
		return pages[url], nil
	}
	src, _ := source.NextLinks("https://api.example/items", fetch)
	for it, err := range source.All(context.Background(), src) {
		if errors.Is(err, source.ErrLoop) {
			fmt.Println("stopped:", err)
			break
		}
		fmt.Println(it.Value)
	}
	// Output:
	// a
	// b
	// stopped: page 3 (cursor link:3:https://api.example/items): source: cursor loop: it repeats page 1
}

func ExampleJSONLines() {
	input := strings.NewReader(`{"id": 1, "name": "ada"}
{"id": 2, "name": "grace"}

{"id": 3, "name": "barbara"}
`)
	type user struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	src, err := source.JSONLines[user](input)
	if err != nil {
		panic(err)
	}
	for it, err := range source.All(context.Background(), src) {
		if err != nil {
			panic(err)
		}
		fmt.Println(it.Value.ID, it.Value.Name, it.Page, it.Next)
	}
	// Output:
	// 1 ada line:1:0 line:2:25
	// 2 grace line:2:25 line:3:52
	// 3 barbara line:3:52 line:5:82
}

func ExampleSlice() {
	src, _ := source.Slice([]string{"a", "b", "c"}, source.WithGroup(2), source.WithCursor("index:1"))
	for it, err := range source.All(context.Background(), src) {
		if err != nil {
			panic(err)
		}
		fmt.Println(it.Value, it.Page, it.Next)
	}
	// Output:
	// b index:1 index:3
	// c index:1 index:3
}
