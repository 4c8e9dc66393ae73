package crawl

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/politely/politely/transport"
)

// HeaderHosts are the hosts that get the config's headers (key
// header_hosts), as "host:port" keys in the form of transport.HostKey
// (lower case, no trailing dot, the scheme's default port made explicit).
// An entry written without a port stands for the host on ports 80 and 443.
// The default is source.url's host. Every other host, and every robots.txt
// request, gets User-Agent and Accept only.
type HeaderHosts []string

// Trusts reports whether u's host gets the configured headers.
func (h HeaderHosts) Trusts(u *url.URL) bool {
	return slices.Contains(h, hostKey(u))
}

// hostKey is u's transport.HostKey: the key the limiter and header_hosts
// share.
func hostKey(u *url.URL) string { return transport.HostKey(&http.Request{URL: u}) }

// headerHosts validates header_hosts; nil (left out) is source.url's host.
func (b *builder) headerHosts(raw []string, src *url.URL) HeaderHosts {
	const key = "header_hosts"
	if raw == nil {
		if src == nil {
			return nil
		}
		return HeaderHosts{hostKey(src)}
	}
	var h HeaderHosts
	for _, entry := range raw {
		keys, ok := headerHostKeys(entry)
		if !ok {
			b.fail(key, `%q is not a host or host:port (e.g. "api.example.com" or "127.0.0.1:8080", no scheme or path)`, entry)
			continue
		}
		for _, k := range keys {
			if !slices.Contains(h, k) {
				h = append(h, k)
			}
		}
	}
	return h
}

// headerHostKeys turns a header_hosts entry into the host keys it stands
// for: one with a port, two (80 and 443) without.
func headerHostKeys(entry string) ([]string, bool) {
	if entry == "" || strings.ContainsAny(entry, "/?#@ \t\\") {
		return nil, false
	}
	u, err := url.Parse("http://" + entry)
	if err != nil || u.Host != entry || u.Hostname() == "" {
		return nil, false
	}
	if port := u.Port(); port != "" {
		return []string{hostKey(u)}, true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	return []string{net.JoinHostPort(host, "80"), net.JoinHostPort(host, "443")}, true
}
