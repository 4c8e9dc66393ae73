package crawl

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeValidJSON decodes b, a text validJSON accepts, into the value
// encoding/json's Decoder with UseNumber gives for it: map[string]any,
// []any, string, json.Number, bool or nil. Strings are unquoted as
// encoding/json unquotes them (a lone surrogate escape and each byte that is
// not UTF-8 become U+FFFD), a repeated key keeps its last value, and an
// empty array is an empty slice, not nil. It reads b in one pass of a byte
// loop, without the scanner's call per byte that encoding/json makes twice
// (once to find the value's end, once to decode it): a listing page is
// decoded for every hundred or so items.
func decodeValidJSON(b []byte) any {
	v, _ := decodeValidPage(b, nil)
	return v
}

// itemKeys is what a listing page's items are decoded with when the crawl
// reads only some of their keys (a task's URL names them): the objects of
// the array at items_field keep only those keys, and the rest of the page is
// decoded whole.
type itemKeys struct {
	way  []string          // items_field's keys, from the body down
	keep map[string]string // the keys an item's object keeps, each its own value
	// only is keep's key when it has only one (most task URLs name one
	// field): each key of each item is compared with it, not looked up.
	only string
}

// kept reports whether an item's object keeps its key named key, and then
// returns keep's own string of it, which every item shares.
func (k *itemKeys) kept(key string) (string, bool) {
	if len(k.keep) == 1 {
		return k.only, key == k.only
	}
	kept, ok := k.keep[key]
	return kept, ok
}

// decodeValidPage is decodeValidJSON with the items as k says (every key
// when k is nil), and the text of the items' array (the last one read where
// items_field leads to more than one); nil when k is nil or the page has no
// array there.
func decodeValidPage(b []byte, k *itemKeys) (any, []byte) {
	d := jsonDecoder{b: b, items: k}
	if k != nil {
		d.way, d.onWay = k.way, true
	}
	d.space()
	return d.value(), d.itemsText
}

