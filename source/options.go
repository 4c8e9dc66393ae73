package source

import (
	"fmt"
	"strings"
)

// Option configures a paginator or a simple source. Each constructor accepts
// only the options that mean something for it and rejects the others with an
// error naming the option.
type Option func(*options)

type optionKey uint8

const (
	optMaxPages optionKey = 1 << iota
	optStart
	optStep
	optCursor
	optGroup
	optMaxLineBytes
	optPrefetch
)

var optionNames = map[optionKey]string{
	optMaxPages:     "WithMaxPages",
	optStart:        "WithStart",
	optStep:         "WithStep",
	optCursor:       "WithCursor",
	optGroup:        "WithGroup",
	optMaxLineBytes: "WithMaxLineBytes",
	optPrefetch:     "WithPrefetch",
}

type options struct {
	set          optionKey
	maxPages     int
	start        int
	step         int
	cursor       Cursor
	group        int
	maxLineBytes int
	prefetch     bool
}

// WithMaxPages ends a paginator with io.EOF after page n, counted from the
// beginning of the pagination (not from a resume cursor), so a resumed run
// stops where an uninterrupted one would. 0 (the default) means no limit.
func WithMaxPages(n int) Option {
	return func(o *options) { o.set |= optMaxPages; o.maxPages = n }
}

// WithStart sets the first page number of PageNumbers (default 1) or the first
// offset of Offsets (default 0).
func WithStart(n int) Option {
	return func(o *options) { o.set |= optStart; o.start = n }
}

// WithStep sets how far Offsets advances after each page. The default
// advances by the number of items on the page, which is right for APIs whose
// offset counts items; set a fixed step for APIs that may return fewer items
// than the page size without being at the end.
func WithStep(n int) Option {
	return func(o *options) { o.set |= optStep; o.step = n }
}

// WithPrefetch makes a paginator fetch the next page in a goroutine of its
// own while the items of the page it holds are read, so that a slow page does
// not keep the reader waiting. At most one page is fetched ahead (so two are
// held), under the context of the Next call that got the page before it, and
// never beyond the last page, WithMaxPages or a repeated cursor; the fetcher
// is still never called twice at once. A paginator built with WithPrefetch
// must be closed (Close), which stops a fetch ahead and waits for it.
// Cursors, errors and what is yielded are the same as without it.
func WithPrefetch() Option {
	return func(o *options) { o.set |= optPrefetch; o.prefetch = true }
}

// WithCursor resumes a source at c, a cursor taken from an Item's Page or
// Next field by an earlier run. "" means the beginning.
func WithCursor(c Cursor) Option {
	return func(o *options) { o.set |= optCursor; o.cursor = c }
}

// WithGroup sets how many items of a simple source (Slice, Pull, Range, Lines,
// JSONLines) make one page. A page is the unit of checkpointing: a larger group
// allocates one cursor per group instead of one per item, a smaller one loses
// less work on a crash. Defaults: 1024 for the in-memory sources, 1 for lines.
func WithGroup(n int) Option {
	return func(o *options) { o.set |= optGroup; o.group = n }
}

// WithMaxLineBytes caps the length of one line of Lines and JSONLines
// (default 1 MiB, not counting the line ending); a longer line ends the source
// with an error wrapping ErrLineTooLong that names the line.
func WithMaxLineBytes(n int) Option {
	return func(o *options) { o.set |= optMaxLineBytes; o.maxLineBytes = n }
}

// buildOptions applies opts and rejects any option outside allowed, and any
// negative or zero value where one is not meaningful.
func buildOptions(what string, allowed optionKey, opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("source: %s: nil Option", what)
		}
		opt(&o)
	}
	if bad := o.set &^ allowed; bad != 0 {
		var names []string
		for k := optMaxPages; k <= optPrefetch; k <<= 1 {
			if bad&k != 0 {
				names = append(names, optionNames[k])
			}
		}
		return o, fmt.Errorf("source: %s: %s does not apply", what, strings.Join(names, ", "))
	}
	switch {
	case o.maxPages < 0:
		return o, fmt.Errorf("source: %s: WithMaxPages(%d): must be 0 (no limit) or more", what, o.maxPages)
	case o.start < 0:
		return o, fmt.Errorf("source: %s: WithStart(%d): must be 0 or more", what, o.start)
	case o.set&optStep != 0 && o.step <= 0:
		return o, fmt.Errorf("source: %s: WithStep(%d): must be 1 or more", what, o.step)
	case o.set&optGroup != 0 && o.group <= 0:
		return o, fmt.Errorf("source: %s: WithGroup(%d): must be 1 or more", what, o.group)
	case o.set&optMaxLineBytes != 0 && o.maxLineBytes <= 0:
		return o, fmt.Errorf("source: %s: WithMaxLineBytes(%d): must be 1 or more", what, o.maxLineBytes)
	}
	return o, nil
}
