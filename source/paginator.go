package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Page is what a caller's fetcher returns for one page.
type Page[T any] struct {
	// Items are the page's items, in order. The paginator yields them as they
	// are and keeps the slice only until the page is used up.
	Items []T
	// Next is the next page's token (Tokens) or URL (NextLinks; absolute, or
	// relative to this page's URL), taken from the body or a header by the
	// fetcher. "" means this is the last page. PageNumbers and Offsets ignore it.
	Next string
	// Last marks a page known to be the last (say has_more=false), which saves
	// fetching an empty page after it. It ends every kind of paginator.
	Last bool
}

// kind is the pagination style of a Paginator.
type kind uint8

const (
	kindPage kind = iota + 1
	kindOffset
	kindToken
	kindLink
)

// name is the cursor kind and the constructor name of k.
func (k kind) name() (cursorKind, constructor string) {
	switch k {
	case kindPage:
		return "page", "PageNumbers"
	case kindOffset:
		return "offset", "Offsets"
	case kindToken:
		return "token", "Tokens"
	default:
		return "link", "NextLinks"
	}
}

// position is one page of a pagination: its ordinal from 1 and its page
// number, offset, token or URL.
type position struct {
	ord int
	num int
	s   string
}

// Paginator is a Source over the pages of a caller-supplied fetcher. It
// fetches a page only when Next is called and the previous page is used up,
// so at most one page is held in memory, and it starts no goroutines; with
// WithPrefetch it fetches the next page ahead instead, and Prefetch starts
// fetching one before Next asks for it. It is not safe for concurrent use;
// the engine calls Next from one goroutine.
//
// Build one with PageNumbers, Offsets, Tokens or NextLinks. The zero value is
// not usable.
type Paginator[T any] struct {
	kind     kind
	fetch    func(ctx context.Context, at position) (Page[T], error)
	maxPages int
	step     int // Offsets: fixed step, 0 for "items on the page"

	at   position // the page to fetch next
	done bool     // there is no page after the held one
	loop error    // the held page's next cursor repeats an earlier one
	seen seen     // Tokens, NextLinks: every token or URL fetched in this run

	items      []T
	i          int
	page, next Cursor
	err        error // sticky: the error that ended the source

	prefetch bool
	ahead    *ahead[T] // the page being fetched ahead; nil when none
}

// ahead is a page fetched in a goroutine of its own (WithPrefetch, Prefetch).
type ahead[T any] struct {
	at     position
	ctx    context.Context // the fetch's
	cancel context.CancelFunc
	done   chan struct{} // closed when pg and err are set
	pg     Page[T]
	err    error
}

// PageNumbers paginates by page number: fetch is called with the start page
// (WithStart, default 1), then the next number, until a page is empty or
// marked Last, or WithMaxPages pages have been fetched.
//
// Options: WithMaxPages, WithStart, WithCursor.
func PageNumbers[T any](fetch func(ctx context.Context, page int) (Page[T], error), opts ...Option) (*Paginator[T], error) {
	p, o, err := newPaginator[T](kindPage, fetch == nil, optMaxPages|optStart|optCursor|optPrefetch, opts)
	if err != nil {
		return nil, err
	}
	if o.set&optStart == 0 {
		o.start = 1
	}
	p.fetch = func(ctx context.Context, at position) (Page[T], error) { return fetch(ctx, at.num) }
	return p, p.startAt(o, func(payload string) (position, error) {
		n, err := parseCount(o.cursor, "page number", payload)
		return position{num: n}, err
	}, position{ord: 1, num: o.start})
}

// Offsets paginates by item offset: fetch is called with the start offset
// (WithStart, default 0), then with the offset advanced by the number of items
// on the page (or by WithStep), until a page is empty or marked Last, or
// WithMaxPages pages have been fetched. The page size is the fetcher's.
//
// Options: WithMaxPages, WithStart, WithStep, WithCursor.
func Offsets[T any](fetch func(ctx context.Context, offset int) (Page[T], error), opts ...Option) (*Paginator[T], error) {
	p, o, err := newPaginator[T](kindOffset, fetch == nil, optMaxPages|optStart|optStep|optCursor|optPrefetch, opts)
	if err != nil {
		return nil, err
	}
	p.step = o.step
	p.fetch = func(ctx context.Context, at position) (Page[T], error) { return fetch(ctx, at.num) }
	return p, p.startAt(o, func(payload string) (position, error) {
		n, err := parseCount(o.cursor, "offset", payload)
		return position{num: n}, err
	}, position{ord: 1, num: o.start})
}

// Tokens paginates by continuation token: fetch is called with "" for the
// first page, then with each page's Next token, until a page's Next is "" or
// it is marked Last, or WithMaxPages pages have been fetched. Empty pages
// with a token are skipped. A token that was already fetched in this run
// ends the source with an error wrapping ErrLoop.
//
// Options: WithMaxPages, WithCursor.
func Tokens[T any](fetch func(ctx context.Context, token string) (Page[T], error), opts ...Option) (*Paginator[T], error) {
	p, o, err := newPaginator[T](kindToken, fetch == nil, optMaxPages|optCursor|optPrefetch, opts)
	if err != nil {
		return nil, err
	}
	p.fetch = func(ctx context.Context, at position) (Page[T], error) { return fetch(ctx, at.s) }
	return p, p.startAt(o, func(payload string) (position, error) {
		return position{s: payload}, nil
	}, position{ord: 1})
}

