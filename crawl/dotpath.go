package crawl

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrNotFound is wrapped by a lookup error when a key or index is absent (as
// opposed to a value of the wrong kind on the way), so a paginator can treat
// a missing next_cursor as the last page.
var ErrNotFound = errors.New("not found")

// DotPath is a compiled path into a decoded JSON value: names separated by
// dots ("data.items", "meta.next"). A name that is a decimal number indexes
// an array ("results.0.id"). The zero value, from "", is the whole value.
// Keys that contain a dot cannot be reached.
//
// Values are what encoding/json decodes into an any: map[string]any, []any,
// string, json.Number or float64, bool and nil.
type DotPath struct {
	raw  string
	keys []string
}

// ParseDotPath compiles s once; the error names the column of an empty name.
func ParseDotPath(s string) (DotPath, error) {
	if s == "" {
		return DotPath{}, nil
	}
	keys := strings.Split(s, ".")
	col := 1
	for _, k := range keys {
		if k == "" {
			return DotPath{}, fmt.Errorf("dot path %q: empty name at column %d (names are separated by single dots)", s, col)
		}
		col += len(k) + 1
	}
	return DotPath{raw: s, keys: keys}, nil
}

// String returns the path as written.
func (p DotPath) String() string { return p.raw }

// MarshalText renders the path as written, so a Config marshals readably.
func (p DotPath) MarshalText() ([]byte, error) { return []byte(p.raw), nil }

// IsZero reports whether p is the empty path (the whole value).
func (p DotPath) IsZero() bool { return len(p.keys) == 0 }

// Lookup returns the value at p in v, a decoded JSON body. The error names
// the path and what was found instead; it wraps ErrNotFound when a key or
// index is absent.
func (p DotPath) Lookup(v any) (any, error) { return p.lookup(v, "the body") }

// LookupArray is Lookup for a value that must be an array (items_field).
func (p DotPath) LookupArray(v any) ([]any, error) {
	got, err := p.Lookup(v)
	if err != nil {
		return nil, err
	}
	a, ok := got.([]any)
	if !ok {
		return nil, fmt.Errorf("dot path %q: want an array, found %s", p.raw, describeJSON(got))
	}
	return a, nil
}

// LookupText is Lookup for a value used as text, such as a cursor_field or
// next_field value: a string as is, a number as a template would insert it
// (no exponent, no ".0"), null as "". Other kinds are an error; a missing
// key wraps ErrNotFound, as with Lookup.
func (p DotPath) LookupText(v any) (string, error) {
	got, err := p.Lookup(v)
	if err != nil {
		return "", err
	}
	switch x := got.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	var b strings.Builder
	if err := writeValue(&b, got, true); err != nil {
		return "", fmt.Errorf("dot path %q: want a string or number, found %s", p.raw, describeJSON(got))
	}
	return b.String(), nil
}

// lookup walks v; root names v in errors ("the body", "the item").
func (p DotPath) lookup(v any, root string) (any, error) {
	cur := v
	for i, k := range p.keys {
		switch c := cur.(type) {
		case *oneKeyItem:
			if k != c.key {
				return nil, &lookupError{path: p.raw, at: p.at(i, root), msg: fmt.Sprintf("has no key %q (keys: %s)", k, c.key), notFound: true}
			}
			cur = c.value
		case map[string]any:
			next, ok := c[k]
			if !ok {
				return nil, &lookupError{path: p.raw, at: p.at(i, root), msg: fmt.Sprintf("has no key %q (%s)", k, keyList(c)), notFound: true}
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 {
				return nil, &lookupError{path: p.raw, at: p.at(i, root), msg: fmt.Sprintf("is an array; %q is not an index", k)}
			}
			if n >= len(c) {
				return nil, &lookupError{path: p.raw, at: p.at(i, root), msg: fmt.Sprintf("has %d elements, no index %d", len(c), n), notFound: true}
			}
			cur = c[n]
		default:
			return nil, &lookupError{path: p.raw, at: p.at(i, root), msg: fmt.Sprintf("is %s, not an object", describeJSON(cur))}
		}
	}
	return cur, nil
}

// at names the value reached after the first i keys.
func (p DotPath) at(i int, root string) string {
	if i == 0 {
		return root
	}
	return strconv.Quote(strings.Join(p.keys[:i], "."))
}

type lookupError struct {
	path, at, msg string
	notFound      bool
}

func (e *lookupError) Error() string {
	return fmt.Sprintf("dot path %q: %s %s", e.path, e.at, e.msg)
}

func (e *lookupError) Unwrap() error {
	if e.notFound {
		return ErrNotFound
	}
	return nil
}

// keyList lists up to 8 of m's keys, sorted, for an error message.
func keyList(m map[string]any) string {
	if len(m) == 0 {
		return "it is empty"
	}
	const show = 8
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	more := ""
	if len(keys) > show {
		more = fmt.Sprintf(", … %d more", len(keys)-show)
		keys = keys[:show]
	}
	return "keys: " + strings.Join(keys, ", ") + more
}

// describeJSON names the kind of a decoded JSON value for error messages,
// without its content (bodies may hold anything).
func describeJSON(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any, *oneKeyItem:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		if isJSONNumber(v) {
			return "a number"
		}
		return fmt.Sprintf("a %T", v)
	}
}