// jsonDecoder reads b, valid JSON, from i.
type jsonDecoder struct {
	b    []byte
	i    int
	keys map[string]string // the object keys decoded so far, so that items share theirs

	items     *itemKeys // nil: every item decoded whole
	onWay     bool      // the value read next is on items_field's way...
	way       []string  // ...with these keys left of it
	itemsText []byte    // the items' array, read whole
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value reads the value at i and the space after it.
func (d *jsonDecoder) value() any {
	var v any
	switch c := d.b[d.i]; c {
	case '{':
		v = d.object()
	case '[':
		v = d.array()
	case '"':
		v = d.string()
	case 't':
		v, d.i = true, d.i+len("true")
	case 'f':
		v, d.i = false, d.i+len("false")
	case 'n':
		d.i += len("null")
	default:
		v = d.number()
	}
	d.space()
	return v
}

func (d *jsonDecoder) object() map[string]any {
	on, way := d.onWay, d.way
	d.onWay = false
	m := make(map[string]any)
	d.i++
	d.space()
	if d.b[d.i] == '}' {
		d.i++
		return m
	}
	for {
		k := d.key()
		d.space()
		d.i++ // ':'
		d.space()
		if on && len(way) > 0 && k == way[0] {
			d.onWay, d.way = true, way[1:]
		}
		m[k] = d.value()
		d.onWay = false
		if d.b[d.i] == '}' {
			d.i++
			return m
		}
		d.i++ // ','
		d.space()
	}
}

func (d *jsonDecoder) array() []any {
	items := d.onWay && len(d.way) == 0
	d.onWay = false
	start := d.i
	a := make([]any, 0)
	d.i++
	d.space()
	if d.b[d.i] == ']' {
		d.i++
		if items {
			d.itemsText = d.b[start:d.i]
		}
		return a
	}
	for {
		if items && d.b[d.i] == '{' {
			a = append(a, d.item())
		} else {
			a = append(a, d.value())
		}
		if d.b[d.i] == ']' {
			d.i++
			if items {
				d.itemsText = d.b[start:d.i]
			}
			return a
		}
		d.i++ // ','
		d.space()
	}
}

// oneKeyItem is an item decoded with one kept key (the task URL of most
// crawls names one field): the object {key: value}, in 32 bytes where a
// map of one key takes over 300. DotPath's lookups read it as that object.
type oneKeyItem struct {
	key   string
	value any
}

// member reads an object member's key and the colon after it, leaving d at
// its value: the key, and whether the listing keeps it.
func (d *jsonDecoder) member() (k string, keep bool) {
	raw, plain := d.quoted()
	d.space()
	d.i++ // ':'
	d.space()
	if plain {
		return d.items.kept(string(raw))
	}
	k = unquoteJSON(raw)
	_, keep = d.items.kept(k)
	return k, keep
}

// item reads an item's object with only the keys of d.items.keep, and the
// space after it: a map, or a *oneKeyItem for one kept key. The other keys'
// values are passed over, not decoded. An object without every kept key is
// read whole, for the error that names what it has.
func (d *jsonDecoder) item() any {
	if len(d.items.keep) == 1 {
		open := d.i
		d.i++
		d.space()
		var one *oneKeyItem
		for d.b[d.i] != '}' {
			k, keep := d.member()
			if keep {
				v := d.value()
				if one == nil {
					one = &oneKeyItem{key: k}
				}
				one.value = v // a repeated key keeps its last value
			} else {
				d.skip()
			}
			if d.b[d.i] == ',' {
				d.i++
				d.space()
			}
		}
		if one == nil {
			d.i = open
			m := d.object()
			d.space()
			return m
		}
		d.i++
		d.space()
		return one
	}
	m := make(map[string]any, len(d.items.keep))
	open := d.i
	d.i++
	d.space()
	for d.b[d.i] != '}' {
		k, keep := d.member()
		if keep {
			m[k] = d.value()
		} else {
			d.skip()
		}
		if d.b[d.i] == ',' {
			d.i++
			d.space()
		}
	}
	if len(m) < len(d.items.keep) {
		d.i = open
		m = d.object()
	} else {
		d.i++
	}
	d.space()
	return m
}

// skip passes over the value at i, and the space after it.
func (d *jsonDecoder) skip() {
	depth := 0
	for {
		switch c := d.b[d.i]; {
		case c == '"':
			d.quoted()
		case c == '{' || c == '[':
			depth++
			d.i++
		case c == '}' || c == ']':
			depth--
			d.i++
		case depth == 0: // a number or a literal
			for d.i < len(d.b) && (isNumberByte(d.b[d.i]) || 'a' <= d.b[d.i] && d.b[d.i] <= 'z') {
				d.i++
			}
		default: // space, ',' or ':' within an array or object
			d.i++
		}
		if depth == 0 {
			d.space()
			return
		}
	}
}

// key reads an object's key: a string, the same string for the same plain
// key of every object of b.
func (d *jsonDecoder) key() string {
	raw, plain := d.quoted()
	if !plain {
		return unquoteJSON(raw)
	}
	if k, ok := d.keys[string(raw)]; ok {
		return k
	}
	if d.keys == nil {
		d.keys = make(map[string]string)
	}
	k := string(raw)
	d.keys[k] = k
	return k
}

func (d *jsonDecoder) string() string {
	raw, plain := d.quoted()
	if plain {
		return string(raw)
	}
	return unquoteJSON(raw)
}

// quoted reads a string and returns what is between its quotes, and whether
// that is its text as it is: no escape, and UTF-8.
func (d *jsonDecoder) quoted() ([]byte, bool) {
	start := d.i + 1
	plain := true
	i := start
	for ; d.b[i] != '"'; i++ {
		switch c := d.b[i]; {
		case c == '\\':
			plain = false
			i++ // the escaped byte; a \u's hex digits are no quote
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	d.i = i + 1
	raw := d.b[start:i]
	if !plain && !hasEscape(raw) && utf8.Valid(raw) {
		plain = true
	}
	return raw, plain
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func (d *jsonDecoder) number() json.Number {
	start := d.i
	for d.i < len(d.b) && isNumberByte(d.b[d.i]) {
		d.i++
	}
	return json.Number(d.b[start:d.i])
}

// isNumberByte reports whether c may be part of a number.
func isNumberByte(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// unquoteJSON is the text of a valid string's contents s, as encoding/json
// unquotes it: escapes decoded, a surrogate escape that is not half of a
// pair and each byte that is not UTF-8 replaced by U+FFFD.
func unquoteJSON(s []byte) string {
	out := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			r++
			switch s[r] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(s[r+1 : r+5])
				r += 5
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:r+6])); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							r += 6
							continue
						}
					}
					rr = utf8.RuneError
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // '"', '\\', '/'
				out = append(out, s[r])
			}
			r++
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			out = utf8.AppendRune(out, rr)
			r += size
		}
	}
	return string(out)
}
