package benchmarks

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/politely/politely/mockapi"
)

// hostServer is a detail host of the many-host scenario.
type hostServer interface {
	URL() string
	Stats() mockapi.Stats
	Close() error
}

// dyingHost is a mock server behind a front that passes its requests on
// until dies, then leaves every request hanging until the client gives up
// (robots.txt too), as a host that stops answering does.
type dyingHost struct {
	*mockapi.Server
	front *http.Server
	ln    net.Listener
	proxy *httputil.ReverseProxy
	dies  time.Time
}

// startDying puts a front before s that passes requests on for after, then
// hangs them.
func startDying(s *mockapi.Server, after time.Duration) (*dyingHost, error) {
	target, err := url.Parse(s.URL())
	if err != nil {
		return nil, fmt.Errorf("benchmarks: %s: dying host: %w", ManyHostsName, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("benchmarks: %s: dying host: %w", ManyHostsName, err)
	}
	d := &dyingHost{Server: s, ln: ln, proxy: httputil.NewSingleHostReverseProxy(target), dies: time.Now().Add(after)}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxIdleConns
	d.proxy.Transport = tr
	d.proxy.ErrorLog = nil
	d.front = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.front.Serve(ln) }() // ends at Close
	return d, nil
}

func (d *dyingHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if time.Now().Before(d.dies) {
		d.proxy.ServeHTTP(w, r)
		return
	}
	<-r.Context().Done() // the client gave up, or the front closed
}

// URL is the front's.
func (d *dyingHost) URL() string { return "http://" + d.ln.Addr().String() }

// Close closes the front, then the server behind it.
func (d *dyingHost) Close() error {
	err := d.front.Close()
	d.proxy.Transport.(*http.Transport).CloseIdleConnections()
	if cerr := d.Server.Close(); err == nil {
		err = cerr
	}
	return err
}
