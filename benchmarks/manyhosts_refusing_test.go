//go:build unix

package benchmarks

import (
	"errors"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestARefusingHostRefusesConnectionsAndKeepsItsPortFromOtherServers(t *testing.T) {
	r, err := startRefusing()
	require.NoError(t, err)
	u, err := url.Parse(r.URL())
	require.NoError(t, err)

	_, err = net.DialTimeout("tcp", u.Host, 5*time.Second)
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "a connection is refused, got %v", err)
	ln, err := net.Listen("tcp", u.Host)
	if err == nil {
		_ = ln.Close()
	}
	assert.Error(t, err, "no server may listen on a refusing host's port while it is held")

	require.NoError(t, r.Close())
	ln, err = net.Listen("tcp", u.Host)
	require.NoError(t, err, "the port is given back at Close")
	require.NoError(t, ln.Close())
}
