package engine

import "github.com/politely/politely/limiter"

// maxTabled bounds the hosts a run's hostTable holds. It is well under what
// a Limiter keeps by default (limiter.DefaultMaxHosts), so that the table
// holds few hosts the Limiter forgot: the hosts found since the table last
// started afresh are among the Limiter's most recent.
const maxTabled = 4096

// hostTable finds the limiter's Host of a key for a run's consumers, which
// look hosts up under takeMu, so that a plain map serves them: cheaper than
// the Limiter's table, which is safe for concurrent use. The last host found
// answers a run over one host without a hash. A host the Limiter forgot is
// got again. The table starts afresh once it holds max hosts, so its memory
// does not follow the hosts a run sees. Guarded by takeMu.
type hostTable struct {
	l     *limiter.Limiter
	max   int
	last  *limiter.Host
	byKey map[string]*limiter.Host
	found func() // called after a host not in the table was got; may be nil
}

func newHostTable(l *limiter.Limiter, max int) *hostTable {
	return &hostTable{l: l, max: max, byKey: map[string]*limiter.Host{}}
}

// get returns the Host of key.
func (t *hostTable) get(key string) *limiter.Host {
	if h := t.last; h != nil && h.Key() == key && !h.Forgotten() {
		return h
	}
	h := t.byKey[key]
	if h == nil || h.Forgotten() {
		h = t.l.Host(key)
		if len(t.byKey) >= t.max {
			clear(t.byKey)
		}
		t.byKey[h.Key()] = h
		if t.found != nil {
			t.found()
		}
	}
	t.last = h
	return h
}
