//go:build unix

package refusing

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAHeldPortRefusesConnectionsAndKeepsItsPortFromOtherServers(t *testing.T) {
	p, err := Hold()
	require.NoError(t, err)

	_, err = net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "a connection is refused, got %v", err)
	ln, err := net.Listen("tcp", p.Addr())
	if err == nil {
		_ = ln.Close()
	}
	assert.Error(t, err, "no server may listen on a held port")

	require.NoError(t, p.Close())
	ln, err = net.Listen("tcp", p.Addr())
	require.NoError(t, err, "the port is given back at Close")
	require.NoError(t, ln.Close())
}
