package crawl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
)

// Headers maps canonical header names to values, sent with every request
// to Config.HeaderHosts (see HeaderHosts).
//
// In the file, a value may hold ${NAME}: Parse replaces it with the
// environment variable NAME (letters, digits, _), and a variable that is not
// set is an error naming the header and the variable. "$$" is a literal "$"
// (write "$${X}" for the text "${X}"); a "$" followed by anything else stays.
//
// Values often hold secrets (API tokens): every printed form of Headers
// (fmt verbs, String, JSON) shows the names only, and no error shows a
// value. Use HTTPHeader to send them.
type Headers map[string]string

// HTTPHeader returns a new http.Header holding the headers.
func (h Headers) HTTPHeader() http.Header {
	hh := make(http.Header, len(h))
	for k, v := range h {
		hh[k] = []string{v}
	}
	return hh
}

// String lists the header names with their values redacted, sorted.
func (h Headers) String() string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k+": [redacted]")
	}
	sort.Strings(names)
	return "{" + strings.Join(names, ", ") + "}"
}

// Format prints String for every verb, so no verb (%v, %#v, %d…) prints a value.
func (h Headers) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(h.String())) }

// MarshalJSON writes the names with redacted values (for logs of a Config).
func (h Headers) MarshalJSON() ([]byte, error) {
	red := make(map[string]string, len(h))
	for k := range h {
		red[k] = "[redacted]"
	}
	return json.Marshal(red)
}

// headers validates header names and expands ${NAME} in values. Errors name
// the header and the variable, never the value.
func (b *builder) headers(raw map[string]string) Headers {
	if len(raw) == 0 {
		return nil
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	h := make(Headers, len(raw))
	for _, name := range names {
		key := "headers." + name
		if !validHeaderName(name) {
			b.fail(key, "not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)")
			continue
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		switch canon {
		case "User-Agent":
			b.fail(key, "set user_agent instead")
			continue
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			b.fail(key, "set by the HTTP client, cannot be configured")
			continue
		}
		if _, dup := h[canon]; dup {
			b.fail(key, "given twice (header names ignore case)")
			continue
		}
		v, err := expandEnv(raw[name], b.lookupEnv)
		if err != nil {
			b.fail(key, "%v", err)
			continue
		}
		if !validHeaderValue(v) {
			b.fail(key, "the value holds a control character (after ${NAME} expansion)")
			continue
		}
		h[canon] = v
	}
	return h
}

// expandEnv replaces ${NAME} in s with lookup(NAME). "$$" is a literal "$"
// (so "$${X}" is the text "${X}"); a "$" not followed by "{" or "$" is kept.
// NAME is letters, digits and underscores, not starting with a digit.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '$':
			b.WriteByte(s[i])
		case strings.HasPrefix(s[i:], "$$"):
			b.WriteByte('$')
			i++
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf(`"${" at byte %d of the value is not closed by "}"`, i+1)
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return "", fmt.Errorf(`"${" at byte %d of the value: want a variable name of letters, digits and _`, i+1)
			}
			v, ok := lookup(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

func validEnvName(name string) bool {
	if name == "" || '0' <= name[0] && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validHeaderName reports an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters (CR and LF would split the
// header); tab is allowed.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
