package limiter

// ledger records the permits a host has out, so that a permit released a
// second time is caught instead of freeing a slot it no longer holds. Each
// permit names a slot and the slot's generation when it was taken; a slot's
// generation is odd while its permit is out.
type ledger struct {
	gens []uint32
	free []uint32
}

// open records a new permit and returns its slot and generation.
func (l *ledger) open() (slot, gen uint32) {
	if n := len(l.free); n > 0 {
		slot = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		slot = uint32(len(l.gens))
		l.gens = append(l.gens, 0)
	}
	l.gens[slot]++
	return slot, l.gens[slot]
}

// close records the end of the permit (slot, gen); it reports false when that
// permit is not out: it was released already.
func (l *ledger) close(slot, gen uint32) bool {
	if int(slot) >= len(l.gens) || l.gens[slot] != gen || gen%2 == 0 {
		return false
	}
	l.gens[slot]++
	l.free = append(l.free, slot)
	return true
}
