package crawl

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file turns go.yaml.in/yaml/v3's errors, which name lines and Go types,
// into ConfigErrors that name lines and dotted keys. It indexes the document's
// keys by path (nodeIndex) and reads the schema from rawConfig's yaml tags, so
// the struct stays the one description of the file's keys.

// maxReported caps the errors translated from one decode, so a huge broken
// file costs time linear in its size.
const maxReported = 20

// parseDocument parses data, which must hold exactly one YAML document whose
// top level is a mapping, and returns that mapping.
func parseDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{File: name, Msg: "empty file (want a YAML mapping with user_agent, source and output)"}
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(name, err)
	default:
		return nil, &ConfigError{File: name, Line: extra.Line, Msg: `a second YAML document ("---"): a config file holds exactly one`}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	switch {
	case root.Kind == yaml.MappingNode:
		return root, nil
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		return nil, &ConfigError{File: name, Line: root.Line, Msg: "empty document (want a YAML mapping with user_agent, source and output)"}
	default:
		return nil, &ConfigError{File: name, Line: root.Line, Msg: fmt.Sprintf("the top level must be a mapping of keys (user_agent: …, source: …), not %s", describeNode(root, false))}
	}
}

// decodeStrict decodes data into rawConfig with unknown keys rejected, and
// indexes root's keys for the errors found later.
func decodeStrict(name string, data []byte, root *yaml.Node) (*rawConfig, *nodeIndex, error) {
	idx := newNodeIndex(root)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, nil, yamlError(name, err)
		}
		n := min(len(te.Errors), maxReported)
		errs := make([]error, 0, n+1)
		for _, msg := range te.Errors[:n] {
			errs = append(errs, idx.translate(name, msg))
		}
		if len(te.Errors) > n {
			errs = append(errs, &ConfigError{File: name, Msg: fmt.Sprintf("… and %d more errors", len(te.Errors)-n)})
		}
		return nil, nil, errors.Join(errs...)
	}
	if err := idx.checkWholeNumbers(name); err != nil {
		return nil, nil, err
	}
	return &raw, idx, nil
}

var reYAMLLine = regexp.MustCompile(`(?s)^(?:yaml: )?line (\d+): (.*)$`)

// yamlError converts a syntax error ("yaml: line 3: did not find expected
// key"); its text never holds a value from the file.
func yamlError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := reYAMLLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return &ConfigError{File: name, Line: line, Msg: msg, Err: err}
}

// nodeEntry is one key of the document with its value.
type nodeEntry struct {
	path, parent string
	key, value   *yaml.Node
	// typ is the Go type rawConfig decodes value into, and parentType that of
	// the mapping holding key (nil for keys rawConfig does not know). They
	// are found while walking the document, where a map key's end is known
	// even when the key holds dots (hosts.cdn.example.com.rate).
	typ, parentType reflect.Type
}

// nodeIndex lists the document's keys in order, with their dotted paths.
type nodeIndex struct {
	entries []nodeEntry
	byPath  map[string]int // first entry of each path
}

func newNodeIndex(root *yaml.Node) *nodeIndex {
	x := &nodeIndex{byPath: make(map[string]int)}
	x.walk(root, "", reflect.TypeFor[rawConfig]())
	return x
}

// walk indexes mapping m. Aliases are not followed (their target is indexed
// where it is written, so the lines still match), and a merge key's inline
// mappings are indexed as part of m.
func (x *nodeIndex) walk(m *yaml.Node, prefix string, t reflect.Type) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Tag == "!!merge" {
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, mv := range merged {
				if mv.Kind == yaml.MappingNode {
					x.walk(mv, prefix, t)
				}
			}
			continue
		}
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		if _, dup := x.byPath[path]; !dup {
			x.byPath[path] = len(x.entries)
		}
		typ := childType(t, k.Value)
		x.entries = append(x.entries, nodeEntry{path: path, parent: prefix, key: k, value: v, typ: typ, parentType: t})
		if v.Kind == yaml.MappingNode {
			x.walk(v, path, typ)
		}
	}
}

