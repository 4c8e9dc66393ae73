package crawl

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Template is a compiled URL template in the RFC 6570 style the spec uses for
// task.url: "{name}" inserts the item's field percent-encoded (only
// unreserved characters A-Z a-z 0-9 - . _ ~ stay as they are), "{+name}"
// inserts it as is (reserved characters such as / ? & = stay, existing %XX
// escapes are kept, anything else is encoded). Names are dot paths into the
// item ("{owner.id}"). Other RFC 6570 operators, lists and modifiers are
// rejected at parse time.
//
// Strings insert as they are; numbers without exponent and, for integers,
// without ".0" (json.Number keeps large IDs exact); booleans as true/false.
// A missing field, null, object or array is an error naming the field.
//
// A Template is immutable and safe for concurrent use; Expand allocates only
// the result.
type Template struct {
	raw     string
	parts   []templatePart
	literal int // bytes of literal text, to size the result
}

type templatePart struct {
	literal  string   // text copied as is, when field is nil
	field    *DotPath // the expression's name
	reserved bool     // "{+name}"
}

// TemplateError reports where a template is malformed.
type TemplateError struct {
	Template string
	Column   int // 1-based byte column in Template
	Msg      string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("template %q: column %d: %s", e.Template, e.Column, e.Msg)
}

// ParseTemplate compiles s once; errors are *TemplateError.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{raw: s}
	bad := func(i int, format string, args ...any) error {
		return &TemplateError{Template: s, Column: i + 1, Msg: fmt.Sprintf(format, args...)}
	}
	lit := 0 // start of the pending literal
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '}':
			return nil, bad(i, `"}" without a matching "{"`)
		case '{':
			end := strings.IndexAny(s[i+1:], "{}")
			if end < 0 || s[i+1+end] == '{' {
				return nil, bad(i, `"{" is not closed by "}"`)
			}
			end += i + 1
			if lit < i {
				t.parts = append(t.parts, templatePart{literal: s[lit:i]})
				t.literal += i - lit
			}
			part, err := parseExpression(s[i+1:end], func(off int, format string, args ...any) error {
				return bad(i+1+off, format, args...)
			})
			if err != nil {
				return nil, err
			}
			t.parts = append(t.parts, part)
			i, lit = end, end+1
		}
	}
	if lit < len(s) {
		t.parts = append(t.parts, templatePart{literal: s[lit:]})
		t.literal += len(s) - lit
	}
	return t, nil
}

// parseExpression compiles the text between braces; bad reports at an offset
// within expr.
func parseExpression(expr string, bad func(off int, format string, args ...any) error) (templatePart, error) {
	if expr == "" {
		return templatePart{}, bad(0, `empty expression "{}" (want {name} or {+name})`)
	}
	var part templatePart
	name, off := expr, 0
	switch expr[0] {
	case '+':
		part.reserved = true
		name, off = expr[1:], 1
	case '#', '.', '/', ';', '?', '&', '=', ',', '!', '@', '|':
		return templatePart{}, bad(0, "operator %q is not supported (want {name} or {+name})", expr[0])
	}
	if name == "" {
		return templatePart{}, bad(off, "missing field name after %q", expr[:off])
	}
	if j := strings.IndexAny(name, ",:* \t\r\n"); j >= 0 {
		what := map[byte]string{',': "lists of names", ':': "prefix modifiers", '*': "explode modifiers"}[name[j]]
		if what == "" {
			return templatePart{}, bad(off+j, "white space in field name")
		}
		return templatePart{}, bad(off+j, "%s (%q) are not supported", what, name[j])
	}
	p, err := ParseDotPath(name)
	if err != nil {
		return templatePart{}, bad(off, "field name %q has an empty part (names are separated by single dots)", name)
	}
	part.field = &p
	return part, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

// MarshalText renders the template as written, so a Config marshals readably.
func (t *Template) MarshalText() ([]byte, error) { return []byte(t.raw), nil }

// Expand fills the template from item, a decoded JSON value (usually a
// map[string]any).
func (t *Template) Expand(item any) (string, error) {
	var b strings.Builder
	b.Grow(t.literal + 16*(len(t.parts)))
	for _, p := range t.parts {
		if p.field == nil {
			b.WriteString(p.literal)
			continue
		}
		v, err := p.field.lookup(item, "the item")
		if err != nil {
			return "", fmt.Errorf("template %q: field %q: %w", t.raw, p.field.raw, err)
		}
		if err := writeValue(&b, v, p.reserved); err != nil {
			return "", fmt.Errorf("template %q: field %q: %w", t.raw, p.field.raw, err)
		}
	}
	return b.String(), nil
}

// Resolve expands the template for item and resolves the result against base
// (source.url), so "{+path}" with "/items/7" becomes an absolute URL. The
// result must be an http or https URL with a host.
func (t *Template) Resolve(base *url.URL, item any) (*url.URL, error) {
	s, err := t.Expand(item)
	if err != nil {
		return nil, err
	}
	return t.resolveExpanded(base, s)
}

// resolveExpanded is Resolve for s, the template expanded.
func (t *Template) resolveExpanded(base *url.URL, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("template %q: expanded to an invalid URL: %w", t.raw, err)
	}
	if base != nil {
		u = resolveReference(base, u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("template %q: expanded to %q, not an absolute http(s) URL", t.raw, u.Redacted())
	}
	return u, nil
}

// resolveReference is base.ResolveReference(ref) for ref a URL of its own
// (it may change it): a reference that is an absolute path without dot
// segments ("/items/7", most tasks' URLs) takes base's scheme, user and
// host in place, which is what ResolveReference makes of it, without its
// copy and its rebuilding of the path; any other goes through it.
func resolveReference(base, ref *url.URL) *url.URL {
	if ref.Scheme != "" || ref.Host != "" || ref.User != nil || ref.Opaque != "" {
		return base.ResolveReference(ref)
	}
	p := ref.EscapedPath()
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "/.") || p != ref.RawPath && ref.RawPath != "" {
		return base.ResolveReference(ref)
	}
	ref.Scheme, ref.User, ref.Host = base.Scheme, base.User, base.Host
	return ref
}

