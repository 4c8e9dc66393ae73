package crawl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
	"github.com/politely/politely/state/redisstate"
)

// WithRedis makes the crawl one worker of a crawl shared through the Redis
// at url (package redisstate): the listing, the items, their output lines
// and each host's rate and gate live there, and any number of processes
// with the same config work on it together. worker names this process ("":
// host name and PID). The output and failed files are written by Export.
func WithRedis(url, worker string) RunOption {
	return func(o *runOptions) { o.redisURL, o.worker = url, worker }
}

// distributed is a crawl's Redis side, as one worker runs it.
type distributed struct {
	c         *redisstate.Crawl
	lines     chan redisstate.Line // to the finisher
	finishing atomic.Int64         // lines handed to the finisher
	finished  atomic.Int64         // lines the finisher stored (or found stored)
	room      chan struct{}        // the engine finished an item
	held      held
	dead      atomic.Pointer[error] // the walker's error that ends the crawl
	sent      counters              // what the heartbeats have added to the crawl's counters
}

// counters are a worker's request counts, as the last heartbeat added them.
type counters struct{ requests, retries, throttled int64 }

// openRedis joins the crawl cfg names in the Redis the options give: a
// changed config is a *ConfigError (exit 2), Redis unreachable an error
// naming the URL without its password.
func openRedis(ctx context.Context, cfg *Config, o runOptions) (*redisstate.Crawl, error) {
	if o.resetState {
		rdb, err := redisstate.Connect(ctx, o.redisURL)
		if err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
		err = redisstate.Reset(ctx, rdb, cfg.Fingerprint())
		_ = rdb.Close()
		if err != nil {
			return nil, fmt.Errorf("crawl: --reset-state: %w", err)
		}
	}
	c, err := OpenRedis(ctx, cfg, o.redisURL, redisstate.WithWorker(o.worker), redisstate.WithLogger(o.log),
		redisstate.WithVisibility(Visibility(cfg)))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// OpenRedis opens the crawl cfg names in the Redis at url, with the CLI's
// errors: a database holding a crawl of another config is a *ConfigError
// wrapping ErrStateMismatch.
func OpenRedis(ctx context.Context, cfg *Config, url string, opts ...redisstate.Option) (*redisstate.Crawl, error) {
	c, err := redisstate.Open(ctx, url, cfg.Fingerprint(), opts...)
	var me *redisstate.MismatchError
	switch {
	case errors.As(err, &me):
		return nil, &ConfigError{File: cfg.File, Key: "source", Msg: ErrStateMismatch.Error() + " (" + me.Error() + ")", Err: ErrStateMismatch}
	case err != nil:
		return nil, fmt.Errorf("crawl: %w", err)
	}
	return c, nil
}

// Visibility is how long an item taken by a worker that went silent waits
// before another worker takes it: twice limits.timeout.
func Visibility(cfg *Config) time.Duration { return 2 * cfg.Limits.Timeout }

// sharedOption makes the limiter share each host's rate and gate through
// Redis when the crawl runs on it.
func (o runOptions) sharedOption() []limiter.Option {
	if o.redis == nil {
		return nil
	}
	return []limiter.Option{limiter.WithShared(redisstate.NewShared(o.redis))}
}

// runDistributed is run for a worker of a crawl in Redis: it walks the
// listing when it holds the lease, works on the items, and ends when the
// crawl is finished (every worker then exits 0), or when ctx ends (its items
// are handed back to the others).
func (r *runner) runDistributed(ctx context.Context) (Summary, error) {
	d := r.dist
	c := d.c
	defer c.Close()
	joined, err := c.Status(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("crawl: %w", err)
	}
	r.o.log.Info("joined the crawl in redis", zap.String("redis", c.URL()), zap.String("worker", c.Worker()),
		zap.Int64("listed", joined.Items.Listed), zap.Int64("done", joined.Items.Done), zap.Int64("failed", joined.Items.Failed))
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { r.keepAlive(bg) })
	wg.Go(func() {
		if err := r.walk(bg); err != nil && bg.Err() == nil {
			d.dead.CompareAndSwap(nil, &err)
		}
	})
	var finishing sync.WaitGroup
	finishing.Go(d.finisher)

	st, err := r.crawl(ctx, nil)
	close(d.lines)
	finishing.Wait()
	stopBg()
	wg.Wait()
	if errp := d.dead.Load(); errp != nil && err == nil {
		err = fmt.Errorf("crawl: %w", *errp)
	}

	end, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ids := d.held.all(); len(ids) > 0 {
		if gerr := c.Giveback(end, ids); gerr != nil {
			r.o.log.Warn("could not hand unfinished items back: others take them after the visibility timeout", zap.Error(gerr))
		}
	}
	if herr := r.heartbeat(end); herr != nil {
		err = errors.Join(err, fmt.Errorf("crawl: %w", herr))
	}
	_ = c.Leave(end)
	sum := Summary{
		Requests:       r.meter.requests.Load(),
		Retries:        r.taskRetries.Load() + r.retrier.retries.Load(),
		Throttled:      r.meter.throttled.Load(),
		MaxConcurrency: r.meter.maxInFlight.Load(),
		FinalLimit:     st.FinalLimit,
		DurationS:      math.Round(time.Since(r.began).Seconds()*1000) / 1000,
		Interrupted:    ctx.Err() != nil,
		Resumed:        joined.Items.Listed > 0, // joined a crawl under way
	}
	if sum.FinalLimit == 0 {
		sum.FinalLimit = r.lim.Limit()
	}
	if r.repeats != nil {
		sum.Repeated = r.repeats.n.Load() // the listing this worker walked
	}
	// The crawl's figures, every worker's included.
	if cs, serr := c.Status(end); serr == nil {
		sum.Pages, sum.Succeeded, sum.Failed = cs.Pages, cs.Items.Done, cs.Items.Failed
		sum.Items = cs.Items.Listed
		sum.Requests, sum.Retries, sum.Throttled = cs.Requests, cs.Retries, cs.Throttled
	} else if err == nil {
		err = fmt.Errorf("crawl: %w", serr)
	}
	if sum.Interrupted {
		err = fmt.Errorf("crawl interrupted: %w", errors.Join(ctx.Err(), err))
	} else if err == nil {
		r.o.log.Info("the crawl is finished: politely export writes its output and failed files")
	}
	return sum, err
}

