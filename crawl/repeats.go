package crawl

import (
	"hash/maphash"
	"sync/atomic"
)

// repeats remembers the task URLs a crawl has taken from its listing, so
// that an item whose task URL an earlier item already had is not fetched
// and written again: a listing that items enter while it is paged (newest
// first, offset or page numbers) shifts, and repeats on a page the items
// that closed the page before. Scrapy's duplicate filter and colly's
// visited URLs do the same for requests. A URL is kept as 128 bits of two
// seeded hashes (16 bytes, where the URL itself is ~60): a collision,
// which would skip an item, is ~10^-25 at 10 million items; a 64-bit hash
// would make it ~10^-6.
//
// Only the listing's reader (the engine's producer, or the Redis walker)
// calls seen; the count is read by the summary.
type repeats struct {
	seeds [2]maphash.Seed
	taken map[[2]uint64]struct{}
	n     atomic.Int64 // items skipped as repeats
}

func newRepeats() *repeats {
	return &repeats{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, taken: map[[2]uint64]struct{}{}}
}

// seen reports whether an item whose task URL is raw was taken before, and
// takes it if not; a repeat is counted.
func (r *repeats) seen(raw string) bool {
	k := [2]uint64{maphash.String(r.seeds[0], raw), maphash.String(r.seeds[1], raw)}
	if _, ok := r.taken[k]; ok {
		r.n.Add(1)
		return true
	}
	r.taken[k] = struct{}{}
	return false
}

// repeated reports whether it repeats an item the crawl took before (see
// repeats): only items with a task URL that resolves are compared; one
// that does not fails on its own.
func (r *runner) repeated(it listed) bool {
	if r.repeats == nil || it.target == nil || it.target.err != nil {
		return false
	}
	return r.repeats.seen(it.target.raw)
}
