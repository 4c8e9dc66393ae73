package crawl

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretHeaders are the configured headers of the header tests.
const secretHeaders = "headers:\n  Authorization: Bearer ${TOKEN}\n  X-Api-Key: ${KEY}\n"

var secretEnv = map[string]string{"TOKEN": "tok-SECRET", "KEY": "key-SECRET"}

// carriesSecrets reports whether a request carried any configured header.
func carriesSecrets(s seen) bool {
	return s.Header.Get("Authorization") != "" || s.Header.Get("X-Api-Key") != ""
}

// TestRunSendsHeadersOnlyToHeaderHosts lists items whose tasks go to the
// API's own host, to another port (the "other" server), to the API's server
// under the name localhost (another host for the crawl), scheme-relative,
// and through redirects between them; it then reads what every server
// received.
func TestRunSendsHeadersOnlyToHeaderHosts(t *testing.T) {
	other := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		default:
			fmt.Fprint(w, `{"other":true}`)
		}
	})
	var api *recorder
	api = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		case "/items":
			fmt.Fprintf(w, `{"items":[{"p":"/own/1"},{"p":%q},{"p":%q},{"p":%q},{"p":"/to-other"},{"p":"/to-localhost"},{"p":"/to-own"}]}`,
				other.URL+"/abs/2", "//"+other.hostPort()+"/schemeless/3", api.localhostURL()+"/named/4")
		case "/to-other":
			http.Redirect(w, r, other.URL+"/redirected/5", http.StatusFound)
		case "/to-localhost":
			http.Redirect(w, r, api.localhostURL()+"/redirected/6", http.StatusMovedPermanently)
		case "/to-own":
			http.Redirect(w, r, "/own/7", http.StatusTemporaryRedirect)
		default:
			fmt.Fprint(w, `{"api":true}`)
		}
	})
	apiHost := api.hostPort()
	tests := []struct {
		name        string
		headerHosts string
		// trusted says whether a request to this Host (as the server saw it)
		// should carry the configured headers.
		trusted func(host string) bool
	}{
		{name: "default: source.url's host only", trusted: func(h string) bool { return h == apiHost }},
		{name: "listed hosts", headerHosts: fmt.Sprintf("header_hosts: [%q, %q]\n", apiHost, other.hostPort()),
			trusted: func(h string) bool { return h == apiHost || h == other.hostPort() }},
		{name: "none", headerHosts: "header_hosts: []\n", trusted: func(string) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[*recorder]int{api: len(api.requests()), other: len(other.requests())}
			cfg := testConfig(t, api.URL+"/items", "    style: none",
				"task:\n  url: \"{+p}\"\n"+secretHeaders+tt.headerHosts, secretEnv)

			sum, err := runTest(t, cfg)
			require.NoError(t, err)
			require.Equal(t, int64(7), sum.Succeeded, "failed: %v", readLines[failedLine](t, cfg.FailedPath()))

			var robots, checked int
			for _, rec := range []*recorder{api, other} {
				for _, s := range rec.requests()[before[rec]:] {
					checked++
					assert.Equal(t, "politely-test/1.0", s.Header.Get("User-Agent"), "%s%s", s.Host, s.Path)
					assert.Empty(t, s.Header.Get("Referer"), "no Referer to %s%s", s.Host, s.Path)
					if s.Path == "/robots.txt" {
						robots++
						assert.False(t, carriesSecrets(s), "robots.txt of %s got the headers", s.Host)
						assert.Contains(t, s.Header.Get("Accept"), "text/plain", "robots.txt of %s", s.Host)
						continue
					}
					assert.Equal(t, "application/json", s.Header.Get("Accept"), "%s%s", s.Host, s.Path)
					want := tt.trusted(s.Host)
					assert.Equal(t, want, carriesSecrets(s), "headers sent to %s%s", s.Host, s.Path)
					if want {
						assert.Equal(t, "Bearer tok-SECRET", s.Header.Get("Authorization"))
						assert.Equal(t, "key-SECRET", s.Header.Get("X-Api-Key"))
					}
				}
			}
			// 3 robots.txt (127.0.0.1 and localhost on the API's port, the
			// other port), the page, 7 tasks and 3 redirect hops.
			assert.Equal(t, 3, robots)
			assert.Equal(t, 14, checked)
			assert.Equal(t, int64(checked), sum.Requests, "every hop counts as a request")
		})
	}
}

func TestParseHeaderHosts(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		want  HeaderHosts
		trust []string // URLs that get the headers
		deny  []string // URLs that do not
	}{
		{name: "default is source.url's host and port", want: HeaderHosts{"127.0.0.1:8080"},
			trust: []string{"http://127.0.0.1:8080/x", "https://127.0.0.1:8080/"},
			deny:  []string{"http://127.0.0.1:8081/x", "http://localhost:8080/x", "http://127.0.0.1/x"}},
		{name: "without a port: ports 80 and 443", yaml: "header_hosts: [API.Example.com.]",
			want:  HeaderHosts{"api.example.com:80", "api.example.com:443"},
			trust: []string{"https://api.example.com/v1", "http://API.EXAMPLE.COM./v1", "http://api.example.com:443/"},
			deny:  []string{"https://api.example.com:8443/", "https://cdn.example.com/", "https://example.com/", "https://evil.api.example.com/"}},
		{name: "with a port and IPv6", yaml: `header_hosts: ["localhost:9000", "[::1]:9000"]`,
			want:  HeaderHosts{"localhost:9000", "[::1]:9000"},
			trust: []string{"http://localhost:9000/", "http://[::1]:9000/"},
			deny:  []string{"http://localhost:9001/", "http://127.0.0.1:9000/"}},
		{name: "empty: no host", yaml: "header_hosts: []", want: nil,
			deny: []string{"http://127.0.0.1:8080/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseTest(minimalYAML + tt.yaml + "\n")
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.HeaderHosts)
			for _, raw := range tt.trust {
				u, err := url.Parse(raw)
				require.NoError(t, err)
				assert.True(t, cfg.HeaderHosts.Trusts(u), raw)
			}
			for _, raw := range tt.deny {
				u, err := url.Parse(raw)
				require.NoError(t, err)
				assert.False(t, cfg.HeaderHosts.Trusts(u), raw)
			}
		})
	}
}

func TestParseRefusesBadHeaderHosts(t *testing.T) {
	for _, entry := range []string{"https://api.example.com", "api.example.com/v1", "user@host", "host:port", "", "a b"} {
		t.Run(entry, func(t *testing.T) {
			_, err := parseTest(minimalYAML + fmt.Sprintf("header_hosts: [%q]\n", entry))
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "api.yaml:7: header_hosts: "), err.Error())
		})
	}
}

func TestRunSendsNoHeadersToAListingPageOnAnotherHost(t *testing.T) {
	other := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"items":[{"id":2}]}`)
	})
	api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			http.NotFound(w, r)
		case "/items":
			w.Header().Set("Link", fmt.Sprintf(`<%s/page2>; rel="next"`, other.localhostURL()))
			fmt.Fprint(w, `{"items":[{"id":1}]}`)
		}
	})
	cfg := testConfig(t, api.URL+"/items", "    style: link", secretHeaders, secretEnv)

	sum, err := runTest(t, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(2), sum.Items)
	assert.Equal(t, []string{"/robots.txt", "/page2"}, other.paths())
	for _, s := range other.requests() {
		assert.False(t, carriesSecrets(s), "%s got the headers", s.Path)
	}
	for _, s := range api.requests() {
		assert.Equal(t, s.Path != "/robots.txt", carriesSecrets(s), s.Path)
	}
}
