//go:build !unix

package refusing

import "net"

// Port is a port on 127.0.0.1 that a listener took and gave up: nothing
// listens on it, though a server started later may be given it (where a
// port cannot be held without listening).
type Port struct {
	addr string
}

// Hold listens on a free port on 127.0.0.1 and closes the listener.
func Hold() (*Port, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &Port{addr: ln.Addr().String()}, ln.Close()
}

// Addr is the given-up port's host:port.
func (p *Port) Addr() string { return p.addr }

// Close does nothing: the port was given up at the start.
func (p *Port) Close() error { return nil }