// NextLinks paginates by following links: fetch is called with first, then
// with each page's Next URL resolved against the URL of that page, until a
// page's Next is "" or it is marked Last, or WithMaxPages pages have been
// fetched. Empty pages with a link are skipped. A URL that was already fetched
// in this run, or first (compared as strings after resolution), ends the source
// with an error wrapping ErrLoop.
//
// Options: WithMaxPages, WithCursor (which overrides first).
func NextLinks[T any](first string, fetch func(ctx context.Context, url string) (Page[T], error), opts ...Option) (*Paginator[T], error) {
	p, o, err := newPaginator[T](kindLink, fetch == nil, optMaxPages|optCursor|optPrefetch, opts)
	if err != nil {
		return nil, err
	}
	if o.cursor == "" {
		if first == "" {
			return nil, errors.New("source: NextLinks: first URL is empty")
		}
		if _, err := url.Parse(first); err != nil {
			return nil, fmt.Errorf("source: NextLinks: first URL: %w", err)
		}
	}
	p.fetch = func(ctx context.Context, at position) (Page[T], error) { return fetch(ctx, at.s) }
	if o.cursor != "" && first != "" {
		// A link back to the first page (what some APIs answer for a bad
		// cursor) is caught even after a resume.
		p.seen.add(position{ord: 1, s: first})
	}
	return p, p.startAt(o, func(payload string) (position, error) {
		if payload == "" {
			return position{}, fmt.Errorf("cursor %q: empty URL", show(o.cursor))
		}
		if _, err := url.Parse(payload); err != nil {
			return position{}, fmt.Errorf("cursor %q: %w", show(o.cursor), err)
		}
		return position{s: payload}, nil
	}, position{ord: 1, s: first})
}

// newPaginator checks the arguments common to every paginator.
func newPaginator[T any](k kind, nilFetch bool, allowed optionKey, opts []Option) (*Paginator[T], options, error) {
	_, ctor := k.name()
	if nilFetch {
		return nil, options{}, fmt.Errorf("source: %s: fetch is nil", ctor)
	}
	o, err := buildOptions(ctor, allowed, opts)
	if err != nil {
		return nil, o, err
	}
	return &Paginator[T]{kind: k, maxPages: o.maxPages, prefetch: o.prefetch}, o, nil
}

// startAt positions p at the beginning (first) or at the resume cursor.
func (p *Paginator[T]) startAt(o options, parse func(payload string) (position, error), first position) error {
	ck, ctor := p.kind.name()
	switch c := o.cursor; {
	case c == "":
		p.at = first
	case c == End:
		p.done = true
	default:
		inner, prev, isLoop, err := cutLoop(c)
		if err != nil {
			return fmt.Errorf("source: %s: WithCursor: %w", ctor, err)
		}
		ord, payload, err := parsePageCursor(inner, ck)
		if err != nil {
			return fmt.Errorf("source: %s: WithCursor: %w", ctor, err)
		}
		at, err := parse(payload)
		if err != nil {
			return fmt.Errorf("source: %s: WithCursor: %w", ctor, err)
		}
		at.ord = ord
		p.at = at
		if isLoop {
			p.loop = loopError(ord, inner, prev)
		}
	}
	p.seen.add(p.at)
	return nil
}

// loopCursor marks the cursor c of page ord as repeating page prev, so that a
// run resumed there reports the loop again instead of walking it.
func loopCursor(c Cursor, prev int) Cursor {
	return Cursor(loopPrefix+strconv.Itoa(prev)+":") + c
}

// cutLoop unwraps a loop cursor "loop:PREV:CURSOR".
func cutLoop(c Cursor) (inner Cursor, prev int, isLoop bool, err error) {
	rest, ok := strings.CutPrefix(string(c), loopPrefix)
	if !ok {
		return c, 0, false, nil
	}
	prevs, in, ok := strings.Cut(rest, ":")
	if prev, err = strconv.Atoi(prevs); !ok || err != nil || prev < 1 {
		return "", 0, false, fmt.Errorf("cursor %q: repeated page %q is not a positive integer", show(c), prevs)
	}
	return Cursor(in), prev, true, nil
}

// loopError reports that page ord, at cursor c, repeats page prev.
func loopError(ord int, c Cursor, prev int) error {
	return fmt.Errorf("page %d (cursor %s): %w: it repeats page %d", ord, show(c), ErrLoop, prev)
}

