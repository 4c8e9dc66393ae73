package limiter

// Overtaken reports whether a request whose permit was taken after p's has
// succeeded already. A request that then gets no answer in time was lost
// (one the server left hanging, or dropped on the way), not held in a queue:
// the host answers the requests sent behind it, and a caller may release p
// Ignored rather than Dropped, so that a host hanging a share of its requests
// keeps the concurrency its answers earn. The zero Permit is never overtaken.
func (p Permit) Overtaken() bool {
	h := p.h
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.okSeq > h.seqOf(p)
}
