package crawl

import (
	"crypto/sha256"
	"encoding/json"
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
	maxEmpty int
	log      *zap.Logger

	mu      sync.Mutex
	empty   int               // pages in a row without items
	prev    [sha256.Size]byte // the previous page's items, hashed
	hasPrev bool              // whether prev holds a page with items
}

// end reports whether the listing ends at the page at rawURL, which holds
// items; the page's items are then not listed, and a warning says why.
func (e *pageEnds) end(rawURL string, items []any) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(items) == 0 {
		e.empty++
		e.hasPrev = false
		if e.empty >= e.maxEmpty {
			e.log.Warn("the listing gave no items on too many pages in a row: it ends here",
				zap.Int("max_empty_pages", e.maxEmpty), zap.String("page", redact(rawURL)))
			return true
		}
		return false
	}
	e.empty = 0
	sum, ok := hashItems(items)
	if ok && e.hasPrev && sum == e.prev {
		e.log.Warn("a listing page repeats the previous page's items: the listing ends here",
			zap.String("page", redact(rawURL)), zap.Int("items", len(items)))
		return true
	}
	e.prev, e.hasPrev = sum, ok
	return false
}

// hashItems hashes items by their JSON form (object keys sorted, so equal
// items hash alike); ok is false if they cannot be encoded.
func hashItems(items []any) (sum [sha256.Size]byte, ok bool) {
	data, err := json.Marshal(items)
	if err != nil {
		return sum, false
	}
	return sha256.Sum256(data), true
}