// Next returns the next item, fetching the next page when the held one is used
// up. It returns io.EOF after the last item; any other error ends the source
// and is returned again by every later call. A fetch error is wrapped with the
// page and its cursor, e.g. "page 41 (cursor page:41:41): ..."; one that
// matches io.EOF is turned into io.ErrUnexpectedEOF so that it cannot pass for
// the end of the source.
func (p *Paginator[T]) Next(ctx context.Context) (Item[T], error) {
	for p.i >= len(p.items) {
		if p.err != nil {
			return Item[T]{}, p.err
		}
		p.items = nil // release the used-up page before fetching another
		if err := p.fetchNext(ctx); err != nil {
			p.err = err
			return Item[T]{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		p.err, p.items = err, nil
		return Item[T]{}, err
	}
	it := Item[T]{Value: p.items[p.i], Index: p.i, Count: len(p.items), Page: p.page, Next: p.next}
	p.i++
	return it, nil
}

// fetchNext fetches the page at p.at and works out the one after it.
func (p *Paginator[T]) fetchNext(ctx context.Context) error {
	switch {
	case p.loop != nil:
		return p.loop
	case p.done, p.maxPages > 0 && p.at.ord > p.maxPages:
		return io.EOF
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cur := p.cursor(p.at)
	pg, err := p.get(ctx, p.at)
	if err != nil {
		return fmt.Errorf("page %d (cursor %s): %w", p.at.ord, show(cur), notEOF(err))
	}
	next := position{ord: p.at.ord + 1}
	last := pg.Last
	switch p.kind {
	case kindPage, kindOffset:
		if len(pg.Items) == 0 {
			p.done = true // an empty page ends page-number and offset pagination
			return io.EOF
		}
		step := 1
		if p.kind == kindOffset {
			step = p.step
			if step == 0 {
				step = len(pg.Items)
			}
		}
		next.num = p.at.num + step
	case kindToken:
		last = last || pg.Next == ""
		next.s = pg.Next
	case kindLink:
		last = last || pg.Next == ""
		if !last {
			next.s, err = resolve(p.at.s, pg.Next)
			if err != nil {
				return fmt.Errorf("page %d (cursor %s): next link: %w", p.at.ord, show(cur), err)
			}
		}
	}
	p.items, p.i, p.page = pg.Items, 0, cur
	switch {
	case last:
		p.done, p.next = true, End
	default:
		p.next = p.cursor(next)
		if prev, dup := p.seen.add(next); dup {
			p.loop = loopError(next.ord, p.next, prev)
			p.next = loopCursor(p.next, prev)
		}
		p.at = next
		if p.prefetch && (p.maxPages == 0 || next.ord <= p.maxPages) && p.loop == nil {
			p.fetchAhead(ctx, next)
		}
	}
	return nil
}

// get returns the page at: the one fetched ahead if it is that page, else
// one fetched now.
func (p *Paginator[T]) get(ctx context.Context, at position) (Page[T], error) {
	a := p.ahead
	if a == nil || a.at != at {
		p.Close()
		return p.fetch(ctx, at)
	}
	select {
	case <-a.done:
	case <-ctx.Done():
		return Page[T]{}, ctx.Err()
	}
	p.ahead = nil
	stopped := a.ctx.Err() != nil
	a.cancel()
	if a.err != nil && stopped && ctx.Err() == nil {
		// Stopped by the context it was started under (Prefetch's), not
		// by this one: the page has yet to be asked for.
		return p.fetch(ctx, at)
	}
	return a.pg, a.err
}

// fetchAhead starts fetching the page at in a goroutine of its own.
func (p *Paginator[T]) fetchAhead(ctx context.Context, at position) {
	ctx, cancel := context.WithCancel(ctx)
	a := &ahead[T]{at: at, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	p.ahead = a
	go func() {
		defer close(a.done)
		a.pg, a.err = p.fetch(ctx, at)
	}()
}

// Prefetch starts fetching the page that Next fetches next, in a goroutine of
// its own under ctx, so that a caller with other work to do before its first
// Next (opening files, starting workers) finds that page there or on its way.
// It does nothing when that page is already being fetched or there is none.
// A Next whose context is live fetches the page again if ctx ended the
// fetch. Close stops it; like Next, it must not be called concurrently with
// the paginator's other methods.
func (p *Paginator[T]) Prefetch(ctx context.Context) {
	if p.ahead != nil || p.err != nil || p.loop != nil || p.done || p.maxPages > 0 && p.at.ord > p.maxPages {
		return
	}
	p.fetchAhead(ctx, p.at)
}

// Close stops a page being fetched ahead (WithPrefetch, Prefetch) and waits
// for its fetcher to return. It does nothing when none is, and may be called
// more than once; a Next after it fetches the page again.
func (p *Paginator[T]) Close() {
	if a := p.ahead; a != nil {
		a.cancel()
		<-a.done
		p.ahead = nil
	}
}

// cursor encodes the cursor of the page at.
func (p *Paginator[T]) cursor(at position) Cursor {
	ck, _ := p.kind.name()
	switch p.kind {
	case kindPage, kindOffset:
		return pageCursor(ck, at.ord, strconv.Itoa(at.num))
	default:
		return pageCursor(ck, at.ord, at.s)
	}
}

// resolve resolves the link ref found on the page at base.
func resolve(base, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("page URL: %w", err)
	}
	return b.ResolveReference(r).String(), nil
}
