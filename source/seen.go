package source

import "hash/maphash"

// seen remembers the tokens or URLs a paginator has fetched, to detect a loop
// without keeping the strings: each is stored as a 128-bit hash (two 64-bit
// maphash values with independent random seeds) mapped to its page ordinal,
// 30 to 60 bytes of live heap per page whatever the length of the token or URL
// (56 MB measured for a million pages, BenchmarkSeenLiveHeap). A false loop
// needs two of n distinct tokens to collide on 128 bits, with probability
// below n²/2¹²⁹ (≈10⁻²⁷ for a million pages).
//
// The memory grows with the pages of one run; WithMaxPages bounds it. A
// Floyd/Brent cycle finder would need O(1) memory but detects a loop only
// after walking into it again, yielding items twice, so it is not used.
type seen struct {
	seeds [2]maphash.Seed
	pages map[[2]uint64]int
}

// add records at's token or URL and reports the ordinal of the page that
// already had it, if any. Page-number and offset positions are not recorded:
// they only move forward.
func (s *seen) add(at position) (prev int, dup bool) {
	if at.s == "" {
		return 0, false
	}
	if s.pages == nil {
		s.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
		s.pages = make(map[[2]uint64]int)
	}
	k := [2]uint64{maphash.String(s.seeds[0], at.s), maphash.String(s.seeds[1], at.s)}
	if prev, dup = s.pages[k]; dup {
		return prev, true
	}
	s.pages[k] = at.ord
	return 0, false
}
