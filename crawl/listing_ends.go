package crawl

import (
	"encoding/json"
	"reflect"
	"sync"

	"go.uber.org/zap"
)

// pageEnds ends a listing that goes on without giving new items, which a
// paginator cannot see: max_empty_pages pages in a row without items (each
// with a fresh next link or cursor), or a page whose items repeat the
// previous page's (a page-number API that answers every page past the end
// with the last one). The repeated-cursor rule is the paginator's own (see
// loopEnds). Pages must be shown to end in listing order.
type pageEnds struct {
	maxEmpty  int
	fromStart bool // the listing is read from its first page: itemsListed counts all of it
	log       *zap.Logger

	mu     sync.Mutex
	empty  int   // pages in a row without items
	prev   *page // the previous page; nil after a page without items
	listed int64 // the items of the pages let through
	most   int   // the most items a page let through held
}

// end reports whether the listing ends at the page at rawURL, which holds
// items; the page's items are then not listed, and a warning says why.
func (e *pageEnds) end(rawURL string, p page) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	items := p.items
	if len(items) == 0 {
		e.empty++
		e.prev = nil
		if e.empty >= e.maxEmpty {
			e.log.Warn("the listing gave no items on too many pages in a row: it ends here",
				zap.Int("max_empty_pages", e.maxEmpty), zap.String("page", redact(rawURL)))
			return true
		}
		return false
	}
	e.empty = 0
	if e.prev != nil && sameItems(p, *e.prev) {
		e.log.Warn("a listing page repeats the previous page's items: the listing ends here",
			zap.String("page", redact(rawURL)), zap.Int("items", len(items)))
		return true
	}
	e.prev = &page{items: items, print: p.print}
	e.listed += int64(len(items))
	e.most = max(e.most, len(items))
	return false
}

// afterFullPage reports whether the page shown last held items, as many as
// any page before it: a listing's last page is mostly short, and the page
// after a short one is no surprise when empty.
func (e *pageEnds) afterFullPage() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.prev != nil && len(e.prev.items) >= e.most
}

// itemsListed is how many items the pages shown so far let through.
func (e *pageEnds) itemsListed() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.listed
}

// sameItems reports whether pages a and b list the same items: their items'
// text hashes the same when the items were decoded with only some of their
// keys (see itemKeys), their items are the same JSON values otherwise.
func sameItems(a, b page) bool {
	if a.print != 0 || b.print != 0 {
		return a.print == b.print && len(a.items) == len(b.items)
	}
	return sameJSON(a.items, b.items)
}

// sameJSON reports whether a and b, values decoded from JSON (numbers as
// json.Number), are the same JSON value: object keys in any order, arrays in
// the same order, equal scalars of the same type. It stops at the first
// difference, so pages that differ cost little to compare.
func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	case nil, string, json.Number, bool, float64:
		return a == b
	}
	return reflect.DeepEqual(a, b)
}
