package crawl

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeValidJSON decodes b, a text validJSON accepts, into the value
// encoding/json's Decoder with UseNumber gives for it (see decodeCheckedPage).
func decodeValidJSON(b []byte) any {
	v, _, _ := decodeCheckedPage(b, nil)
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

// decodeCheckedPage decodes b into the value encoding/json's Decoder with
// UseNumber gives for it: map[string]any, []any, string, json.Number, bool
// or nil, with the items as k says (every key when k is nil), and returns
// the text of the items' array (the last one read where items_field leads
// to more than one; nil when k is nil or the page has no array there). ok
// says that b is one JSON value with optional whitespace around it, exactly
// as validJSON does; when it is false, the value is to be dropped.
//
// Strings are unquoted as encoding/json unquotes them (a lone surrogate
// escape and each byte that is not UTF-8 become U+FFFD), a repeated key
// keeps its last value, and an empty array is an empty slice, not nil. It
// reads b once, checking it as it decodes it, in a byte loop without the
// scanner's call per byte that encoding/json makes twice (once to find the
// value's end, once to decode it): a listing page is decoded for every
// hundred or so items.
func decodeCheckedPage(b []byte, k *itemKeys) (v any, itemsText []byte, ok bool) {
	d := jsonDecoder{b: b, items: k}
	if k != nil {
		d.way, d.onWay = k.way, true
	}
	d.space()
	v = d.value(0)
	if d.bad || d.i != len(b) {
		return nil, nil, false
	}
	return v, d.itemsText, true
}

// jsonDecoder reads b from i. bad says that b is not valid JSON: it is set
// at the first byte that shows it, which also moves i to b's end, so that
// every loop ends.
type jsonDecoder struct {
	b    []byte
	i    int
	bad  bool
	keys map[string]string // the object keys decoded so far, so that items share theirs

	items     *itemKeys    // nil: every item decoded whole
	onWay     bool         // the value read next is on items_field's way...
	way       []string     // ...with these keys left of it
	itemsText []byte       // the items' array, read whole
	ones      []oneKeyItem // where the next items of one kept key are made (see newOne)
	onesMade  int          // the size of ones' block
}

// at is the byte at i, or 0 (never valid where a value or a delimiter is
// read) at b's end.
func (d *jsonDecoder) at() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// fail marks b as not valid JSON.
func (d *jsonDecoder) fail() {
	d.bad, d.i = true, len(d.b)
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

// value reads the value at i, at nesting depth, and the space after it.
func (d *jsonDecoder) value(depth int) any {
	var v any
	switch c := d.at(); {
	case c == '{':
		if depth >= maxJSONDepth {
			d.fail()
			return nil
		}
		v = d.object(depth + 1)
	case c == '[':
		if depth >= maxJSONDepth {
			d.fail()
			return nil
		}
		v = d.array(depth + 1)
	case c == '"':
		v = d.string()
	case c == 't':
		v = true
		d.literal("true")
	case c == 'f':
		v = false
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || isDigit(c):
		v = d.number()
	default:
		d.fail()
		return nil
	}
	d.space()
	return v
}

// object reads an object from its '{', whose members are at depth.
func (d *jsonDecoder) object(depth int) map[string]any {
	on, way := d.onWay, d.way
	d.onWay = false
	m := make(map[string]any)
	d.i++
	d.space()
	if d.at() == '}' {
		d.i++
		return m
	}
	for {
		if d.at() != '"' {
			d.fail()
			return m
		}
		k := d.key()
		d.space()
		if d.at() != ':' {
			d.fail()
			return m
		}
		d.i++
		d.space()
		if on && len(way) > 0 && k == way[0] {
			d.onWay, d.way = true, way[1:]
		}
		m[k] = d.value(depth)
		d.onWay = false
		switch d.at() {
		case '}':
			d.i++
			return m
		case ',':
			d.i++
			d.space()
		default:
			d.fail()
			return m
		}
	}
}

// array reads an array from its '[', whose elements are at depth.
func (d *jsonDecoder) array(depth int) []any {
	items := d.onWay && len(d.way) == 0
	d.onWay = false
	start := d.i
	a := make([]any, 0)
	d.i++
	d.space()
	if d.at() == ']' {
		d.i++
		if items {
			d.itemsText = d.b[start:d.i]
		}
		return a
	}
	for {
		if items && d.at() == '{' {
			a = append(a, d.item(depth))
		} else {
			a = append(a, d.value(depth))
		}
		switch d.at() {
		case ']':
			d.i++
			if items {
				d.itemsText = d.b[start:d.i]
			}
			return a
		case ',':
			d.i++
			d.space()
		default:
			d.fail()
			return a
		}
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
	if d.at() != ':' {
		d.fail()
		return "", false
	}
	d.i++
	d.space()
	if plain {
		return d.items.kept(string(raw))
	}
	k = unquoteJSON(raw)
	_, keep = d.items.kept(k)
	return k, keep
}

// members reads the members of the object whose '{' is at i, at depth,
// calling kept for each member the listing keeps (with d at its value,
// which kept reads) and passing over the others' values, and the space
// after the object.
func (d *jsonDecoder) members(depth int, kept func(k string)) {
	d.i++
	d.space()
	if d.at() == '}' {
		d.i++
		d.space()
		return
	}
	for {
		if d.at() != '"' {
			d.fail()
			return
		}
		if k, keep := d.member(); keep {
			kept(k)
		} else {
			d.skip(depth)
		}
		switch d.at() {
		case '}':
			d.i++
			d.space()
			return
		case ',':
			d.i++
			d.space()
		default:
			d.fail()
			return
		}
	}
}

// item reads an item's object, an element at depth, with only the keys of
// d.items.keep, and the space after it: a map, or a *oneKeyItem for one
// kept key. The other keys' values are checked and passed over, not
// decoded. An object without every kept key is read whole, for the error
// that names what it has.
func (d *jsonDecoder) item(depth int) any {
	if depth >= maxJSONDepth {
		d.fail()
		return nil
	}
	open := d.i
	if len(d.items.keep) == 1 {
		var one *oneKeyItem
		d.members(depth+1, func(k string) {
			v := d.value(depth + 1)
			if one == nil {
				one = d.newOne(k)
			}
			one.value = v // a repeated key keeps its last value
		})
		if one == nil && !d.bad {
			d.i = open
			return d.value(depth)
		}
		return one
	}
	m := make(map[string]any, len(d.items.keep))
	d.members(depth+1, func(k string) { m[k] = d.value(depth + 1) })
	if len(m) < len(d.items.keep) && !d.bad {
		d.i = open
		return d.value(depth)
	}
	return m
}

// newOne is a new item of the one kept key k, made in a block with the
// next items of the page (an allocation for a block, not for each item):
// the blocks double from 16 items to 64, so that a page of a few items
// makes few spare ones, and a page of many a few blocks. A block lives as
// long as any of its items, no longer than their page's items do.
func (d *jsonDecoder) newOne(k string) *oneKeyItem {
	if len(d.ones) == 0 {
		d.onesMade = min(64, max(16, 2*d.onesMade))
		d.ones = make([]oneKeyItem, d.onesMade)
	}
	one := &d.ones[0]
	d.ones = d.ones[1:]
	one.key = k
	return one
}

// skip checks and passes over the value at i, at depth, and the space after
// it.
func (d *jsonDecoder) skip(depth int) {
	v := jsonValidator{b: d.b, i: d.i}
	if !v.value(depth) {
		d.fail()
		return
	}
	d.i = v.i
	d.space()
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

// quoted reads a string from its opening quote and returns what is between
// its quotes, and whether that is its text as it is: no escape, and UTF-8.
// A string that is not valid JSON (a control byte, an unknown escape, no
// closing quote) fails d.
func (d *jsonDecoder) quoted() (raw []byte, plain bool) {
	b := d.b
	start := d.i + 1
	escaped, ascii := false, true
	i := start
	for {
		for i < len(b) && stringByte[b[i]] == plainByte {
			i++ // most of a string: the loop that costs, kept tight
		}
		if i >= len(b) {
			d.fail()
			return nil, false
		}
		switch stringByte[b[i]] {
		case quoteByte:
			d.i = i + 1
			raw = b[start:i]
			if escaped {
				return raw, false
			}
			return raw, ascii || utf8.Valid(raw)
		case controlByte:
			d.fail()
			return nil, false
		case notableByte:
			if b[i] >= utf8.RuneSelf {
				ascii = false
			}
			i++
		case backslashByte:
			escaped = true
			if i++; i >= len(b) {
				d.fail()
				return nil, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) || hex4(b[i+1:i+5]) < 0 {
					d.fail()
					return nil, false
				}
				i += 5
			default:
				d.fail()
				return nil, false
			}
		}
	}
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *jsonDecoder) number() json.Number {
	v := jsonValidator{b: d.b, i: d.i}
	if !v.number() {
		d.fail()
		return ""
	}
	start := d.i
	d.i = v.i
	return json.Number(d.b[start:d.i])
}

// literal reads true, false or null.
func (d *jsonDecoder) literal(word string) {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		d.fail()
		return
	}
	d.i += len(word)
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
