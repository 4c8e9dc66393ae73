package crawl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/source"
)

// outputLine is a line of the output file: with a task, its URL, status and
// body; without one, the page's URL and the item.
type outputLine struct {
	URL      string `json:"url"`
	Status   int    `json:"status,omitempty"`
	Data     any    `json:"data"`
	FinalURL string `json:"final_url,omitempty"` // where a redirected task's answer came from
}

// failedLine is a line of the failed file.
type failedLine struct {
	URL      string `json:"url"`
	Error    string `json:"error"`
	Status   int    `json:"status"`
	Attempts int    `json:"attempts"`
}

// crawl runs the listing through the engine and returns its stats.
func (r *runner) crawl(ctx context.Context) (engine.Stats, error) {
	if r.robots != nil {
		ok, err := r.robots.allowed(ctx, r.cfg.Source.URL)
		if err != nil {
			return engine.Stats{}, err
		}
		if !ok {
			return engine.Stats{}, fmt.Errorf("source.url %s: %w", r.cfg.Source.URL.Redacted(), errDisallowed)
		}
	}
	var from source.Cursor
	if r.state != nil {
		from = r.state.from.Cursor
	}
	src, err := r.listing.source(from)
	if err != nil {
		return engine.Stats{}, fmt.Errorf("crawl: %w", err)
	}
	// A write error (a full disk) ends the crawl: tasks cannot succeed
	// without their output.
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var writeErr error
	var writeOnce sync.Once
	fail := func(err error) error {
		writeOnce.Do(func() { writeErr = err; cancel(err) })
		return engine.Permanent(err)
	}

	handle := func(ctx context.Context, it listed) error {
		r.tries.start(it)
		if r.cfg.Task == nil {
			if err := r.writeOutput(it, outputLine{URL: it.Page, Data: it.Item}); err != nil {
				return fail(err)
			}
			r.tries.end(it)
			r.done.succeeded.Add(1)
			return nil
		}
		u, err := r.cfg.Task.URL.Resolve(r.cfg.Source.URL, it.Item)
		if err != nil {
			return engine.Permanent(fmt.Errorf("task.url: %w", err))
		}
		resp, err := r.fetch.get(ctx, r.cfg.Task.Method, u.String())
		if err != nil {
			return err
		}
		data, replaced, err := rawJSON(resp)
		if err != nil {
			return err
		}
		if replaced > 0 {
			r.o.log.Warn("the answer holds invalid UTF-8: written with U+FFFD",
				zap.String("url", redact(u.String())), zap.Int("bytes", replaced))
		}
		line := outputLine{URL: u.String(), Status: resp.status, Data: data}
		if resp.hops > 0 {
			line.FinalURL = resp.url.String()
		}
		if err := r.writeOutput(it, line); err != nil {
			return fail(err)
		}
		r.tries.end(it)
		r.done.succeeded.Add(1)
		return nil
	}

	opts := []engine.Option{
		engine.WithLimitFunc(r.lim.Limit),
		engine.WithMaxConsumers(r.cfg.Limits.Concurrency.Max),
		engine.WithRetry(r.retry),
		engine.WithDrainTimeout(drainTimeout(r.cfg.Limits.Timeout)),
		engine.WithLogger(r.o.log),
		engine.WithFailureSink(func(f engine.Failure[listed]) {
			r.tries.end(f.Item.Value)
			if f.Reason == engine.ReasonInterrupted {
				return // not failed for good: a resumed crawl does it again
			}
			if err := r.writeFailed(f.Item.Value, r.failedLine(f)); err != nil {
				fail(err)
			}
			r.done.failed.Add(1)
		}),
		engine.WithProgress(r.o.interval, r.progress),
	}
	if r.state != nil {
		opts = append(opts, r.state.engineOptions()...)
	}
	st, err := engine.Run(runCtx, src, handle, opts...)
	if writeErr != nil {
		return st, fmt.Errorf("crawl: %w", writeErr)
	}
	if err != nil {
		return st, fmt.Errorf("crawl: %w", err)
	}
	return st, nil
}

// failedLine describes an item that failed for good.
func (r *runner) failedLine(f engine.Failure[listed]) failedLine {
	line := failedLine{URL: f.Item.Value.Page, Status: statusOf(f.Err), Attempts: f.Attempts}
	if r.cfg.Task != nil {
		if u, err := r.cfg.Task.URL.Resolve(r.cfg.Source.URL, f.Item.Value.Item); err == nil {
			line.URL = u.String()
		}
	}
	switch {
	case errors.Is(f.Err, errDisallowed):
		line.Error, line.Attempts = errDisallowed.Error(), 0
	case f.Reason == engine.ReasonPanic:
		line.Error = fmt.Sprintf("panic: %v", f.Err)
		r.o.log.Error("task panicked", zap.String("url", redact(line.URL)), zap.ByteString("stack", f.Stack))
	case f.Reason == engine.ReasonBudget:
		line.Error = "retry budget exhausted: " + f.Err.Error()
	case f.Err != nil:
		line.Error = f.Err.Error()
	default:
		line.Error = f.Reason.String()
	}
	return line
}

// tries counts the handler's attempts per item while the item is going on,
// for a live count of the tasks' retries (attempts after an item's first,
// as the engine counts them at its end) that the state's commits take with
// the lines they commit.
type tries struct {
	mu      sync.Mutex
	started map[itemKey]struct{} // items attempted and not finished
	retries atomic.Int64
}

// itemKey is an item's place in the listing, unique in a run.
type itemKey struct {
	page  source.Cursor
	index int
}

// start counts an attempt of it, a retry if it was attempted before.
func (t *tries) start(it listed) {
	k := itemKey{it.Cursor, it.Index}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.started[k]; ok {
		t.retries.Add(1)
		return
	}
	if t.started == nil {
		t.started = map[itemKey]struct{}{}
	}
	t.started[k] = struct{}{}
}

// end forgets it, which is finished (or left unfinished) for good.
func (t *tries) end(it listed) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.started, itemKey{it.Cursor, it.Index})
}

// done counts items as their lines are written, for progress: the engine's
// own counts may lag behind while a run is going on.
type done struct {
	succeeded, failed atomic.Int64

	// The previous snapshot, for the rate; only progress touches them.
	lastAt    time.Duration
	lastItems int64
}

// progress forwards the engine's snapshots to metrics and the caller.
func (r *runner) progress(p engine.Progress) {
	retries := r.tries.retries.Load() + r.retrier.retries.Load()
	succeeded, failed := r.done.succeeded.Load(), r.done.failed.Load()
	if m := r.meter.prom; m != nil {
		m.retries.Store(retries)
		m.succeeded.Store(succeeded)
		m.failed.Store(failed)
	}
	if r.o.progress == nil {
		return
	}
	var rate float64
	if dt := p.Elapsed - r.done.lastAt; dt > 0 {
		rate = float64(succeeded+failed-r.done.lastItems) / dt.Seconds()
	}
	r.done.lastAt, r.done.lastItems = p.Elapsed, succeeded+failed
	r.o.progress(Progress{
		Elapsed:   p.Elapsed,
		Listed:    p.Read,
		Total:     r.listing.total.Load(),
		Succeeded: succeeded,
		Failed:    failed,
		Rate:      rate,
		Limit:     p.Limit,
		InFlight:  r.meter.inFlight.Load(),
		Throttled: r.meter.throttled.Load(),
		Retries:   retries,
		Requests:  r.meter.requests.Load(),
	})
}
