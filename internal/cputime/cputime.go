// Package cputime reads the CPU time the process has used, for benchmarks
// on a shared machine: unlike a wall-clock rate, the CPU a run takes per
// item hardly moves with what other processes do meanwhile.
package cputime

import "time"

// Process is the CPU time (user and system) the process has used so far,
// every goroutine's; 0 where the platform does not tell (Known is false).
func Process() time.Duration { return process() }

// Known reports whether Process reads the process's CPU time here.
const Known = known
