package transport

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses the subset of RFC 9651 structured fields (which extends
// RFC 8941) that the RateLimit and RateLimit-Policy headers use: a list of
// items, each a string, display string, token or integer, with parameters. A
// token followed by "=" is read as a dictionary member (key=value), so the
// dictionary form of older drafts ("limit=100, remaining=50, reset=5")
// parses too. Decimals, byte sequences, booleans and dates parse (a server
// may send them in parameters we do not read) but are not integers; inner
// lists are not used by these headers and are errors.

// sfMaxDigits is RFC 8941's limit on an sf-integer: 15 digits always fit an int64.
const sfMaxDigits = 15

// sfItem is one list member: its value (name) and its parameters.
type sfItem struct {
	key    string // dictionary key, "" for a plain list member
	str    string // the string or token value
	num    int64  // the integer value when isNum
	isNum  bool
	params []sfParam
}

// param returns the parameter key; RFC 8941: a repeated key's last value wins.
func (it sfItem) param(key string) (sfParam, bool) {
	for i := len(it.params) - 1; i >= 0; i-- {
		if it.params[i].key == key {
			return it.params[i], true
		}
	}
	return sfParam{}, false
}

// sfParam is a parameter: its key and, when it is an integer, its value. The
// headers read here use only integer parameters; others are kept as
// non-integers so that reading them as numbers fails.
type sfParam struct {
	key   string
	num   int64
	isNum bool
}

var errSFEmpty = errors.New("empty field")

// parseSFList parses value as a list. The error says where the value broke,
// never what it contained, so it is safe to log.
func parseSFList(value string) ([]sfItem, error) {
	p := sfParser{s: value}
	p.skipSpace()
	if p.done() {
		return nil, errSFEmpty
	}
	items := make([]sfItem, 0, 4)
	p.arena = make([]sfParam, 0, 8)
	for {
		it, err := p.member()
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", len(items)+1, err)
		}
		items = append(items, it)
		p.skipSpace()
		if p.done() {
			return items, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("member %d: unexpected character at offset %d", len(items), p.i)
		}
		p.i++
		p.skipSpace()
		if p.done() {
			return nil, fmt.Errorf("trailing comma at offset %d", p.i)
		}
	}
}

type sfParser struct {
	s     string
	i     int
	arena []sfParam // backs every item's params: one allocation for the field
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) skipSpace() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) member() (sfItem, error) {
	var it sfItem
	v, err := p.bareItem()
	if err != nil {
		return it, err
	}
	if !v.isNum && v.token && !p.done() && p.s[p.i] == '=' {
		p.i++
		it.key = v.str
		if v, err = p.bareItem(); err != nil {
			return it, fmt.Errorf("dictionary value: %w", err)
		}
	}
	it.str, it.num, it.isNum = v.str, v.num, v.isNum
	it.params, err = p.params()
	return it, err
}

func (p *sfParser) params() ([]sfParam, error) {
	start := len(p.arena)
	for !p.done() && p.s[p.i] == ';' {
		p.i++
		for !p.done() && p.s[p.i] == ' ' {
			p.i++
		}
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		val := sfParam{} // a bare key is boolean true, which is not an integer
		if !p.done() && p.s[p.i] == '=' {
			p.i++
			v, err := p.bareItem()
			if err != nil {
				return nil, fmt.Errorf("parameter value: %w", err)
			}
			val = sfParam{num: v.num, isNum: v.isNum}
		}
		val.key = key
		p.arena = append(p.arena, val)
	}
	if len(p.arena) == start {
		return nil, nil
	}
	return p.arena[start:len(p.arena):len(p.arena)], nil
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.done() || !(isLCAlpha(p.s[p.i]) || p.s[p.i] == '*') {
		return "", fmt.Errorf("parameter key expected at offset %d", p.i)
	}
	for !p.done() && (isLCAlpha(p.s[p.i]) || isDigit(p.s[p.i]) || strings.IndexByte("_-.*", p.s[p.i]) >= 0) {
		p.i++
	}
	return p.s[start:p.i], nil
}

type sfBare struct {
	str   string
	num   int64
	isNum bool
	token bool
}

func (p *sfParser) bareItem() (sfBare, error) {
	if p.done() {
		return sfBare{}, fmt.Errorf("value expected at offset %d", p.i)
	}
	switch c := p.s[p.i]; {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		s, err := p.str()
		return sfBare{str: s}, err
	case isAlpha(c) || c == '*':
		return sfBare{str: p.token(), token: true}, nil
	case c == ':':
		return sfBare{}, p.byteSequence()
	case c == '?':
		return sfBare{}, p.boolean()
	case c == '@':
		return sfBare{}, p.date()
	case c == '%':
		s, err := p.displayString()
		return sfBare{str: s}, err
	default:
		return sfBare{}, fmt.Errorf("unsupported value at offset %d", p.i)
	}
}

