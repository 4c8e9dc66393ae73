package benchmarks

import (
	"fmt"

	"github.com/politely/politely/internal/refusing"
	"github.com/politely/politely/mockapi"
)

// refusingHost is a host that is down: a port on 127.0.0.1 that refuses every
// connection, held until the run's end (see package refusing).
type refusingHost struct {
	*refusing.Port
}

func startRefusing() (*refusingHost, error) {
	p, err := refusing.Hold()
	if err != nil {
		return nil, fmt.Errorf("benchmarks: %s: refusing host: %w", ManyHostsName, err)
	}
	return &refusingHost{p}, nil
}

// URL is the held port's.
func (r *refusingHost) URL() string { return "http://" + r.Addr() }

// Stats is empty: no request ever reaches it.
func (r *refusingHost) Stats() mockapi.Stats { return mockapi.Stats{} }