// keepAlive sends the worker's heartbeat and holds its items (so that no
// other worker takes them while it works on them) until ctx ends.
func (r *runner) keepAlive(ctx context.Context) {
	d := r.dist
	hb := d.c.Heartbeats()
	hold := max(time.Second, d.c.Visibility()/3)
	t := time.NewTicker(min(hb, hold))
	defer t.Stop()
	var lastHold time.Time
	for {
		if err := r.heartbeat(ctx); err != nil && ctx.Err() == nil {
			r.o.log.Warn("heartbeat failed", zap.Error(err))
		}
		if time.Since(lastHold) >= hold {
			lastHold = time.Now()
			if err := d.c.Hold(ctx, d.held.all()); err != nil && ctx.Err() == nil {
				r.o.log.Warn("could not hold this worker's items", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// heartbeat tells Redis this worker is alive and adds its counters.
func (r *runner) heartbeat(ctx context.Context) error {
	d := r.dist
	now := counters{requests: r.meter.requests.Load(), retries: r.taskRetries.Load() + r.retrier.retries.Load(),
		throttled: r.meter.throttled.Load()}
	delta := map[string]int64{"requests": now.requests - d.sent.requests, "retries": now.retries - d.sent.retries,
		"throttled": now.throttled - d.sent.throttled}
	if err := d.c.Heartbeat(ctx, delta); err != nil {
		return err
	}
	d.sent = now
	return nil
}

// walk takes the listing lease whenever it is free and walks the listing
// from the cursor in Redis, until the listing is exhausted or ctx ends.
func (r *runner) walk(ctx context.Context) error {
	c := r.dist.c
	for {
		l, ok, err := c.TakeLease(ctx)
		switch {
		case err != nil:
			return err
		case ok && l.Exhausted:
			return nil
		case ok:
			err := r.walkLease(ctx, l.Cursor)
			if errors.Is(err, redisstate.ErrLeaseLost) {
				r.o.log.Warn("lost the listing lease: another worker continues the listing")
				continue
			}
			// Done, stopped or failed: the lease goes to the next worker at once.
			end, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = c.ReleaseLease(end)
			cancel()
			if err != nil || ctx.Err() != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.LeaseTTL() / 2):
		}
	}
}

// walkLease walks the listing from cursor under the lease, renewing it,
// and stores each page's items with the next cursor in one step. It stops
// adding pages while the backlog of unfinished items is large.
func (r *runner) walkLease(ctx context.Context, cursor string) error {
	c := r.dist.c
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil)
	wg.Go(func() {
		t := time.NewTicker(c.LeaseTTL() / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.RenewLease(ctx); err != nil && ctx.Err() == nil {
					cancel(err)
					return
				}
			}
		}
	})
	r.o.log.Info("walking the listing", zap.String("from", cursor))
	src, err := r.listing.source(source.Cursor(cursor))
	if err != nil {
		return err
	}
	defer src.Close()
	highWater := int64(max(minBacklog, 4*r.cfg.Limits.Concurrency.Max))
	store := pageStore{c: c}
	defer store.wait()
	var page [][]byte
	for {
		it, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			if _, err := store.wait(); err != nil {
				return err
			}
			return c.Exhaust(ctx, cursor)
		}
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// A repeat of an item this walker stored is not stored again (see
		// repeats); one stored by a walker before a lease changed hands is.
		if !r.repeated(it.Value) {
			b, err := encodeStored(it.Value)
			if err != nil {
				return fmt.Errorf("listing: encode an item of %s: %w", redact(it.Value.Page), err)
			}
			page = append(page, b)
		}
		if it.Index < it.Count-1 {
			continue
		}
		backlog, err := store.add(ctx, cursor, string(it.Next), it.Next == "", page)
		if err != nil {
			return err
		}
		cursor, page = string(it.Next), nil
		if it.Next == "" {
			_, err := store.wait()
			return err
		}
		for backlog > highWater {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backlogPoll):
			}
			if backlog, err = c.Backlog(ctx); err != nil {
				return err
			}
		}
	}
}