func (x *nodeIndex) has(path string) bool {
	_, ok := x.byPath[path]
	return ok
}

// line is the line of path's key, or of its nearest ancestor in the file
// (for a missing key), or 0.
func (x *nodeIndex) line(path string) int {
	for {
		if i, ok := x.byPath[path]; ok {
			return x.entries[i].key.Line
		}
		dot := strings.LastIndexByte(path, '.')
		if dot < 0 {
			return 0
		}
		path = path[:dot]
	}
}

var (
	reUnknownKey = regexp.MustCompile(`(?s)^field (.*) not found in type \S+$`)
	reDuplicate  = regexp.MustCompile(`(?s)^mapping key "(.*)" already defined at line (\d+)$`)
	reWrongType  = regexp.MustCompile("(?s)^cannot unmarshal (\\S+)(?: `(.*)`)? into \\S+$")
	reGoType     = regexp.MustCompile(` (?:in type|into) \S+$`)
)

// translate turns one of yaml's "line N: …" decode messages into a ConfigError.
func (x *nodeIndex) translate(file, msg string) *ConfigError {
	ce := &ConfigError{File: file, Msg: msg}
	if m := reYAMLLine.FindStringSubmatch(msg); m != nil {
		ce.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if m := reUnknownKey.FindStringSubmatch(msg); m != nil {
		ce.Key, ce.Msg = m[1], "unknown key"
		if e := x.findKey(ce.Line, m[1]); e != nil {
			ce.Key = e.path
			ce.Msg += keyHint(m[1], e.parentType)
		}
		return ce
	}
	if m := reDuplicate.FindStringSubmatch(msg); m != nil {
		ce.Key, ce.Msg = m[1], "given twice (first at line "+m[2]+")"
		if e := x.findKey(ce.Line, m[1]); e != nil {
			ce.Key = e.path
		}
		return ce
	}
	if m := reWrongType.FindStringSubmatch(msg); m != nil {
		ce.Msg = "wrong type"
		if e := x.findComplexKey(ce.Line, m[1]); e != nil {
			ce.Key, ce.Msg = e.parent, "keys must be plain names, not "+describeNode(e.key, true)
		} else if e := x.findValue(ce.Line, m[1], m[2]); e != nil {
			ce.Key = e.path
			ce.Msg = fmt.Sprintf("want %s, got %s", describeType(e.typ), describeNode(e.value, isSecret(e.path)))
		}
		return ce
	}
	ce.Msg = reGoType.ReplaceAllString(msg, "") // a message this code does not know yet
	return ce
}

// findKey finds the key named name written on line.
func (x *nodeIndex) findKey(line int, name string) *nodeEntry {
	for i := range x.entries {
		if e := &x.entries[i]; e.key.Line == line && e.key.Value == name {
			return e
		}
	}
	return nil
}

// findComplexKey finds a list or mapping used as a key on line.
func (x *nodeIndex) findComplexKey(line int, tag string) *nodeEntry {
	for i := range x.entries {
		if e := &x.entries[i]; e.key.Line == line && e.key.Kind != yaml.ScalarNode && e.key.ShortTag() == tag {
			return e
		}
	}
	return nil
}

// findValue finds the value on line that yaml reported with tag and shown
// (its text cut the way yaml cuts it: 7 bytes and "..." past 10). Several
// values can start on one line ("limits:" then "  timeout: {…}"): the one
// its key does not accept is the one yaml means.
func (x *nodeIndex) findValue(line int, tag, shown string) *nodeEntry {
	var first, match *nodeEntry
	for i := range x.entries {
		e := &x.entries[i]
		if e.value.Line != line {
			continue
		}
		if first == nil {
			first = e
		}
		v := e.value.Value
		if len(v) > 10 {
			v = v[:7] + "..."
		}
		if e.value.ShortTag() != tag || v != shown {
			continue
		}
		if !accepts(e.typ, e.value) {
			return e
		}
		if match == nil {
			match = e
		}
	}
	if match != nil {
		return match
	}
	return first
}

// accepts reports whether a key of type t takes n, as yaml decodes.
func accepts(t reflect.Type, n *yaml.Node) bool {
	if t == nil {
		return false
	}
	tag := n.ShortTag()
	if tag == "!!null" {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return n.Kind == yaml.MappingNode
	case reflect.String:
		return n.Kind == yaml.ScalarNode
	case reflect.Int, reflect.Float64:
		return tag == "!!int" || tag == "!!float"
	case reflect.Bool:
		return tag == "!!bool"
	default:
		return false
	}
}

// checkWholeNumbers reports fractions given for whole-number keys, which
// yaml would truncate silently (retries: 1.5 → 1).
func (x *nodeIndex) checkWholeNumbers(file string) error {
	var errs []error
	for _, e := range x.entries {
		if e.value.ShortTag() != "!!float" || len(errs) == maxReported {
			continue
		}
		if t := e.typ; t == nil || t.Kind() != reflect.Int {
			continue
		}
		if f, err := strconv.ParseFloat(e.value.Value, 64); err != nil || f != math.Trunc(f) {
			errs = append(errs, &ConfigError{File: file, Line: e.key.Line, Key: e.path,
				Msg: "want a whole number, got " + describeNode(e.value, false)})
		}
	}
	return errors.Join(errs...)
}

// keyHint suggests the known key closest to key in a mapping of type parent,
// or the place where key belongs ("rate" at the top level belongs in limits),
// or lists parent's keys.
func keyHint(key string, parent reflect.Type) string {
	known := knownKeys(parent)
	if len(known) == 0 {
		return ""
	}
	if s, ok := suggest(key, known); ok {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	if elsewhere := schemaPaths(reflect.TypeFor[rawConfig](), "", key); len(elsewhere) > 0 {
		return " (it belongs under " + strings.Join(elsewhere, " or ") + ")"
	}
	return " (known keys: " + strings.Join(known, ", ") + ")"
}

// schemaPaths lists the parents of every key named key in the struct type t
// and the structs below it; the top level is "the top level".
func schemaPaths(t reflect.Type, prefix, key string) []string {
	var found []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlKey(f)
		if name == key {
			found = append(found, cmp.Or(prefix, "the top level"))
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			found = append(found, schemaPaths(ft, strings.TrimPrefix(prefix+"."+name, "."), key)...)
		}
	}
	return found
}

func isSecret(path string) bool {
	return path == "headers" || strings.HasPrefix(path, "headers.")
}

var (
	durationType = reflect.TypeFor[yamlDuration]()
	sizeType     = reflect.TypeFor[yamlSize]()
)

// childType is the Go type a mapping of type t decodes its key into (pointers
// taken off), or nil: a struct's field, a map's element (map keys are free
// text, dots included).
func childType(t reflect.Type, key string) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		f, ok := fieldByKey(t, key)
		if !ok {
			return nil
		}
		t = f.Type
	case reflect.Map:
		t = t.Elem()
	default:
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// knownKeys lists the keys of a struct type in declaration order.
func knownKeys(t reflect.Type) []string {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, yamlKey(t.Field(i)))
	}
	return keys
}

// describeType says in a user's words what a key of type t takes.
func describeType(t reflect.Type) string {
	switch {
	case t == nil:
		return "another type"
	case t == durationType:
		return "a duration such as 250ms, 10s or 5m"
	case t == sizeType:
		return "a size such as 512KiB, 10MiB or 4096"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct:
		return "a mapping with keys " + strings.Join(knownKeys(t), ", ")
	case reflect.Map:
		return "a mapping of names to values"
	default:
		return "another type"
	}
}

// describeNode says what a YAML value is; secret hides a scalar's text.
func describeNode(n *yaml.Node, secret bool) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias (*" + n.Value + ")"
	}
	if secret {
		return "a value"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	switch n.ShortTag() {
	case "!!str":
		return strconv.Quote(v)
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return v
	case "!!null":
		return "null"
	default:
		return n.ShortTag() + " " + strconv.Quote(v)
	}
}
