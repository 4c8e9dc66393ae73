package source

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
)

// defaultGroup is the page size of the in-memory sources: one cursor string
// per 1024 items keeps them allocation-free per item.
const defaultGroup = 1024

// indexCursor encodes the position of item i of a slice or sequence.
func indexCursor(i int) Cursor { return Cursor("index:" + strconv.Itoa(i)) }

// parseIndexCursor decodes an index cursor.
func parseIndexCursor(c Cursor) (int, error) {
	rest, ok := strings.CutPrefix(string(c), "index:")
	if !ok {
		return 0, fmt.Errorf("cursor %q is not an index cursor (want index:N)", show(c))
	}
	return parseCount(c, "index", rest)
}

// groups splits items numbered from 0 into pages of size group and keeps the
// cursors of the current page; Slice and Pull share it.
type groups struct {
	group      int
	start, end int // items [start, end) make the current page
	page, next Cursor
}

// begin starts a page of count items at item i; last reports that no item
// follows it.
func (g *groups) begin(i, count int) {
	if g.next != "" && g.end == i {
		g.page = g.next // the previous page's Next is this page's cursor
	} else {
		g.page = indexCursor(i)
	}
	g.start, g.end = i, i+count
	g.next = indexCursor(g.end)
}

// item returns item i of the current page.
func item[T any](g *groups, i int, v T) Item[T] {
	return Item[T]{Value: v, Index: i - g.start, Count: g.end - g.start, Page: g.page, Next: g.next}
}

// sliceSource yields the items of a slice.
type sliceSource[T any] struct {
	items []T
	i     int
	groups
}

// Slice returns a Source of the items of s, in pages of WithGroup items
// (default 1024); the cursor of item i is "index:i". s is not copied: the
// caller must not change it while the source is in use.
//
// Options: WithGroup, WithCursor.
func Slice[T any](s []T, opts ...Option) (Source[T], error) {
	o, err := buildOptions("Slice", optGroup|optCursor, opts)
	if err != nil {
		return nil, err
	}
	src := &sliceSource[T]{items: s, groups: groups{group: group(o, defaultGroup)}}
	if o.cursor != "" {
		if src.i, err = parseIndexCursor(o.cursor); err != nil {
			return nil, fmt.Errorf("source: Slice: WithCursor: %w", err)
		}
		if src.i > len(s) {
			return nil, fmt.Errorf("source: Slice: WithCursor(%q): the slice has only %d items", o.cursor, len(s))
		}
	}
	return src, nil
}

// group returns the WithGroup option or def.
func group(o options, def int) int {
	if o.set&optGroup != 0 {
		return o.group
	}
	return def
}

// Next returns the next item of the slice, or io.EOF after the last.
func (s *sliceSource[T]) Next(ctx context.Context) (Item[T], error) {
	if err := ctx.Err(); err != nil {
		return Item[T]{}, err
	}
	if s.i >= len(s.items) {
		return Item[T]{}, io.EOF
	}
	if s.i >= s.end {
		s.begin(s.i, min(s.group, len(s.items)-s.i))
	}
	it := item(&s.groups, s.i, s.items[s.i])
	s.i++
	return it, nil
}

// Pulled is a Source over an iter.Seq, pulled one page of WithGroup items
// (default 1024) at a time with iter.Pull; the cursor of item i is "index:i",
// and resuming at it skips i items of the sequence. Build one with Pull.
//
// The sequence runs as a coroutine between calls to Next. It is stopped at the
// end of the sequence, at an error (a cancelled ctx included), and by Close; a
// caller that abandons a Pulled before any of these must call Close, or the
// coroutine leaks.
type Pulled[T any] struct {
	seq  iter.Seq[T]
	pull func() (T, bool)
	stop func()
	skip int   // items to skip before the first page (resume)
	i    int   // index of the next item to pull
	buf  []T   // the current page
	bi   int   // next item of buf to yield
	err  error // sticky: io.EOF or the error that ended the source
	groups
}

// Pull returns a Source over seq.
//
// Options: WithGroup, WithCursor.
func Pull[T any](seq iter.Seq[T], opts ...Option) (*Pulled[T], error) {
	if seq == nil {
		return nil, fmt.Errorf("source: Pull: seq is nil")
	}
	o, err := buildOptions("Pull", optGroup|optCursor, opts)
	if err != nil {
		return nil, err
	}
	p := &Pulled[T]{seq: seq, groups: groups{group: group(o, defaultGroup)}}
	if o.cursor != "" {
		if p.skip, err = parseIndexCursor(o.cursor); err != nil {
			return nil, fmt.Errorf("source: Pull: WithCursor: %w", err)
		}
	}
	return p, nil
}

// Next returns the next item of the sequence, or io.EOF after the last.
func (p *Pulled[T]) Next(ctx context.Context) (Item[T], error) {
	if p.err == nil {
		if err := ctx.Err(); err != nil {
			p.end(err)
		} else if p.bi >= len(p.buf) {
			p.fill()
		}
	}
	if p.err != nil {
		return Item[T]{}, p.err
	}
	it := item(&p.groups, p.start+p.bi, p.buf[p.bi])
	p.bi++
	return it, nil
}

// fill pulls the next page into buf, or ends the source.
func (p *Pulled[T]) fill() {
	if p.pull == nil {
		p.pull, p.stop = iter.Pull(p.seq)
		for ; p.i < p.skip; p.i++ {
			if _, ok := p.pull(); !ok {
				p.end(fmt.Errorf("source: Pull: resume at %q: the sequence has only %d items", indexCursor(p.skip), p.i))
				return
			}
		}
	}
	clear(p.buf) // drop references to the used-up page
	p.buf, p.bi = p.buf[:0], 0
	for len(p.buf) < p.group {
		v, ok := p.pull()
		if !ok {
			break
		}
		p.buf = append(p.buf, v)
	}
	if len(p.buf) == 0 {
		p.end(io.EOF)
		return
	}
	p.begin(p.i, len(p.buf))
	p.i += len(p.buf)
}

// end stops the sequence and makes err the answer of every later Next.
func (p *Pulled[T]) end(err error) {
	if p.err != nil {
		return
	}
	p.err = err
	if p.stop != nil {
		p.stop()
	}
	clear(p.buf)
	p.buf, p.bi = nil, 0
}

// Close stops the sequence; later calls to Next return io.EOF (or the error
// that ended the source before). It is safe to call more than once and always
// returns nil.
func (p *Pulled[T]) Close() error {
	p.end(io.EOF)
	return nil
}
