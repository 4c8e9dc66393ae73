// Package source yields items lazily, page by page, with cursors that resume.
//
// A Source is pull-based: nothing is read or fetched until Next is called,
// paginators hold at most one page in memory, and no source starts a
// goroutine (Pull runs its iter.Seq as a coroutine, stopped by Close), except
// a paginator WithPrefetch, which fetches the next page in one while the held
// page is read, and is closed too.
//
// Every item carries two cursors: Page, which fetches the item's page again,
// and Next, which resumes at the page after it (End when there is none). A
// consumer that finishes every item of a page checkpoints Next; after a crash
// it resumes there (WithCursor) and sees exactly the items after that page.
//
// Paginators (PageNumbers, Offsets, Tokens, NextLinks) wrap a caller's page
// fetcher; retrying a failed fetch is the fetcher's job. The simple sources
// (Slice, Pull, Range, Lines, JSONLines) group items into pages too: 1024 items
// per page for the in-memory ones, so that they allocate nothing per item, and
// one line per page for readers, so that a checkpoint loses no line.
//
// Next returns io.EOF after the last item. Any other error ends the source;
// errors name the page or line and cursor where they happened, and a repeated
// token or URL ends a paginator with an error wrapping ErrLoop.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
)

// Cursor is an opaque, serialisable position in a source; "" is the beginning.
type Cursor string

// Item is one value of a source with its position on its page.
type Item[T any] struct {
	Value T
	Index int    // position of the item on its page, from 0
	Count int    // number of items on its page (the engine knows a page is done when Count items are done)
	Page  Cursor // the cursor that fetches this item's page again
	Next  Cursor // where to resume once every item of this page is done (the page after this one)
}

// Source is a lazy sequence; Next is called only when the consumer has room (backpressure).
type Source[T any] interface {
	Next(ctx context.Context) (Item[T], error) // io.EOF after the last item; any other error ends the source
}

// ErrLoop reports a repeated cursor or URL; it is wrapped with the cursor in
// the error that ends the source.
var ErrLoop = errors.New("source: cursor loop")

// notEOF keeps a caller's error from reading as the end of a source: an
// error that matches io.EOF (an empty body decoded with encoding/json, say)
// becomes one wrapping io.ErrUnexpectedEOF instead, keeping its text.
func notEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %v", io.ErrUnexpectedEOF, err)
	}
	return err
}

// All adapts src to a range-over-func sequence. It yields each item with a nil
// error, stops silently at io.EOF, and yields a final zero item with the error
// if the source fails or ctx is cancelled.
func All[T any](ctx context.Context, src Source[T]) iter.Seq2[Item[T], error] {
	return func(yield func(Item[T], error) bool) {
		for {
			it, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Item[T]{}, err)
				return
			}
			if !yield(it, nil) {
				return
			}
		}
	}
}
