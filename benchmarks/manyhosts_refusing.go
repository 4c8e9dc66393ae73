//go:build unix

package benchmarks

import (
	"fmt"
	"strconv"
	"syscall"

	"github.com/politely/politely/mockapi"
)

// refusingHost holds a TCP port on 127.0.0.1 that is bound and never
// listened on: the kernel refuses every connection to it, as to a host that
// is down, and no server started while it is held can be given its port.
type refusingHost struct {
	fd   int
	port int
}

func startRefusing() (*refusingHost, error) {
	fail := func(err error) (*refusingHost, error) {
		return nil, fmt.Errorf("benchmarks: %s: refusing host: %w", ManyHostsName, err)
	}
	syscall.ForkLock.RLock() // no child inherits the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return fail(err)
	}
	// Without SO_REUSEADDR: no other socket may bind the port while it is held.
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = syscall.Close(fd) // never bound
		return fail(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		_ = syscall.Close(fd) // never used
		return fail(err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		_ = syscall.Close(fd) // never used
		return fail(fmt.Errorf("bound to %T", sa))
	}
	return &refusingHost{fd: fd, port: in4.Port}, nil
}

// URL is the held port's.
func (r *refusingHost) URL() string { return "http://127.0.0.1:" + strconv.Itoa(r.port) }

// Stats is empty: no request ever reaches it.
func (r *refusingHost) Stats() mockapi.Stats { return mockapi.Stats{} }

// Close gives the port back.
func (r *refusingHost) Close() error { return syscall.Close(r.fd) }
