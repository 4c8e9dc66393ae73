package redisstate

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Entry is an item taken from the stream.
type Entry struct {
	ID      string // the stream entry's ID: Finish takes it
	Payload []byte // as AddPage stored it
}

// Read takes up to count items for this worker: first those of workers that
// went silent for longer than the visibility timeout (XAUTOCLAIM), then new
// ones (XREADGROUP), waiting up to block for one. It returns none when there
// is nothing to take now.
func (c *Crawl) Read(ctx context.Context, count int, block time.Duration) ([]Entry, error) {
	var out []Entry
	var err error
	if last := c.lastClaim.Load(); time.Since(time.Unix(0, last)) >= claimEvery {
		c.lastClaim.Store(time.Now().UnixNano())
		out, err = c.autoclaim(ctx, count)
		if err == nil && len(out) >= count {
			// A whole batch: a dead worker's read-ahead may hold many
			// more, so the next Read claims again at once, and its items
			// are taken back as fast as this worker works, not a batch a
			// second.
			c.lastClaim.Store(0)
		}
		if err != nil || len(out) > 0 {
			return out, err
		}
	}
	err = c.retry.do(ctx, "read items", func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, block+commandTimeout)
		defer cancel()
		streams, err := c.rdb.XReadGroup(rctx, &redis.XReadGroupArgs{Group: Group, Consumer: c.o.worker,
			Streams: []string{c.key("items"), ">"}, Count: int64(count), Block: block}).Result()
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				// Redis lost the group (restarted without persistence):
				// create it again and read next time.
				return c.rdb.XGroupCreateMkStream(ctx, c.key("items"), Group, "0").Err()
			}
			return err
		}
		for _, s := range streams {
			out = append(out, entries(s.Messages)...)
		}
		return nil
	})
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return out, err
}

// claimEvery is how often Read looks for the items of silent workers.
const claimEvery = time.Second

// autoclaim takes up to count items that workers took and left silent for
// longer than the visibility timeout.
func (c *Crawl) autoclaim(ctx context.Context, count int) ([]Entry, error) {
	var out []Entry
	err := c.retry.do(ctx, "claim the items of silent workers", func(ctx context.Context) error {
		msgs, _, err := c.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: c.key("items"), Group: Group,
			MinIdle: c.o.visibility, Start: "0-0", Count: int64(count), Consumer: c.o.worker}).Result()
		out = entries(msgs)
		return err
	})
	return out, err
}

func entries(msgs []redis.XMessage) []Entry {
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		p, _ := m.Values["i"].(string)
		out = append(out, Entry{ID: m.ID, Payload: []byte(p)})
	}
	return out
}