// number parses an sf-integer (isNum) or an sf-decimal (which no field here
// uses as a number, so its value is dropped).
func (p *sfParser) number() (sfBare, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for !p.done() && isDigit(p.s[p.i]) {
		p.i++
	}
	switch n := p.i - digits; {
	case n == 0:
		return sfBare{}, fmt.Errorf("digit expected at offset %d", p.i)
	case n > sfMaxDigits:
		return sfBare{}, fmt.Errorf("integer at offset %d has more than %d digits", start, sfMaxDigits)
	}
	if !p.done() && p.s[p.i] == '.' {
		p.i++
		frac := p.i
		for !p.done() && isDigit(p.s[p.i]) {
			p.i++
		}
		if n := p.i - frac; n == 0 || n > 3 || frac-1-digits > 12 {
			return sfBare{}, fmt.Errorf("malformed decimal at offset %d", start)
		}
		return sfBare{}, nil
	}
	n, _ := strconv.ParseInt(p.s[start:p.i], 10, 64) // at most 15 digits: fits
	return sfBare{num: n, isNum: true}, nil
}

func (p *sfParser) byteSequence() error {
	start := p.i
	p.i++
	for !p.done() && p.s[p.i] != ':' {
		if c := p.s[p.i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '=' {
			return fmt.Errorf("bad byte sequence at offset %d", start)
		}
		p.i++
	}
	if p.done() {
		return fmt.Errorf("unterminated byte sequence at offset %d", start)
	}
	p.i++
	return nil
}

// date parses an RFC 9651 date, "@" and an integer of seconds since the
// epoch; no field here reads one as a number.
func (p *sfParser) date() error {
	start := p.i
	p.i++
	if p.done() || (p.s[p.i] != '-' && !isDigit(p.s[p.i])) {
		return fmt.Errorf("bad date at offset %d", start)
	}
	v, err := p.number()
	if err != nil {
		return err
	}
	if !v.isNum {
		return fmt.Errorf("date at offset %d is not an integer", start)
	}
	return nil
}

// displayString parses an RFC 9651 display string, %"..." with non-ASCII
// bytes written as lower-case %xx, which must decode to valid UTF-8.
func (p *sfParser) displayString() (string, error) {
	start := p.i
	p.i++
	if p.done() || p.s[p.i] != '"' {
		return "", fmt.Errorf("bad display string at offset %d", start)
	}
	p.i++
	var b []byte
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("non-printable character in display string at offset %d", p.i-1)
		case c == '%':
			if p.i+2 > len(p.s) || !isLCHex(p.s[p.i]) || !isLCHex(p.s[p.i+1]) {
				return "", fmt.Errorf("bad escape in display string at offset %d", p.i-1)
			}
			b = append(b, unhex(p.s[p.i])<<4|unhex(p.s[p.i+1]))
			p.i += 2
		case c == '"':
			if !utf8.Valid(b) {
				return "", fmt.Errorf("display string at offset %d is not valid UTF-8", start)
			}
			return string(b), nil
		default:
			b = append(b, c)
		}
	}
	return "", fmt.Errorf("unterminated display string at offset %d", start)
}

func isLCHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return c - 'a' + 10
}

func (p *sfParser) boolean() error {
	if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
		p.i += 2
		return nil
	}
	return fmt.Errorf("bad boolean at offset %d", p.i)
}

func (p *sfParser) str() (string, error) {
	start := p.i
	p.i++ // opening quote
	if end := strings.IndexAny(p.s[p.i:], "\\\""); end >= 0 && p.s[p.i+end] == '"' && printable(p.s[p.i:p.i+end]) {
		s := p.s[p.i : p.i+end] // the common case: no escape, no copy
		p.i += end + 1
		return s, nil
	}
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\':
			if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return "", fmt.Errorf("bad escape in string at offset %d", p.i-1)
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("non-printable character in string at offset %d", p.i-1)
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string at offset %d", start)
}

func (p *sfParser) token() string {
	start := p.i
	p.i++
	for !p.done() && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
		p.i++
	}
	return p.s[start:p.i]
}

func printable(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || ('A' <= c && c <= 'Z') }

// isTChar reports whether c is an RFC 9110 tchar, except '=' which is not one.
func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
