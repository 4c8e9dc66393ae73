package benchmarks

import (
	"fmt"
	"io"
	"log"
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
	tls   bool // the front serves HTTPS
}

// startDying puts a front before s that passes requests on for after, then
// hangs them; with cert, the front serves HTTPS with it as s does.
func startDying(s *mockapi.Server, after time.Duration, cert *mockapi.Cert) (*dyingHost, error) {
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
	d.proxy.ErrorLog = log.New(io.Discard, "", 0) // a request the crawl gave up on is no news
	d.front = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	if cert != nil {
		d.tls = true
		tr.TLSClientConfig = cert.ClientConfig()
		d.front.TLSConfig = cert.ServerConfig()
		go func() { _ = d.front.ServeTLS(ln, "", "") }() // ends at Close
		return d, nil
	}
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

// URL is the front's, of the scheme of the server behind it.
func (d *dyingHost) URL() string {
	if d.tls {
		return "https://" + d.ln.Addr().String()
	}
	return "http://" + d.ln.Addr().String()
}

// Close closes the front, then the server behind it.
func (d *dyingHost) Close() error {
	err := d.front.Close()
	d.proxy.Transport.(*http.Transport).CloseIdleConnections()
	if cerr := d.Server.Close(); err == nil {
		err = cerr
	}
	return err
}
