package mockapi

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Fault is a kind of failure the server injected, as counted in Stats.Faults.
type Fault string

// Fault kinds.
const (
	Fault500       Fault = "500"
	FaultReset     Fault = "reset"
	FaultHang      Fault = "hang"
	FaultMalformed Fault = "malformed"
	FaultSlowBody  Fault = "slow_body"
	// FaultBroken is a 500 from an item that is broken for good (Faults.Permanent).
	FaultBroken Fault = "broken"
)

// unit maps (seed, salt, key, n) to a number in [0, 1) that depends on nothing else.
func unit(seed uint64, salt, key string, n int) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(salt))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(strconv.AppendInt(nil, int64(n), 10))
	// splitmix64's finalizer spreads FNV's weak low bits over the whole word.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// decide returns the fault for attempt n (from 1) at key, the request's path
// and query, or "" for none.
func (f Faults) decide(key string, n int) Fault {
	if n > f.TransientAttempts || f.Error500+f.Reset+f.Hang+f.Malformed+f.SlowBody == 0 {
		return ""
	}
	u := unit(f.Seed, "fault", key, n)
	for _, k := range []struct {
		p     float64
		fault Fault
	}{
		{f.Error500, Fault500}, {f.Reset, FaultReset}, {f.Hang, FaultHang},
		{f.Malformed, FaultMalformed}, {f.SlowBody, FaultSlowBody},
	} {
		if u < k.p {
			return k.fault
		}
		u -= k.p
	}
	return ""
}

// broken reports whether item id is broken for good.
func (f Faults) broken(id int) bool {
	return f.Permanent > 0 && unit(f.Seed, "broken", "", id) < f.Permanent
}

// brokenItems lists, ascending, the items broken for good.
func (sc *Scenario) brokenItems() []int {
	var ids []int
	for id := 1; id <= sc.Items && sc.Faults.Permanent > 0; id++ {
		if sc.Faults.broken(id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// latency is the service time of attempt n at key, since after the server
// started: base ± jitter, drifted, SlowFactor times longer for the slow
// share; repeatable for a seed.
func (sc *Scenario) latency(key string, n int, since time.Duration) time.Duration {
	d := sc.Latency
	if sc.Jitter > 0 {
		u := unit(sc.Faults.Seed, "jitter", key, n)
		d += time.Duration((2*u - 1) * float64(sc.Jitter))
	}
	d = sc.driftedAt(d, since)
	if sc.SlowShare > 0 && unit(sc.Faults.Seed, "slow", key, n) < sc.SlowShare {
		d = time.Duration(float64(d) * sc.SlowFactor)
	}
	return d
}

// inject answers with a fault that replaces the response (500, reset, hang);
// for the others, and for none, it writes nothing and returns the zero outcome.
func (h *Handler) inject(w http.ResponseWriter, r *http.Request, fault Fault) outcome {
	switch fault {
	case Fault500:
		out := errorJSON(w, http.StatusInternalServerError, "injected fault: internal server error")
		out.fault = fault
		return out
	case FaultReset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return outcome{fault: fault, abort: true}
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, not FIN
		}
		_ = conn.Close()
		return outcome{fault: fault}
	case FaultHang:
		if !h.wait(r, h.sc.Faults.HangMax) {
			out, _ := h.interrupted(w, r)
			out.fault = fault
			return out
		}
		out := errorJSON(w, http.StatusGatewayTimeout, "injected fault: gave up after hanging for "+h.sc.Faults.HangMax.String())
		out.fault = fault
		return out
	}
	return outcome{}
}

// writeBody answers 200 with v as JSON, cut short if fault is FaultMalformed
// or trickled out over Faults.SlowBodyDuration if FaultSlowBody.
func (h *Handler) writeBody(w http.ResponseWriter, r *http.Request, v any, fault Fault) outcome {
	if fault != FaultMalformed && fault != FaultSlowBody {
		if h.sc.Gzip && acceptsGzip(r) {
			writeGzipJSON(w, http.StatusOK, v)
		} else {
			writeJSON(w, http.StatusOK, v)
		}
		return outcome{status: http.StatusOK, whole: true}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("mockapi: encode response: " + err.Error())
	}
	out := outcome{status: http.StatusOK, fault: fault}
	if fault == FaultMalformed {
		b = b[:len(b)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if fault == FaultMalformed {
		_, _ = w.Write(b)
		return out
	}
	const chunks = 10
	rc := http.NewResponseController(w)
	for i := range chunks {
		_, _ = w.Write(b[i*len(b)/chunks : (i+1)*len(b)/chunks])
		_ = rc.Flush()
		if i < chunks-1 && !h.wait(r, h.sc.Faults.SlowBodyDuration/chunks) {
			return out // the body stays short: the connection is closed
		}
	}
	out.whole = true
	return out
}
