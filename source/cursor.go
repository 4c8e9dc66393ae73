package source

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// End is the cursor of a source with nothing left: a page known to be the last
// has Next == End, and a source resumed at End yields io.EOF at once.
const End Cursor = "end"

// Cursors are "kind:fields", readable in a state file and checked on resume
// so that a cursor of one kind of source is not fed to another:
//
//	page:ORDINAL:NUMBER    PageNumbers  (ORDINAL counts pages from 1)
//	offset:ORDINAL:OFFSET  Offsets
//	token:ORDINAL:TOKEN    Tokens       (TOKEN as the API gave it)
//	link:ORDINAL:URL       NextLinks
//	loop:PREV:CURSOR       a page whose cursor repeats page PREV; resuming reports the loop again
//	index:I                Slice, Pull  (I counts items from 0)
//	range:VALUE            Range        (the next value)
//	line:LINE:OFFSET       Lines, JSONLines (line number from 1, byte offset of that line)
const loopPrefix = "loop:"

// pageCursor encodes the cursor of paginator page ord.
func pageCursor(kind string, ord int, payload string) Cursor {
	return Cursor(kind + ":" + strconv.Itoa(ord) + ":" + payload)
}

// parsePageCursor decodes a paginator cursor of the given kind.
func parsePageCursor(c Cursor, kind string) (ord int, payload string, err error) {
	rest, ok := strings.CutPrefix(string(c), kind+":")
	if !ok {
		return 0, "", fmt.Errorf("cursor %q is not a %s cursor (want %s:ORDINAL:...)", show(c), kind, kind)
	}
	ords, payload, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, "", fmt.Errorf("cursor %q: missing %q after the page ordinal", show(c), ":")
	}
	ord, err = strconv.Atoi(ords)
	if err != nil || ord < 1 {
		return 0, "", fmt.Errorf("cursor %q: page ordinal %q is not a positive integer", show(c), ords)
	}
	return ord, payload, nil
}

// parseCount decodes a non-negative decimal field of cursor c.
func parseCount(c Cursor, field, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cursor %q: %s %q is not a non-negative integer", show(c), field, s)
	}
	return n, nil
}

// show renders a cursor for an error message, hiding the userinfo of a URL.
func show(c Cursor) string {
	s := string(c)
	prefix := ""
	if rest, ok := strings.CutPrefix(s, loopPrefix); ok {
		if prev, in, ok := strings.Cut(rest, ":"); ok {
			prefix, s = loopPrefix+prev+":", in
		}
	}
	rest, ok := strings.CutPrefix(s, "link:")
	if !ok {
		return string(c)
	}
	ord, raw, ok := strings.Cut(rest, ":")
	if !ok {
		return string(c)
	}
	return prefix + "link:" + ord + ":" + redactURL(raw)
}

// redactURL drops a URL's userinfo, which may hold credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
