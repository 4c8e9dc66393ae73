//go:build linux

package limiter

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func init() { runQueueWait = schedstatWait }

// schedstatWait sums the second field of /proc/self/task/*/schedstat: the
// time each of the process's threads has waited on a run queue, in ns.
func schedstatWait() (time.Duration, bool) {
	tasks, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return 0, false
	}
	var sum int64
	read := false
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		sum += v
		read = true
	}
	return time.Duration(sum), read
}
