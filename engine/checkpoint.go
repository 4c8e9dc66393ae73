package engine

import (
	"fmt"
	"sync"

	"github.com/politely/politely/source"
)

// Checkpointer persists how far a run got through its source, so that a run
// resumed after a crash neither loses nor repeats an item. The engine calls
// it as items finish for good (succeeded, or failed for good; an interrupted
// item is not finished), never concurrently.
//
// The state is a low-water mark and a set of items done beyond it. To resume,
// start the source at the last mark and skip (Job.WithSkip) the items
// recorded by Done since. Calls are made on the consumers' path: an
// implementation should be quick, e.g. batch its writes. An error ends the
// run.
type Checkpointer interface {
	// Done records that item index of page finished while its page, or an
	// earlier one, still has unfinished items.
	Done(page source.Cursor, index int) error
	// Mark records that every item of page, and of every page read before it,
	// is finished: a resumed run starts the source at next, and the Done
	// records of page are no longer needed. Pages are marked in the order
	// they were read.
	Mark(page, next source.Cursor) error
}

// page is one page of the source as read by the engine.
type page struct {
	cursor, next source.Cursor
	count, done  int
}

// tracker follows the pages read so far, in order, and reports the low-water
// mark: the pages at the head of the list whose items are all finished.
type tracker struct {
	cp Checkpointer

	mu    sync.Mutex
	pages []*page // unfinished pages in the order read; pages[0] is the oldest
	last  *page   // the page of the latest item read
	err   error   // the checkpointer's first error; no call is made after it
}

// add registers an item the producer read and returns its page.
func (t *tracker) add(cur, next source.Cursor, index, count int) (*page, error) {
	if count < 1 || index < 0 || index >= count {
		return nil, fmt.Errorf("item %d of %d on page %q: a checkpointed run needs 0 <= Index < Count", index, count, cur)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil || t.last.cursor != cur {
		t.last = &page{cursor: cur, next: next, count: count}
		t.pages = append(t.pages, t.last)
	}
	return t.last, nil
}

// finish records that item index of p is finished for good. report says
// whether the checkpointer should hear of it (a skipped item is already
// recorded). It returns the checkpointer's error, once.
func (t *tracker) finish(p *page, index int, report bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p.done++
	if t.err != nil {
		return nil
	}
	if p != t.pages[0] || p.done < p.count {
		if report {
			t.err = t.cp.Done(p.cursor, index)
		}
		return t.err
	}
	for len(t.pages) > 0 && t.pages[0].done == t.pages[0].count {
		head := t.pages[0]
		t.pages[0] = nil
		t.pages = t.pages[1:]
		if t.err = t.cp.Mark(head.cursor, head.next); t.err != nil {
			return t.err
		}
	}
	return nil
}
