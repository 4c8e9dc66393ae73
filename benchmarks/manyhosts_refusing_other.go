//go:build !unix

package benchmarks

import (
	"fmt"

	"github.com/politely/politely/mockapi"
)

// refusingHost is a port on 127.0.0.1 that a server listened on and then
// gave up: nothing listens on it, though a server started later may be
// given it (where a port cannot be held without listening).
type refusingHost struct {
	url string
}

func startRefusing() (*refusingHost, error) {
	s, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Name: ManyHostsName + "-" + RoleRefusing, Items: 1}})
	if err != nil {
		return nil, fmt.Errorf("benchmarks: %s: refusing host: %w", ManyHostsName, err)
	}
	return &refusingHost{url: s.URL()}, s.Close()
}

// URL is the given-up port's.
func (r *refusingHost) URL() string { return r.url }

// Stats is empty: no request ever reaches it.
func (r *refusingHost) Stats() mockapi.Stats { return mockapi.Stats{} }

// Close does nothing: the port was given up at the start.
func (r *refusingHost) Close() error { return nil }