// finishScript is done-and-store: if the item is still pending in the group
// (not finished by anyone yet) it is acknowledged, removed from the stream,
// its line appended to the output or failed list and counted, all in one
// step; otherwise nothing is written. It returns 1 when the line was stored.
var finishScript = redis.NewScript(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
return 1
`)

// Finish stores the line of item id (taken by Read) and marks it finished,
// in one step, unless it was finished already (by a worker that took it
// earlier): stored says whether this call wrote the line. A failed item's
// line goes to the failed list.
func (c *Crawl) Finish(ctx context.Context, id string, line []byte, failed bool) (stored bool, err error) {
	list, counter := c.key("out"), "succeeded"
	if failed {
		list, counter = c.key("failed"), "failed"
	}
	err = c.retry.do(ctx, "store an item's line", func(ctx context.Context) error {
		n, err := finishScript.Run(ctx, c.rdb, []string{c.key("items"), list, c.key("meta")}, Group, id, line, counter).Int()
		stored = n == 1
		return err
	})
	return stored, err
}

// Line is an item's line for FinishAll.
type Line struct {
	ID     string // the item's entry, as Read returned it
	Line   []byte
	Failed bool // the line goes to the failed list
}

// finishAllScript is finishScript for many items at once: ARGV holds the
// group, then an (id, line, failed flag) triple per item. It returns a
// string with '1' for each item whose line it stored and '0' for the others.
var finishAllScript = redis.NewScript(`
local ok, out, failed, done = {}, {}, {}, {}
for i = 2, #ARGV, 3 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    done[#done + 1] = ARGV[i]
    if ARGV[i + 2] == '1' then failed[#failed + 1] = ARGV[i + 1] else out[#out + 1] = ARGV[i + 1] end
    ok[#ok + 1] = '1'
  else
    ok[#ok + 1] = '0'
  end
end
if #done > 0 then redis.call('XDEL', KEYS[1], unpack(done)) end
if #out > 0 then
  redis.call('RPUSH', KEYS[2], unpack(out))
  redis.call('HINCRBY', KEYS[4], 'succeeded', #out)
end
if #failed > 0 then
  redis.call('RPUSH', KEYS[3], unpack(failed))
  redis.call('HINCRBY', KEYS[4], 'failed', #failed)
end
return table.concat(ok)
`)

// FinishAll is Finish for many items in one step and one round trip:
// stored[i] says whether lines[i] was written.
func (c *Crawl) FinishAll(ctx context.Context, lines []Line) (stored []bool, err error) {
	args := make([]any, 0, 1+3*len(lines))
	args = append(args, Group)
	for _, l := range lines {
		args = append(args, l.ID, l.Line, boolArg(l.Failed))
	}
	keys := []string{c.key("items"), c.key("out"), c.key("failed"), c.key("meta")}
	err = c.retry.do(ctx, "store items' lines", func(ctx context.Context) error {
		flags, err := finishAllScript.Run(ctx, c.rdb, keys, args...).Text()
		if err != nil {
			return err
		}
		stored = make([]bool, len(lines))
		for i := range stored {
			stored[i] = i < len(flags) && flags[i] == '1'
		}
		return nil
	})
	return stored, err
}

// Hold tells the other workers that this worker still works on ids: their
// visibility timeout starts again. Items finished meanwhile are skipped.
func (c *Crawl) Hold(ctx context.Context, ids []string) error {
	return c.claim(ctx, ids, 0)
}

// Giveback hands ids back at once: another worker (or this one) may take
// them without waiting for the visibility timeout, e.g. when this worker
// stops before finishing them.
func (c *Crawl) Giveback(ctx context.Context, ids []string) error {
	return c.claim(ctx, ids, c.o.visibility)
}

// claim claims ids for this worker with their idle time set to idle.
func (c *Crawl) claim(ctx context.Context, ids []string, idle time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{"XCLAIM", c.key("items"), Group, c.o.worker, 0}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, "IDLE", idle.Milliseconds(), "JUSTID")
	return c.retry.do(ctx, "hold items", func(ctx context.Context) error {
		return c.rdb.Do(ctx, args...).Err()
	})
}

// Finished reports whether the crawl is finished: the listing is exhausted
// and every item listed is done or failed for good.
func (c *Crawl) Finished(ctx context.Context) (bool, error) {
	var done bool
	err := c.retry.do(ctx, "check whether the crawl is finished", func(ctx context.Context) error {
		pipe := c.rdb.Pipeline()
		ex := pipe.HGet(ctx, c.key("meta"), "exhausted")
		n := pipe.XLen(ctx, c.key("items"))
		_, err := pipe.Exec(ctx)
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		done = ex.Val() == "1" && n.Val() == 0
		return nil
	})
	return done, err
}

// nothingLeftScript returns 1 when the listing is exhausted and every item
// left in the stream is pending with the worker ARGV[2] (none left
// included), else 0.
var nothingLeftScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], 'exhausted') ~= '1' then return 0 end
local n = redis.call('XLEN', KEYS[1])
if n == 0 then return 1 end
local p = redis.call('XPENDING', KEYS[1], ARGV[1])
if p[1] == n and #p[4] == 1 and p[4][1][1] == ARGV[2] then return 1 end
return 0
`)

// NothingLeft reports whether there is nothing left for this worker to
// read: the listing is exhausted and every unfinished item is this
// worker's. The crawl is finished once it has finished those.
func (c *Crawl) NothingLeft(ctx context.Context) (bool, error) {
	var none bool
	err := c.retry.do(ctx, "check whether items are left", func(ctx context.Context) error {
		n, err := nothingLeftScript.Run(ctx, c.rdb, []string{c.key("items"), c.key("meta")}, Group, c.o.worker).Int()
		none = n == 1
		return err
	})
	return none, err
}

// Heartbeat records that this worker is alive, and adds counters (e.g.
// requests sent since the last call) to the crawl's.
func (c *Crawl) Heartbeat(ctx context.Context, counters map[string]int64) error {
	return c.retry.do(ctx, "heartbeat", func(ctx context.Context) error {
		pipe := c.rdb.Pipeline()
		until := time.Now().Add(3 * c.o.heartbeat).UnixMilli()
		pipe.ZAdd(ctx, c.key("workers"), redis.Z{Score: float64(until), Member: c.o.worker})
		for name, n := range counters {
			if n != 0 {
				pipe.HIncrBy(ctx, c.key("meta"), "w:"+name, n)
			}
		}
		_, err := pipe.Exec(ctx)
		return err
	})
}

// Leave removes this worker from the live workers.
func (c *Crawl) Leave(ctx context.Context) error {
	return c.retry.do(ctx, "leave", func(ctx context.Context) error {
		return c.rdb.ZRem(ctx, c.key("workers"), c.o.worker).Err()
	})
}

// Heartbeats is the interval of the worker's heartbeats.
func (c *Crawl) Heartbeats() time.Duration { return c.o.heartbeat }
