// Package peakmem measures the most memory a run takes, for benchmarks: the
// largest heap in use (garbage not yet collected included), the largest live
// heap a collection marked, and the process's peak resident set.
package peakmem

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// Peaks are the largest figures a Watch saw, in bytes.
type Peaks struct {
	InUse uint64 // heap objects in use, garbage not yet collected included
	Live  uint64 // the live heap the last collection marked
	RSS   uint64 // the process's resident set (Linux's VmHWM); 0 where unknown
}

// Watch samples the heap every 5 ms until Stop.
type Watch struct {
	rss  bool
	stop chan struct{}
	done chan Peaks
}

// Start returns the heap's free pages to the OS, restarts the kernel's count
// of the peak resident set where it can (Linux's clear_refs), and starts
// watching.
func Start() *Watch {
	debug.FreeOSMemory()
	w := &Watch{
		rss:  os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil,
		stop: make(chan struct{}),
		done: make(chan Peaks, 1),
	}
	go w.sample()
	return w
}

// Stop ends the watch and returns its peaks.
func (w *Watch) Stop() Peaks {
	close(w.stop)
	p := <-w.done
	if w.rss {
		p.RSS = peakRSS()
	}
	return p
}

func (w *Watch) sample() {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	var most Peaks
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		most.InUse = max(most.InUse, s[0].Value.Uint64())
		most.Live = max(most.Live, s[1].Value.Uint64())
		select {
		case <-w.stop:
			w.done <- most
			return
		case <-t.C:
		}
	}
}

// LiveHeap collects and returns the live heap.
func LiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// peakRSS returns Linux's VmHWM in bytes, or 0.
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// MiB returns b in MiB, less base when above it (0 otherwise).
func MiB(b, base uint64) float64 { return float64(b-min(b, base)) / (1 << 20) }
