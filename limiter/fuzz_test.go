package limiter

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// FuzzHostInvariants drives a host's non-blocking core with an arbitrary
// sequence of acquires, releases, gates, quotas and ceilings, including
// hostile values, and checks that the limit stays in [Min, Max], nothing
// runs over the limit, no request starts while the gate is closed, and the
// rate stays a finite number >= 0. The seeds run as a regular test.
func FuzzHostInvariants(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 3, 4, 0, 0, 5, 6, 7})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 3, 3, 3, 3})
	f.Add([]byte{5, 255, 255, 255, 255, 0, 1, 6, 0, 0, 0, 0, 7, 255, 0})
	f.Add([]byte{6, 255, 255, 255, 255, 255, 255, 255, 0, 0, 4, 4, 4, 4, 0, 0})
	f.Add([]byte("a quota, a gate and a storm of 429s"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		const minL, maxL = 2, 50
		l, _ := newTestLimiter(t, Config{Min: minL, Max: maxL, Initial: 4, RetryAfterMax: time.Minute})
		h := l.Host("fuzz")
		now := epoch
		var held []Permit
		num := func(i int) uint32 {
			var b [4]byte
			copy(b[:], ops[min(i, len(ops)):])
			return binary.LittleEndian.Uint32(b[:])
		}
		for i := 0; i < len(ops); i++ {
			switch op := ops[i] % 8; op {
			case 0: // acquire as many as allowed
				for {
					p, retryAt, ok := h.TryAcquireAt(now)
					if !ok {
						if !retryAt.IsZero() && !retryAt.After(now) {
							t.Fatalf("retry at %v is not after now %v", retryAt, now)
						}
						break
					}
					if g := h.Snapshot().GateUntil; !g.IsZero() && now.Before(g) {
						t.Fatalf("acquired at %v while gated until %v", now, g)
					}
					held = append(held, p)
				}
			case 1, 2, 3, 4: // release the oldest with an outcome
				if len(held) > 0 {
					held[0].ReleaseAt(now, Outcome(op))
					held = held[1:]
				}
			case 5: // time passes, up to ~65 s
				now = now.Add(time.Duration(num(i+1)&0xffff) * time.Millisecond)
				i += 4
			case 6: // a quota, possibly hostile
				h.SetQuotaAt(now, Quota{
					Limit:     int(num(i + 1)),
					Remaining: int(int32(num(i + 2))),
					Reset:     now.Add(time.Duration(int32(num(i+3))) * time.Millisecond),
					Window:    time.Duration(num(i+4)%5000) * time.Millisecond,
				})
				i += 4
			case 7: // a gate, possibly hostile
				h.GateAt(now, now.Add(time.Duration(int64(num(i+1))<<20)))
				i += 4
			}
			s := h.Snapshot()
			if s.Limit < minL || s.Limit > maxL {
				t.Fatalf("limit %d outside [%d, %d]", s.Limit, minL, maxL)
			}
			if s.InFlight != len(held) || s.MaxInFlight > maxL {
				t.Fatalf("in flight %d (max %d), held %d", s.InFlight, s.MaxInFlight, len(held))
			}
			if s.Rate < 0 || math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) {
				t.Fatalf("rate %v", s.Rate)
			}
			if g := s.GateUntil; !g.IsZero() && g.After(now.Add(time.Minute)) {
				t.Fatalf("gate %v beyond RetryAfterMax from %v", g, now)
			}
		}
	})
}
