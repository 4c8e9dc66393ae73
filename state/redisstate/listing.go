package redisstate

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLeaseLost is returned by AddPage and Exhaust when this worker no longer
// holds the listing lease: another worker continues from the stored cursor.
var ErrLeaseLost = errors.New("the listing lease was lost")

// Lease is the listing as a worker takes it over: where to resume.
type Lease struct {
	Cursor    string // where the listing resumes ("" is its beginning)
	Exhausted bool   // the listing has ended: there is nothing to walk
}

// takeScript takes the lease if it is free (or already this worker's) and
// returns the stored cursor and the exhausted flag; nil when another worker
// holds it.
var takeScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], 'exhausted') == '1' then return {'', 1} end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return nil end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {redis.call('HGET', KEYS[2], 'cursor') or '', 0}
`)

// TakeLease takes the listing lease if no live worker holds it. ok is false
// when another worker holds it; a lease of an exhausted listing is not
// taken (Exhausted is set).
func (c *Crawl) TakeLease(ctx context.Context) (l Lease, ok bool, err error) {
	err = c.retry.do(ctx, "take the listing lease", func(ctx context.Context) error {
		v, err := takeScript.Run(ctx, c.rdb, []string{c.key("lease"), c.key("meta")}, c.o.worker, c.o.lease.Milliseconds()).Slice()
		if errors.Is(err, redis.Nil) {
			ok = false
			return nil
		}
		if err != nil {
			return err
		}
		l = Lease{Cursor: v[0].(string), Exhausted: v[1].(int64) == 1}
		ok = true
		return nil
	})
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	return l, ok, err
}

// renewScript extends the lease if this worker holds it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// RenewLease extends the lease; it returns ErrLeaseLost when this worker no
// longer holds it.
func (c *Crawl) RenewLease(ctx context.Context) error {
	var held bool
	err := c.retry.do(ctx, "renew the listing lease", func(ctx context.Context) error {
		n, err := renewScript.Run(ctx, c.rdb, []string{c.key("lease")}, c.o.worker, c.o.lease.Milliseconds()).Int()
		held = n == 1
		return err
	})
	if err != nil {
		return err
	}
	if !held {
		return ErrLeaseLost
	}
	return nil
}

// releaseScript gives the lease up if this worker holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// ReleaseLease gives the lease up, so that another worker takes it at once.
func (c *Crawl) ReleaseLease(ctx context.Context) error {
	return c.retry.do(ctx, "release the listing lease", func(ctx context.Context) error {
		return releaseScript.Run(ctx, c.rdb, []string{c.key("lease")}, c.o.worker).Err()
	})
}

// LeaseTTL is how long the lease outlives its holder's last renewal.
func (c *Crawl) LeaseTTL() time.Duration { return c.o.lease }

// addPageScript stores one page of the listing: its items go to the stream
// and the cursor moves to the next page, in one step, only if this worker
// holds the lease and the stored cursor is the one the page was fetched
// from (so a retried call adds nothing twice). It returns the stream's
// length, or -1 when the lease is lost.
var addPageScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if (redis.call('HGET', KEYS[2], 'cursor') or '') == ARGV[3] then
  for i = 6, #ARGV do redis.call('XADD', KEYS[3], '*', 'i', ARGV[i]) end
  redis.call('HSET', KEYS[2], 'cursor', ARGV[4])
  if #ARGV > 5 then
    redis.call('HINCRBY', KEYS[2], 'pages', 1)
    redis.call('HINCRBY', KEYS[2], 'listed', #ARGV - 5)
  end
  if ARGV[5] == '1' then redis.call('HSET', KEYS[2], 'exhausted', '1') end
end
return redis.call('XLEN', KEYS[3])
`)

// AddPage stores a page fetched from cursor from: its items (opaque
// payloads) join the stream and the listing resumes at next; last ends the
// listing. It returns the number of items in the stream (not finished yet),
// or ErrLeaseLost.
func (c *Crawl) AddPage(ctx context.Context, from, next string, last bool, items [][]byte) (backlog int64, err error) {
	args := make([]any, 0, 5+len(items))
	args = append(args, c.o.worker, c.o.lease.Milliseconds(), from, next, boolArg(last))
	for _, it := range items {
		args = append(args, it)
	}
	err = c.retry.do(ctx, "store a listing page", func(ctx context.Context) error {
		backlog, err = addPageScript.Run(ctx, c.rdb, []string{c.key("lease"), c.key("meta"), c.key("items")}, args...).Int64()
		return err
	})
	if err == nil && backlog < 0 {
		return 0, ErrLeaseLost
	}
	return backlog, err
}

// Exhaust records that the listing ended after the page fetched from from.
func (c *Crawl) Exhaust(ctx context.Context, from string) error {
	_, err := c.AddPage(ctx, from, from, true, nil)
	return err
}

// Exhausted reports whether the listing has ended: no item joins the
// stream any more.
func (c *Crawl) Exhausted(ctx context.Context) (ex bool, err error) {
	err = c.retry.do(ctx, "check whether the listing has ended", func(ctx context.Context) error {
		v, err := c.rdb.HGet(ctx, c.key("meta"), "exhausted").Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		ex = v == "1"
		return err
	})
	return ex, err
}

// Backlog is the number of items in the stream: listed and not finished.
func (c *Crawl) Backlog(ctx context.Context) (n int64, err error) {
	err = c.retry.do(ctx, "read the backlog", func(ctx context.Context) error {
		n, err = c.rdb.XLen(ctx, c.key("items")).Result()
		return err
	})
	return n, err
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
