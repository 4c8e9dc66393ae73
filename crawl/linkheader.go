package crawl

import (
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

// relHasNext reports whether params (`; rel="next last"; title=…`) has a rel
// parameter listing "next".
func relHasNext(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		name, value, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		for _, rel := range strings.Fields(value) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}
