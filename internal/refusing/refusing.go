//go:build unix

// Package refusing holds a TCP port on 127.0.0.1 where every connection is
// refused, as on a host that is down, for tests and benchmarks. The port is
// bound and never listened on, so no server started while it is held can be
// given it: a server started and closed frees its port, which a later
// server (another test's, in a parallel package) may then be given.
package refusing

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Port is a held port on 127.0.0.1 that refuses every connection.
type Port struct {
	fd   int
	addr string
}

// Hold binds a free port on 127.0.0.1 without listening on it.
func Hold() (*Port, error) {
	syscall.ForkLock.RLock() // no child inherits the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("refusing: %w", err)
	}
	// Without SO_REUSEADDR: no other socket may bind the port while it is held.
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = syscall.Close(fd) // never bound
		return nil, fmt.Errorf("refusing: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	in4, ok := sa.(*syscall.SockaddrInet4)
	if err != nil || !ok {
		_ = syscall.Close(fd) // never used
		return nil, fmt.Errorf("refusing: bound to %T: %v", sa, err)
	}
	return &Port{fd: fd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))}, nil
}

// Addr is the held port's host:port.
func (p *Port) Addr() string { return p.addr }

// Close gives the port back.
func (p *Port) Close() error { return syscall.Close(p.fd) }