// pageStore stores the walker's pages in the background, one at a time and
// in order (a page goes once the one before it is stored), so that the
// walker fetches and encodes the next page meanwhile.
type pageStore struct {
	c       *redisstate.Crawl
	storing chan pageStored // the page being stored; nil when none is
}

// pageStored is the outcome of storing a page: the backlog after it.
type pageStored struct {
	backlog int64
	err     error
}

// add waits until the page before is stored, then starts storing this one
// (fetched from from; see Crawl.AddPage). It returns the backlog after the
// page before, or its error.
func (p *pageStore) add(ctx context.Context, from, next string, last bool, items [][]byte) (int64, error) {
	backlog, err := p.wait()
	if err != nil {
		return 0, err
	}
	done := make(chan pageStored, 1)
	p.storing = done
	go func() {
		b, err := p.c.AddPage(ctx, from, next, last, items)
		done <- pageStored{backlog: b, err: err}
	}()
	return backlog, nil
}

// wait waits until the page being stored (if any) is, and returns the
// backlog after it.
func (p *pageStore) wait() (int64, error) {
	if p.storing == nil {
		return 0, nil
	}
	res := <-p.storing
	p.storing = nil
	return res.backlog, res.err
}

// The walker stops adding pages while more than minBacklog items (or four
// times limits.concurrency.max) are listed and not finished, and looks
// again every backlogPoll: a fast crawl finishes thousands of items a
// second, and must not run out while the walker waits.
const (
	minBacklog  = 4000
	backlogPoll = 50 * time.Millisecond
)

// streamItems is the engine's source in Redis mode: the items of the stream,
// taken in batches, until the crawl is finished.
type streamItems struct {
	r   *runner
	buf []redisstate.Entry

	// The worker's pace, in items finished per second, and its concurrency
	// limits set how many items it works on at once (see holdLimit). Until
	// the pace is measured, a read takes redisBatch items.
	lastAt   time.Time
	lastN    int64
	pace     float64
	measured bool

	exhausted bool      // the listing has ended
	checked   time.Time // when exhausted was last read from Redis

	dry bool // the last read got fewer items than it asked for
}

// holdLimit is how many items the worker may work on now (read and not
// finished by the engine; lines waiting to be stored do not count), at most
// maxHold: about two seconds of its work while the listing goes on (at
// least minHold), so that it keeps busy (items of a host that is gated wait
// in its hold); once the listing has ended, twice its concurrency limits
// and a quarter of a second of its work, however few that is. A read comes
// when it works on half of its hold, so its consumers do not wait for items
// while the stream has some, and the workers' last items end within about
// a round trip and an eighth of a second of each other: a worker's last
// items run at its share of a host's concurrency, and one left alone with
// seconds of them would end the crawl at that share (a worker another one
// leads at one request in flight works through 32 items in 0.6 s of a
// 20 ms server).
func (s *streamItems) holdLimit() int {
	now := time.Now()
	switch dt := now.Sub(s.lastAt); {
	case s.lastAt.IsZero():
		s.lastAt, s.lastN = now, s.r.dist.finishing.Load()
	case dt >= 250*time.Millisecond:
		n := s.r.dist.finishing.Load()
		rate := float64(n-s.lastN) / dt.Seconds()
		if s.measured {
			rate = 0.5*s.pace + 0.5*rate
		}
		s.pace, s.measured = rate, true
		s.lastAt, s.lastN = now, n
	}
	if !s.measured {
		return redisBatch
	}
	if !s.exhausted {
		return min(maxHold, max(minHold, int(2*s.pace)))
	}
	return min(maxHold, 2*s.r.lim.Limit()+int(s.pace/4))
}

// The bounds of holdLimit, and how often a worker reads whether the listing
// has ended.
const (
	minHold       = 32
	maxHold       = 16 * redisBatch
	exhaustedPoll = 250 * time.Millisecond
)

// readBlock is how long a read waits for an item before it checks whether
// the crawl is finished.
const readBlock = 100 * time.Millisecond

