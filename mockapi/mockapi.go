// Package mockapi serves mock JSON APIs that behave like real ones under load, and counts what they received.
//
// A Scenario says how the API behaves; Preset names the ones the CLI and the
// benchmarks use. Start serves one and returns a Server with its URL and Stats;
// NewHandler gives the same API as an http.Handler.
//
// Endpoints: GET /items (the listing, paginated as Scenario.Pagination says;
// items carry id, name and detail_path), GET /items/{id} and
// /private/items/{id} (details), /robots.txt (disallows /private/), and
// /__stats (Stats as JSON; not counted).
//
// A request passes, in order: the header quota (403 or 429), the token bucket (429),
// the capacity (503 when slots and queue are full), the service latency, and
// the faults. robots.txt only reads the quotas, for its headers.
//
// The server runs in real time, but what is computed from time — quota
// windows and buckets, capacity schedules, the per-second series, Retry-After
// deadlines — reads Config.Now, so tests can drive it exactly.
package mockapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Config is a Scenario plus how to serve it. The zero value serves the zero
// Scenario on 127.0.0.1 at a free port.
type Config struct {
	Scenario Scenario
	// Addr is where Start listens. Default "127.0.0.1:0" (a free port).
	Addr string
	// ClientHeader names a request header that tells clients apart for
	// Stats.EarlyRequests (e.g. "X-Client-ID"); requests without it, and all
	// requests when it is empty, are keyed by remote IP.
	ClientHeader string
	// Now is the clock for everything computed from time. Default time.Now.
	Now func() time.Time
	// Handler, when set, is served by Start in place of a new one built
	// from the fields above (which are then ignored, Addr aside): another
	// Server's handler, to serve one API on several addresses, as a
	// server known under several host names is. Closing any of these
	// Servers closes the handler they share.
	Handler *Handler
	// TLS, when set, serves HTTPS with this certificate, HTTP/2 offered
	// (see Cert); nil serves plain HTTP/1.1.
	TLS *Cert
}

// closeTimeout bounds how long Close waits for connections to finish.
const closeTimeout = 5 * time.Second

// Server is a mock API listening on a TCP address. Close it when done.
type Server struct {
	h      *Handler
	ln     net.Listener
	tls    bool
	srv    *http.Server
	served chan error // Serve's result

	closeOnce sync.Once
	closeErr  error
}

// Start validates cfg and serves its scenario on cfg.Addr until Close.
func Start(cfg Config) (*Server, error) {
	h := cfg.Handler
	if h == nil {
		var err error
		if h, err = NewHandler(cfg); err != nil {
			return nil, err
		}
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mockapi: listen on %s: %w", addr, err)
	}
	s := &Server{
		h:      h,
		ln:     ln,
		tls:    cfg.TLS != nil,
		srv:    &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ConnContext: h.connContext},
		served: make(chan error, 1),
	}
	if cfg.TLS != nil {
		s.srv.TLSConfig = cfg.TLS.ServerConfig()
		go func() { s.served <- s.srv.ServeTLS(ln, "", "") }()
		return s, nil
	}
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is the server's base URL, e.g. "http://127.0.0.1:38411" ("https://"
// with Config.TLS), without a trailing slash.
func (s *Server) URL() string {
	if s.tls {
		return "https://" + s.ln.Addr().String()
	}
	return "http://" + s.ln.Addr().String()
}

// Handler is the server's handler, e.g. to mount the same API elsewhere.
func (s *Server) Handler() *Handler { return s.h }

// Stats returns a snapshot of the ground truth.
func (s *Server) Stats() Stats { return s.h.Stats() }

// Close releases held requests, stops accepting, waits up to 5 s for open
// requests to finish, then closes what is left. It returns when the serving
// goroutine has ended; later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.h.Close()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.closeErr = errors.Join(fmt.Errorf("mockapi: shut down %s: %w", s.URL(), err), s.srv.Close())
		}
		if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
			s.closeErr = errors.Join(s.closeErr, fmt.Errorf("mockapi: serve %s: %w", s.URL(), err))
		}
	})
	return s.closeErr
}
