package redisstate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Status is a crawl's progress as Redis holds it.
type Status struct {
	Fingerprint string       `json:"fingerprint"`
	Started     bool         `json:"started"`   // a worker joined the crawl: Redis holds it
	Finished    bool         `json:"finished"`  // the listing is exhausted and every item done or failed for good
	Exhausted   bool         `json:"exhausted"` // the listing has ended
	Pages       int64        `json:"pages"`     // listing pages stored
	Items       ItemCounts   `json:"items"`
	Workers     []string     `json:"workers"`       // live workers
	Lister      string       `json:"listing_lease"` // the worker walking the listing, "" when none
	Requests    int64        `json:"requests"`      // the workers' requests, as their heartbeats added them up
	Retries     int64        `json:"retries"`
	Throttled   int64        `json:"throttled"`
	Hosts       []HostStatus `json:"hosts"`
}

// ItemCounts counts a crawl's items.
type ItemCounts struct {
	Listed   int64 `json:"listed"`
	Done     int64 `json:"done"`
	Failed   int64 `json:"failed"`
	Pending  int64 `json:"pending"`   // listed, not taken by a worker yet
	InFlight int64 `json:"in_flight"` // taken by a worker, not finished
}

// HostStatus is a host's shared politeness.
type HostStatus struct {
	Host      string    `json:"host"`
	Rate      float64   `json:"rate"`                // requests/s for all workers together; 0 = no rate applies
	GateUntil time.Time `json:"gate_until,omitzero"` // zero when the gate is open
}

// Status reads the crawl's progress.
func (c *Crawl) Status(ctx context.Context) (Status, error) {
	st := Status{Fingerprint: c.fp, Workers: []string{}, Hosts: []HostStatus{}}
	err := c.retry.do(ctx, "read the status", func(ctx context.Context) error {
		pipe := c.rdb.Pipeline()
		meta := pipe.HGetAll(ctx, c.key("meta"))
		xlen := pipe.XLen(ctx, c.key("items"))
		pend := pipe.XPending(ctx, c.key("items"), Group)
		now := time.Now()
		workers := pipe.ZRangeByScore(ctx, c.key("workers"), &redis.ZRangeBy{Min: strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"})
		lease := pipe.Get(ctx, c.key("lease"))
		hosts := pipe.HGetAll(ctx, c.key("hosts"))
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) && !isNoGroup(err) {
			return err
		}
		m := meta.Val()
		n := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
		st.Started = len(m) > 0
		st.Exhausted = m["exhausted"] == "1"
		st.Pages, st.Items.Listed = n("pages"), n("listed")
		st.Items.Done, st.Items.Failed = n("succeeded"), n("failed")
		st.Requests, st.Retries, st.Throttled = n("w:requests"), n("w:retries"), n("w:throttled")
		if p, err := pend.Result(); err == nil {
			st.Items.InFlight = p.Count
		}
		st.Items.Pending = max(0, xlen.Val()-st.Items.InFlight)
		st.Finished = st.Exhausted && xlen.Val() == 0
		st.Workers = append(st.Workers, workers.Val()...)
		st.Lister = lease.Val()
		st.Hosts = st.Hosts[:0]
		for h, r := range hosts.Val() {
			rate, _ := strconv.ParseFloat(r, 64)
			st.Hosts = append(st.Hosts, HostStatus{Host: h, Rate: rate})
		}
		slices.SortFunc(st.Hosts, func(a, b HostStatus) int {
			if a.Host < b.Host {
				return -1
			}
			return 1
		})
		if len(st.Hosts) > 0 {
			gp := c.rdb.Pipeline()
			gates := make([]*redis.StringCmd, len(st.Hosts))
			for i, h := range st.Hosts {
				gates[i] = gp.Get(ctx, c.key("gate:"+h.Host))
			}
			if _, err := gp.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			for i, g := range gates {
				if ms, err := strconv.ParseInt(g.Val(), 10, 64); err == nil && ms > now.UnixMilli() {
					st.Hosts[i].GateUntil = time.UnixMilli(ms).UTC()
				}
			}
		}
		return nil
	})
	return st, err
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// exportChunk is how many lines Export reads per round trip.
const exportChunk = 5000

// Export writes the crawl's output lines to outPath and its failed lines to
// failedPath, each line once, in the order the items finished. Each file is
// written to a temporary file next to it, synced and renamed, so a reader
// never sees a partial line or a partial file. It returns the number of
// lines written to each.
func (c *Crawl) Export(ctx context.Context, outPath, failedPath string) (out, failed int64, err error) {
	if out, err = c.exportList(ctx, c.key("out"), outPath); err != nil {
		return 0, 0, err
	}
	if failed, err = c.exportList(ctx, c.key("failed"), failedPath); err != nil {
		return out, 0, err
	}
	return out, failed, nil
}

func (c *Crawl) exportList(ctx context.Context, key, path string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("export %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing left to remove
	w := bufio.NewWriterSize(tmp, 1<<20)
	var n int64
	for {
		var lines []string
		err := c.retry.do(ctx, "read the lines", func(ctx context.Context) error {
			var err error
			lines, err = c.rdb.LRange(ctx, key, n, n+exportChunk-1).Result()
			return err
		})
		if err != nil {
			_ = tmp.Close()
			return 0, err
		}
		for _, l := range lines {
			_, _ = w.WriteString(l)
			_ = w.WriteByte('\n')
		}
		n += int64(len(lines))
		if len(lines) < exportChunk {
			break
		}
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("export %s: %w", path, err)
	}
	return n, nil
}