func (s *streamItems) Next(ctx context.Context) (source.Item[listed], error) {
	d := s.r.dist
	for {
		if len(s.buf) > 0 {
			e := s.buf[0]
			s.buf = s.buf[1:]
			l, err := decodeStored(e.Payload, s.r.cfg.Task != nil)
			if err != nil {
				line, _ := json.Marshal(failedLine{Error: "the item stored in redis is unreadable: " + err.Error()})
				if _, err := d.c.Finish(ctx, e.ID, line, true); err != nil {
					return source.Item[listed]{}, err
				}
				d.held.drop(e.ID)
				continue
			}
			// The entry's ID is the item's place in the crawl (tries counts
			// attempts by it).
			l.Cursor, l.ID = source.Cursor(e.ID), e.ID
			return source.Item[listed]{Value: l, Count: 1, Page: l.Cursor}, nil
		}
		if errp := d.dead.Load(); errp != nil {
			return source.Item[listed]{}, *errp
		}
		if ctx.Err() != nil {
			return source.Item[listed]{}, ctx.Err()
		}
		if !s.exhausted && time.Since(s.checked) >= exhaustedPoll {
			s.checked = time.Now()
			ex, err := d.c.Exhausted(ctx)
			if err != nil {
				return source.Item[listed]{}, err
			}
			s.exhausted = ex
		}
		limit := s.holdLimit()
		// Below half the limit, not at once: reads take several items.
		if d.working() > limit/2 {
			select {
			case <-ctx.Done():
			case <-d.room:
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if s.dry {
			// The stream ran dry: the items left may all be this worker's,
			// and then the crawl ends when the engine has finished them.
			none, err := d.c.NothingLeft(ctx)
			if err != nil {
				return source.Item[listed]{}, err
			}
			if none {
				return source.Item[listed]{}, io.EOF
			}
		}
		want := min(redisBatch, limit-d.working())
		got, err := d.c.Read(ctx, want, readBlock)
		if err != nil {
			return source.Item[listed]{}, err
		}
		s.dry = len(got) < want
		if len(got) == 0 {
			continue
		}
		for _, e := range got {
			d.held.add(e.ID)
		}
		s.buf = got
	}
}

// finish hands an item's line to the finisher, which stores it in Redis,
// marking the item done (or failed) for good unless another worker finished
// it first. The item stays this worker's until then: a crash before the
// store leaves it to another worker, which does it again.
func (d *distributed) finish(it listed, line []byte, failed bool) error {
	if errp := d.dead.Load(); errp != nil {
		return *errp
	}
	d.finishing.Add(1)
	select {
	case d.room <- struct{}{}:
	default:
	}
	d.lines <- redisstate.Line{ID: it.ID, Line: line, Failed: failed}
	return nil
}

// working is how many items this worker took that the engine has not
// finished yet (those whose lines wait to be stored are not counted).
func (d *distributed) working() int {
	return d.held.len() - int(d.finishing.Load()-d.finished.Load())
}

// finishBatch is the most lines the finisher stores in one round trip, and
// finishGather how long it gathers lines before it stores them: a line
// waits that much longer (in memory, its item still this worker's) so that
// a slow crawl stores several per round trip too.
const (
	finishBatch  = 256
	finishGather = 50 * time.Millisecond
)

// finisher stores the lines finish hands it, in batches of what arrived
// while the previous batch was being stored, until lines is closed and
// drained. A store that fails for good ends the crawl.
func (d *distributed) finisher() {
	batch := make([]redisstate.Line, 0, finishBatch)
	for l := range d.lines {
		batch = append(batch[:0], l)
		gather := time.NewTimer(finishGather)
	more:
		for len(batch) < finishBatch {
			select {
			case l, ok := <-d.lines:
				if !ok {
					break more
				}
				batch = append(batch, l)
			case <-gather.C:
				break more
			}
		}
		gather.Stop()
		if d.dead.Load() != nil {
			continue // the crawl is ending: these items go to other workers
		}
		ctx, cancel := context.WithTimeout(context.Background(), redisstate.DefaultOutage+time.Minute)
		_, err := d.c.FinishAll(ctx, batch)
		cancel()
		if err != nil {
			d.dead.CompareAndSwap(nil, &err)
			continue
		}
		for _, l := range batch {
			d.held.drop(l.ID)
		}
		d.finished.Add(int64(len(batch)))
	}
}

// held is the set of items this worker took and has not finished.
type held struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (h *held) add(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ids == nil {
		h.ids = map[string]struct{}{}
	}
	h.ids[id] = struct{}{}
}

func (h *held) drop(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.ids, id)
}

func (h *held) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ids)
}

func (h *held) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.ids))
	for id := range h.ids {
		out = append(out, id)
	}
	return out
}

// redisBatch is how many items a worker takes from the stream at once.
const redisBatch = 128