// checkScheme refuses a template that starts with a scheme other than
// http or https ("ftp://h/{id}"): it can never give a URL the crawl fetches.
// Anything that depends on the item's fields is left to Resolve.
func (t *Template) checkScheme() error {
	lit, _, _ := strings.Cut(t.raw, "{")
	i := strings.IndexAny(lit, ":/?#")
	if i <= 0 || lit[i] != ':' {
		return nil // relative, or the scheme comes from a field
	}
	if scheme := strings.ToLower(lit[:i]); scheme != "http" && scheme != "https" {
		return fmt.Errorf("template %q: scheme %q is not http or https", t.raw, lit[:i])
	}
	return nil
}

// writeValue appends v's text, escaped for a simple or reserved expansion.
func writeValue(b *strings.Builder, v any, reserved bool) error {
	switch x := v.(type) {
	case string:
		writeEscaped(b, x, reserved)
	case json.Number:
		writeEscaped(b, formatNumber(x), reserved)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Errorf("the number %v has no URL form", x)
		}
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	default:
		return fmt.Errorf("is %s, not a string or number", describeJSON(v))
	}
	return nil
}

// formatNumber renders a JSON number without exponent, and integers without
// a fraction: "7" stays exact however long it is, "7.0" and "7e0" become "7",
// "1.5e3" becomes "1500". Other forms go through float64, so an integer
// written with a fraction or exponent keeps 15-17 significant digits.
func formatNumber(n json.Number) string {
	s := string(n)
	if isDecimalInteger(s) {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s // beyond float64 (1e400): inserted as written
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func isDecimalInteger(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isJSONNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64, float32, int, int64, int32, uint, uint64, uint32:
		return true
	}
	return false
}

const upperHex = "0123456789ABCDEF"

// writeEscaped percent-encodes s byte by byte (UTF-8), keeping unreserved
// characters, and with reserved also reserved characters and %XX escapes.
// The bytes it keeps are copied a run at a time.
func writeEscaped(b *strings.Builder, s string, reserved bool) {
	keep := uint8(keepUnreserved)
	if reserved {
		keep |= keepReserved
	}
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && escapeKeep[s[j]]&keep != 0 {
			j++
		}
		b.WriteString(s[i:j])
		if j == len(s) {
			return
		}
		switch c := s[j]; {
		case reserved && c == '%' && j+2 < len(s) && isHex(s[j+1]) && isHex(s[j+2]):
			b.WriteString(s[j : j+3])
			i = j + 3
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
			i = j + 1
		}
	}
}

// What writeEscaped keeps of a byte: keepUnreserved always, keepReserved
// with reserved.
const (
	keepUnreserved = 1 << iota
	keepReserved
)

// escapeKeep is isUnreserved and isReserved of each byte.
var escapeKeep = func() (t [256]uint8) {
	for c := range 256 {
		if isUnreserved(byte(c)) {
			t[c] |= keepUnreserved
		}
		if isReserved(byte(c)) {
			t[c] |= keepReserved
		}
	}
	return t
}()

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isReserved reports RFC 3986 gen-delims and sub-delims.
func isReserved(c byte) bool {
	return strings.IndexByte(":/?#[]@!$&'()*+,;=", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
