package crawl

import (
	"encoding/json"
	"strconv"
)

// appendLine appends l to dst as one JSON line, byte for byte what
// json.Marshal writes for it with its answer, if any, as Data, newline
// included. A task's line (its answer, or a Data that is a
// json.RawMessage, valid JSON) is written without reflection, and without
// compacting an answer that rawJSON found plain; an item's goes through
// json.Marshal.
func (l outputLine) appendLine(dst []byte) ([]byte, error) {
	data, ok := l.answer, l.answer != nil
	if !ok {
		data, ok = l.Data.(json.RawMessage)
	}
	if !ok {
		b, err := json.Marshal(l)
		if err != nil {
			return dst, err
		}
		return append(append(dst, b...), '\n'), nil
	}
	dst = append(dst, `{"url":`...)
	dst = appendJSONString(dst, l.URL)
	if l.Status != 0 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(l.Status), 10)
	}
	dst = append(dst, `,"data":`...)
	switch {
	case data == nil:
		dst = append(dst, "null"...)
	case l.plain:
		dst = append(dst, data...)
	default:
		dst = appendCompactJSON(dst, data)
	}
	if l.FinalURL != "" {
		dst = append(dst, `,"final_url":`...)
		dst = appendJSONString(dst, l.FinalURL)
	}
	return append(dst, "}\n"...), nil
}

// appendJSONString appends s as json.Marshal quotes it: at once when it is
// printable ASCII that needs no escape (any URL's String), else through
// json.Marshal.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !quotedAsIs[s[i]] {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// quotedAsIs are the bytes appendJSONString copies as they are: printable
// ASCII but ", \, <, > and &.
var quotedAsIs = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['"'], t['\\'], t['<'], t['>'], t['&'] = false, false, false, false, false
	return t
}()

// appendCompactJSON appends the valid JSON text src as json.Marshal writes a
// json.RawMessage: without the whitespace between tokens, and with <, >, &,
// U+2028 and U+2029 escaped. src must be valid JSON (validJSON).
func appendCompactJSON(dst, src []byte) []byte {
	const hex = "0123456789abcdef"
	inString := false
	start := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			start = i + 1
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[i+2]&0xF])
			i += 2
			start = i + 1
		case inString:
			switch c {
			case '\\':
				i++ // the escaped character: ASCII in valid JSON
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}
