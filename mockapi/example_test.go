package mockapi_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/politely/politely/mockapi"
)

// A listing of 3 items, one page, and the ground truth afterwards.
func ExampleStart() {
	s, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Items: 3, Pagination: mockapi.PaginationNextURL}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	resp, err := client.Get(s.URL() + "/items")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println(s.Stats().ByClass[mockapi.ClassListing], "listing request")
	// Output:
	// 200 {"items":[{"id":1,"name":"item-1","detail_path":"/items/1"},{"id":2,"name":"item-2","detail_path":"/items/2"},{"id":3,"name":"item-3","detail_path":"/items/3"}],"next":null,"page":1,"per_page":50}
	// 1 listing request
}

// Presets are what `politely mock --scenario NAME` serves.
func ExamplePreset() {
	sc, err := mockapi.Preset("capacity")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: optimum %.0f req/s\n", sc.Name, sc.Optimum())
	// Output: capacity: optimum 1600 req/s
}
