package crawl

// maxJSONDepth is the deepest nesting of arrays and objects that
// encoding/json accepts.
const maxJSONDepth = 10000

// validJSON reports whether b is one JSON value with optional whitespace
// around it, exactly as json.Valid does (bytes that are not UTF-8 are
// accepted inside strings, and nesting deeper than encoding/json's limit is
// not), in one byte loop instead of the scanner's call per byte: a task's
// answer is checked before its line is written.
func validJSON(b []byte) bool {
	_, _, ok := scanJSON(b)
	return ok
}

// scanJSON is validJSON that also returns the value without the whitespace
// around it, and whether that value is plain: ASCII without
// whitespace between its tokens, without \u escapes and without <, > or &,
// so that it is already what json.Marshal writes for it as a
// json.RawMessage and holds nothing the output line replaces (see rawJSON).
func scanJSON(b []byte) (value []byte, plain, ok bool) {
	v := jsonValidator{b: b}
	v.space()
	start := v.i
	v.spaced = false
	if !v.value(0) {
		return nil, false, false
	}
	end, plain := v.i, !v.spaced && !v.notable
	v.space()
	if v.i != len(b) {
		return nil, false, false
	}
	return b[start:end], plain, true
}

// jsonValidator reads b from i. spaced and notable say whether it skipped
// whitespace, and whether it read a string holding a byte from 0x80, <, >, &
// or a \u escape (see scanJSON).
type jsonValidator struct {
	b       []byte
	i       int
	spaced  bool
	notable bool
}

func (v *jsonValidator) space() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
			v.spaced = true
		default:
			return
		}
	}
}

// value reads one value at nesting depth.
func (v *jsonValidator) value(depth int) bool {
	if v.i >= len(v.b) {
		return false
	}
	switch c := v.b[v.i]; {
	case c == '{':
		return depth < maxJSONDepth && v.object(depth+1)
	case c == '[':
		return depth < maxJSONDepth && v.array(depth+1)
	case c == '"':
		return v.string()
	case c == '-' || '0' <= c && c <= '9':
		return v.number()
	case c == 't':
		return v.literal("true")
	case c == 'f':
		return v.literal("false")
	case c == 'n':
		return v.literal("null")
	}
	return false
}

// object reads an object from its '{', whose members are at depth.
func (v *jsonValidator) object(depth int) bool {
	v.i++
	v.space()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
		return true
	}
	for {
		if v.i >= len(v.b) || v.b[v.i] != '"' || !v.string() {
			return false
		}
		v.space()
		if v.i >= len(v.b) || v.b[v.i] != ':' {
			return false
		}
		v.i++
		v.space()
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case '}':
			v.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array from its '[', whose elements are at depth.
func (v *jsonValidator) array(depth int) bool {
	v.i++
	v.space()
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
		return true
	}
	for {
		if !v.value(depth) {
			return false
		}
		v.space()
		if v.i >= len(v.b) {
			return false
		}
		switch v.b[v.i] {
		case ',':
			v.i++
			v.space()
		case ']':
			v.i++
			return true
		default:
			return false
		}
	}
}

// string reads a string from its opening quote.
func (v *jsonValidator) string() bool {
	b := v.b
	for i := v.i + 1; i < len(b); i++ {
		for stringByte[b[i]] == plainByte {
			// Most of a string: the loop that costs, kept tight.
			if i++; i == len(b) {
				return false
			}
		}
		switch stringByte[b[i]] {
		case quoteByte:
			v.i = i + 1
			return true
		case controlByte:
			return false
		case notableByte:
			v.notable = true
		case backslashByte:
			i++
			if i >= len(b) {
				return false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || hex4(b[i+1:i+5]) < 0 {
					return false
				}
				v.notable = true
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

// What a byte inside a string is to jsonValidator.string.
const (
	plainByte     = iota
	quoteByte     // the closing quote
	backslashByte // an escape's start
	controlByte   // below 0x20: not allowed
	notableByte   // <, >, & or from 0x80 (see scanJSON)
)

// stringByte is what each byte is inside a string.
var stringByte = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = controlByte
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = notableByte
	}
	t['<'], t['>'], t['&'] = notableByte, notableByte, notableByte
	t['"'], t['\\'] = quoteByte, backslashByte
	return t
}()

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *jsonValidator) number() bool {
	b, i := v.b, v.i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return false
		}
		i = digits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		i = digits(b, i)
	}
	v.i = i
	return true
}

// digits is the index after the digits of b from i.
func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// literal reads true, false or null.
func (v *jsonValidator) literal(word string) bool {
	if len(v.b)-v.i < len(word) || string(v.b[v.i:v.i+len(word)]) != word {
		return false
	}
	v.i += len(word)
	return true
}
