package crawl

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
)

// replaceInvalidUTF8 returns b with each byte that is not part of a valid
// UTF-8 sequence replaced by r (as encoding/json decodes such bytes into
// U+FFFD), and how many bytes were replaced; b itself when it is valid.
// In a valid JSON text such bytes can only be inside strings, so the
// result is still valid JSON, and valid UTF-8 when r is.
func replaceInvalidUTF8(b []byte, r rune) ([]byte, int) {
	if utf8.Valid(b) {
		return b, 0
	}
	out := make([]byte, 0, len(b)+8)
	n := 0
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, r)
			n++
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out, n
}

// invalidMark returns a rune that does not occur in b, to stand for its
// invalid bytes while it is decoded, so that the items holding them can be
// told apart afterwards; ok is false if b holds every candidate. The
// candidates are Unicode noncharacters, which no text is meant to hold.
func invalidMark(b []byte) (rune, bool) {
	for r := rune(0xFDD0); r <= 0xFDEF; r++ {
		if !bytes.ContainsRune(b, r) {
			return r, true
		}
	}
	return 0, false
}

// unmark replaces mark with U+FFFD in every string and key of v, a value
// decoded from JSON, changing maps and slices in place; it returns the new
// value and how many marks it replaced.
func unmark(v any, mark rune) (any, int) {
	switch x := v.(type) {
	case string:
		s, n := unmarkString(x, mark)
		return s, n
	case []any:
		total := 0
		for i, e := range x {
			var n int
			x[i], n = unmark(e, mark)
			total += n
		}
		return x, total
	case *oneKeyItem:
		var n int
		x.value, n = unmark(x.value, mark)
		return x, n
	case map[string]any:
		total := 0
		for k, e := range x {
			e, n := unmark(e, mark)
			total += n
			k2, nk := unmarkString(k, mark)
			if nk > 0 {
				delete(x, k)
				total += nk
			}
			x[k2] = e
		}
		return x, total
	}
	return v, 0
}

func unmarkString(s string, mark rune) (string, int) {
	m := string(mark)
	n := strings.Count(s, m)
	if n == 0 {
		return s, 0
	}
	return strings.ReplaceAll(s, m, string(utf8.RuneError)), n
}

// decodeMarked decodes a listing page's body r as decodePage does with k;
// its invalid UTF-8 bytes decode to mark, which is 0 when the body is valid
// (see unmarkPage).
func decodeMarked(r response, k *itemKeys) (any, []byte, rune, error) {
	if utf8.Valid(r.body) {
		v, items, err := decodePage(r, k)
		return v, items, 0, err
	}
	mark, ok := invalidMark(r.body)
	if !ok {
		mark = utf8.RuneError // a hostile body holding every mark: replaced, but not told apart
	}
	r.body, _ = replaceInvalidUTF8(r.body, mark)
	v, items, err := decodePage(r, k)
	return v, items, mark, err
}

// unmarkPage replaces mark (from decodeMarked) with U+FFFD in a page's
// items and body, warning once for each item that held invalid UTF-8, and
// returns the body.
func (l *listing) unmarkPage(rawURL string, items []any, body any, mark rune) any {
	for i := range items {
		var n int
		if items[i], n = unmark(items[i], mark); n > 0 {
			l.log.Warn("an item holds invalid UTF-8: written with U+FFFD",
				zap.String("page", redact(rawURL)), zap.Int("index", i), zap.Int("bytes", n))
		}
	}
	body, _ = unmark(body, mark)
	return body
}

// replaceLoneSurrogates returns the JSON text b with each \u escape of a
// UTF-16 surrogate that is not part of a pair replaced by \ufffd (as
// encoding/json decodes it), and how many were replaced; b itself when it
// has none. Such an escape is valid JSON syntax but no character: a reader
// that turns strings into UTF-8 may reject it. b must be valid JSON, where a
// backslash only starts an escape inside a string.
func replaceLoneSurrogates(b []byte) ([]byte, int) {
	if !bytes.Contains(b, []byte(`\ud`)) && !bytes.Contains(b, []byte(`\uD`)) {
		return b, 0
	}
	var out []byte
	n, copied := 0, 0
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' || i+6 > len(b) {
			i++ // a two-byte escape such as \\ or \"
			continue
		}
		r := hex4(b[i+2 : i+6])
		switch {
		case r >= 0xD800 && r <= 0xDBFF && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' &&
			hex4(b[i+8:i+12]) >= 0xDC00 && hex4(b[i+8:i+12]) <= 0xDFFF:
			i += 11 // a pair: one character
		case r >= 0xD800 && r <= 0xDFFF:
			out = append(append(out, b[copied:i]...), `\ufffd`...)
			copied = i + 6
			n++
			i += 5
		default:
			i += 5
		}
	}
	if n == 0 {
		return b, 0
	}
	return append(out, b[copied:]...), n
}

// hex4 is the value of four hex digits, or -1.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}
