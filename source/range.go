package source

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// rangeSource yields from, from+step, ... while short of to.
type rangeSource struct {
	from, step int
	n, k       uint64 // number of values, index of the next one
	group      uint64
	end        uint64 // index after the current page
	count      int    // items on the current page
	page, next Cursor
	buf        []byte // scratch for formatting cursors
}

// Range returns a Source of the integers from, from+step, from+2·step, ...
// that are below to (step > 0) or above to (step < 0), in pages of WithGroup
// values (default 1024). The cursor of a value v is "range:v"; the last
// page's Next is End. It allocates one cursor per page and nothing per item.
//
// Options: WithGroup, WithCursor.
func Range(from, to, step int, opts ...Option) (Source[int], error) {
	if step == 0 {
		return nil, fmt.Errorf("source: Range(%d, %d, 0): step must not be 0", from, to)
	}
	o, err := buildOptions("Range", optGroup|optCursor, opts)
	if err != nil {
		return nil, err
	}
	r := &rangeSource{from: from, step: step, group: uint64(group(o, defaultGroup))}
	// Differences are taken in uint64 so that a range spanning most of int
	// does not overflow.
	switch {
	case step > 0 && to > from:
		r.n = (uint64(to)-uint64(from)-1)/uint64(step) + 1
	case step < 0 && to < from:
		r.n = (uint64(from)-uint64(to)-1)/(-uint64(step)) + 1
	}
	switch c := o.cursor; c {
	case "":
	case End:
		r.k = r.n
	default:
		if r.k, err = r.index(c); err != nil {
			return nil, fmt.Errorf("source: Range(%d, %d, %d): WithCursor: %w", from, to, step, err)
		}
	}
	return r, nil
}

// index decodes a range cursor into the index of its value.
func (r *rangeSource) index(c Cursor) (uint64, error) {
	rest, ok := strings.CutPrefix(string(c), "range:")
	if !ok {
		return 0, fmt.Errorf("cursor %q is not a range cursor (want range:VALUE)", show(c))
	}
	v, err := strconv.Atoi(rest)
	if err != nil {
		return 0, fmt.Errorf("cursor %q: value %q is not an integer", show(c), rest)
	}
	d, mag := uint64(v)-uint64(r.from), uint64(r.step)
	if r.step < 0 {
		d, mag = uint64(r.from)-uint64(v), -uint64(r.step)
	}
	wrongSide := r.step > 0 && v < r.from || r.step < 0 && v > r.from
	if wrongSide || d%mag != 0 || d/mag >= r.n {
		return 0, fmt.Errorf("cursor %q: %d is not a value of the range", show(c), v)
	}
	return d / mag, nil
}

// Next returns the next value, or io.EOF after the last.
func (r *rangeSource) Next(ctx context.Context) (Item[int], error) {
	if err := ctx.Err(); err != nil {
		return Item[int]{}, err
	}
	if r.k >= r.n {
		return Item[int]{}, io.EOF
	}
	if r.k >= r.end {
		r.startPage()
	}
	v := int(uint64(r.from) + r.k*uint64(r.step))
	idx := r.count - int(r.end-r.k)
	r.k++
	return Item[int]{Value: v, Index: idx, Count: r.count, Page: r.page, Next: r.next}, nil
}

// startPage sets the cursors of the page starting at value index r.k.
func (r *rangeSource) startPage() {
	if r.next != "" && r.end == r.k {
		r.page = r.next
	} else {
		r.page = r.cursor(r.k)
	}
	r.end = r.k + min(r.group, r.n-r.k)
	r.count = int(r.end - r.k)
	if r.end == r.n {
		r.next = End
	} else {
		r.next = r.cursor(r.end)
	}
}

// cursor encodes the cursor of the value at index k.
func (r *rangeSource) cursor(k uint64) Cursor {
	r.buf = strconv.AppendInt(append(r.buf[:0], "range:"...), int64(uint64(r.from)+k*uint64(r.step)), 10)
	return Cursor(r.buf)
}
