package crawl_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/politely/politely/crawl"
)

func ExampleDotPath_Lookup() {
	var body any
	_ = json.Unmarshal([]byte(`{"data": {"items": [{"id": 1}, {"id": 2}]}, "meta": {}}`), &body)

	items, _ := crawl.ParseDotPath("data.items")
	list, err := items.LookupArray(body)
	fmt.Println(len(list), err)

	next, _ := crawl.ParseDotPath("meta.next_cursor")
	_, err = next.Lookup(body)
	fmt.Println(err)
	fmt.Println(errors.Is(err, crawl.ErrNotFound)) // e.g. the last page
	// Output:
	// 2 <nil>
	// dot path "meta.next_cursor": "meta" has no key "next_cursor" (it is empty)
	// true
}
