package crawl_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/politely/politely/crawl"
)

func ExampleTemplate_Resolve() {
	tmpl, err := crawl.ParseTemplate("/users/{owner.login}/items/{id}?q={name}")
	if err != nil {
		fmt.Println(err)
		return
	}
	dec := json.NewDecoder(strings.NewReader(`{"id": 12345678901234567890, "name": "a&b", "owner": {"login": "ann"}}`))
	dec.UseNumber() // keeps large IDs exact
	var item any
	if err := dec.Decode(&item); err != nil {
		fmt.Println(err)
		return
	}
	base, _ := url.Parse("https://api.example.com/v1/items?page=3")
	u, err := tmpl.Resolve(base, item)
	fmt.Println(u, err)
	// Output: https://api.example.com/users/ann/items/12345678901234567890?q=a%26b <nil>
}
