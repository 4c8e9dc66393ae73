package crawl

import (
	"iter"
	"net/http"
	"strings"
)

// nextLink returns the target of the first Link header entry whose rel
// includes "next" (RFC 8288: `<https://…?page=2>; rel="next"`), or "".
// Several entries may share one header line, separated by commas outside
// the angle brackets and quotes.
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for v != "" {
			target, params, rest := splitLink(v)
			v = rest
			if target != "" && relHasNext(params) {
				return target
			}
		}
	}
	return ""
}

// splitLink takes one link-value off the front of s: its target, its
// parameters' text, and the rest of s after the comma that ends it.
func splitLink(s string) (target, params, rest string) {
	s = strings.TrimLeft(s, " \t,")
	if !strings.HasPrefix(s, "<") {
		// Not a link-value: skip to the next comma outside quotes.
		end := endOfValue(s)
		return "", "", s[end:]
	}
	close := strings.IndexByte(s, '>')
	if close < 0 {
		return "", "", ""
	}
	target = strings.TrimSpace(s[1:close])
	s = s[close+1:]
	end := endOfValue(s)
	return target, s[:end], s[end:]
}

// endOfValue is the index of the first comma of s outside a quoted string,
// or len(s).
func endOfValue(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return i
		}
	}
	return len(s)
}

// relHasNext reports whether the first rel parameter of params
// (`; rel="next last"; title=…`) lists the relation type "next". RFC 8288
// section 3.3: a rel after the first is ignored.
func relHasNext(params string) bool {
	for name, value := range linkParams(params) {
		if !strings.EqualFold(name, "rel") {
			continue
		}
		for _, rel := range strings.Fields(value) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
		return false
	}
	return false
}

// linkParams yields the link-params of params, name and value (a quoted
// value unquoted), split at each ';' outside a quoted string.
func linkParams(params string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for params != "" {
			var p string
			p, params = cutParam(params)
			name, value, _ := strings.Cut(p, "=")
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if !yield(name, unquote(strings.TrimSpace(value))) {
				return
			}
		}
	}
}

// cutParam cuts s at its first ';' outside a quoted string.
func cutParam(s string) (param, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// unquote returns the text of a quoted-string (RFC 9110 section 5.6.4,
// backslash escapes removed), or v itself when it is not quoted.
func unquote(v string) string {
	if !strings.HasPrefix(v, `"`) {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && i+1 < len(v):
			i++
			b.WriteByte(v[i])
		case c == '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
