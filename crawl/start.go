package crawl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/politely/politely/source"
	"github.com/politely/politely/state"
)

// start gets a crawl's listing under way in a goroutine of its own: it checks
// source.url against its robots.txt and, when that allows it, asks for the
// listing's first page, while the run opens its files and sets up the
// engine, so that the first items are read as soon as the engine asks.
type start struct {
	from   source.Cursor // where the listing starts
	cancel context.CancelFunc
	done   chan struct{} // closed when src or err is set
	src    *loopEnds
	err    error
}

// begin starts the listing from cursor from ("" is the beginning). Its
// requests go through the crawl's limiter as every other; stop ends it.
func (r *runner) begin(ctx context.Context, from source.Cursor) *start {
	ctx, cancel := context.WithCancel(ctx)
	s := &start{from: from, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if s.err = r.sourceAllowed(ctx); s.err != nil {
			return
		}
		src, err := r.listing.source(from)
		if err != nil {
			s.err = fmt.Errorf("crawl: %w", err)
			return
		}
		src.src.Prefetch(ctx)
		s.src = src
	}()
	return s
}

// wait returns the listing once its robots.txt allowed it, its first page
// on its way; the error says why it may not or could not start.
func (s *start) wait() (*loopEnds, error) {
	<-s.done
	return s.src, s.err
}

// stop cancels what is still under way, waits for it, and closes the
// listing. It may be called more than once, and on a nil start.
func (s *start) stop() {
	if s == nil {
		return
	}
	s.cancel()
	<-s.done
	if s.src != nil {
		s.src.Close()
	}
}

// freshState reports whether the crawl's state has nothing to resume: it is
// to be reset, or there is no state file to read. Such a crawl starts its
// listing from the beginning while it opens the state; one with a state
// opens it first, since its cursor says where the listing resumes.
func (r *runner) freshState() bool {
	if r.o.resetState {
		return true
	}
	_, err := os.Stat(filepath.Join(r.cfg.State, state.FileName))
	return errors.Is(err, os.ErrNotExist)
}
