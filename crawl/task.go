package crawl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

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
	// answer is a task's answer as rawJSON returns it: the line's data, in
	// place of Data (in an interface it would cost an allocation per line).
	// plain says that it is already as json.Marshal writes it: the line
	// copies it as it is.
	answer json.RawMessage
	plain  bool
}

// failedLine is a line of the failed file.
type failedLine struct {
	URL      string `json:"url"`
	Error    string `json:"error"`
	Status   int    `json:"status"`
	Attempts int    `json:"attempts"`
}

// crawl runs the listing that early got under way (with Redis, the items
// stored there) through the engine and returns its stats.
func (r *runner) crawl(ctx context.Context, early *start) (engine.Stats, error) {
	var read source.Source[listed]
	if r.dist != nil {
		if err := r.sourceAllowed(ctx); err != nil {
			return engine.Stats{}, err
		}
		read = &streamItems{r: r}
	} else {
		src, err := early.wait()
		if err != nil {
			return engine.Stats{}, err
		}
		defer src.Close()
		read = src
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.writes.cancel = cancel
	st, err := r.job(read).Run(runCtx, r.engineOptions()...)
	if werr := r.writes.err(); werr != nil {
		return st, fmt.Errorf("crawl: %w", werr)
	}
	if err != nil {
		return st, fmt.Errorf("crawl: %w", err)
	}
	return st, nil
}

// sourceAllowed checks source.url against its robots.txt, when the crawl
// follows it.
func (r *runner) sourceAllowed(ctx context.Context) error {
	if r.robots == nil {
		return nil
	}
	ok, err := r.robots.allowed(ctx, r.cfg.Source.URL)
	if err != nil && untrusted(err) {
		return fmt.Errorf("source.url %s: its host's certificate is not trusted (%w); a certificate of an authority of your own is trusted through SSL_CERT_FILE=FILE",
			r.cfg.Source.URL.Redacted(), err)
	}
	if err != nil {
		return err
	}
	if !ok {
		if why := r.robots.unreachable(r.cfg.Source.URL); why != nil {
			// Not a rule of the site's: say what happened.
			return fmt.Errorf("source.url %s: its host's robots.txt could not be had (%v), which disallows the whole host (RFC 9309): %w",
				r.cfg.Source.URL.Redacted(), why, errDisallowed)
		}
		return fmt.Errorf("source.url %s: %w", r.cfg.Source.URL.Redacted(), errDisallowed)
	}
	return nil
}

// job runs r.handle over src with the settings typed by the item: the tasks'
// hosts, the failure sink and, with state, the items an earlier run did.
//
// With a task, the engine takes each task's permit for its URL's host before
// the handler runs, so that a task whose host may not start (gated, out of
// tokens, at its limit) waits in that host's room instead of holding a
// consumer; the task's request then uses that permit. A task whose host has
// retries or backoff of its own under hosts is retried as they say.
func (r *runner) job(src source.Source[listed]) engine.Job[listed] {
	j := engine.NewJob(src, r.handle).WithFailureSink(r.failedForGood)
	if r.cfg.Task != nil {
		j = j.WithLimiter(r.lim, r.roomKey)
		if len(r.hostRetries) > 0 {
			j = j.WithRetryFor(r.taskRetry)
		}
	}
	if r.state != nil {
		j = r.state.skipDone(j, r.repeated)
	} else if r.repeats != nil && r.dist == nil {
		// With Redis the walker skips the repeats as it stores the items.
		j = j.WithSkip(func(it source.Item[listed]) bool { return r.repeated(it.Value) })
	}
	return j
}

// engineOptions wire the engine to the crawl: its limit, retries, progress
// and, with state, checkpoints.
func (r *runner) engineOptions() []engine.Option {
	opts := []engine.Option{
		engine.WithMaxConsumers(r.cfg.Limits.Concurrency.MaxTotal),
		engine.WithQueueSize(queueSize(r.cfg.Limits.Concurrency.MaxTotal)),
		engine.WithRetry(r.retry),
		engine.WithDrainTimeout(drainTimeout(r.cfg.Limits.Timeout)),
		engine.WithLogger(r.o.log),
		engine.WithProgress(r.o.interval, r.progress),
	}
	if r.cfg.Task == nil {
		// Without a task the items make no request: the limit alone counts.
		opts = append(opts, engine.WithLimitFunc(r.lim.Limit))
	}
	if r.state != nil {
		opts = append(opts, engine.WithCheckpoint(r.state.marks)) // Append records each item with its line
	}
	if r.dist != nil {
		// The items read ahead are bounded by streamItems' hold limit.
		opts = append(opts, engine.WithQueueSize(maxHold))
	}
	return opts
}

// writeStop ends the crawl at the first write error (a full disk): tasks
// cannot succeed without their output.
type writeStop struct {
	once   sync.Once
	first  error
	cancel context.CancelCauseFunc // the engine run's
}

// fail records err, if it is the first, stops the run, and returns err as
// the task's permanent error.
func (w *writeStop) fail(err error) error {
	w.once.Do(func() { w.first = err; w.cancel(err) })
	return engine.Permanent(err)
}

// err is the first write error; read it once the run has ended.
func (w *writeStop) err() error { return w.first }

// handle is the engine's handler: it writes the item's output line, from
// the item itself or from its task's answer.
func (r *runner) handle(ctx context.Context, it listed) error {
	if engine.Attempt(ctx) > 1 {
		r.taskRetries.Add(1)
	}
	line := outputLine{URL: it.Page, Data: it.Item}
	if r.cfg.Task != nil {
		// The answer is read into a buffer of answers, which its line
		// copies: the buffer serves the next task once the line is written.
		into := answers.Get().(*[]byte)
		defer putAnswer(into)
		var err error
		if line, err = r.task(ctx, it, into); err != nil {
			return err
		}
	}
	if err := r.writeOutput(it, line); err != nil {
		return r.writes.fail(err)
	}
	return nil
}

// target is an item's task URL, as text: an item read ahead holds its
// target, and a parsed URL (an object of pointers the GC would scan with
// every item read ahead, and the expanded template its fields point into)
// is made again for each request instead (see newTaskRequest).
type target struct {
	raw string // the resolved URL's String
	key string // its host key (transport.HostKey)
	err error  // why the task URL does not resolve; the others are then zero
}

// resolveTarget resolves the task URL of item.
func resolveTarget(cfg *Config, item any) target {
	u, err := cfg.Task.URL.Resolve(cfg.Source.URL, item)
	if err != nil {
		return target{err: err}
	}
	return target{raw: u.String(), key: hostKey(u)}
}

// targetResolver is resolveTarget for the items of a listing, made once for
// the crawl: a task URL that expands to a plain path (see plainPath) under
// a source.url of a plain host and no user is source.url's scheme and host
// followed by that path, which it writes without parsing the path and
// writing it again.
type targetResolver struct {
	cfg    *Config
	origin string // source.url's scheme, "://" and host; "" when it is not plain
	key    string // its host key
}

func newTargetResolver(cfg *Config) *targetResolver {
	tr := &targetResolver{cfg: cfg}
	if base := cfg.Source.URL; base != nil && base.User == nil && base.Opaque == "" &&
		(base.Scheme == "http" || base.Scheme == "https") && plainHost(base.Host) {
		tr.origin, tr.key = base.Scheme+"://"+base.Host, hostKey(base)
	}
	return tr
}

// target is item's task URL.
func (tr *targetResolver) target(item any) target {
	if tr.origin == "" {
		return resolveTarget(tr.cfg, item)
	}
	s, err := tr.cfg.Task.URL.Expand(item)
	if err != nil {
		return target{err: err}
	}
	if plainPath(s) {
		return target{raw: tr.origin + s, key: tr.key}
	}
	u, err := tr.cfg.Task.URL.resolveExpanded(tr.cfg.Source.URL, s)
	if err != nil {
		return target{err: err}
	}
	return target{raw: u.String(), key: hostKey(u)}
}

// plainPath reports whether s is an absolute path of plain bytes (see
// plainPathByte) without dot segments: what url.Parse and then
// URL.String keep as it is, and what a reference resolves to under any
// base.
func plainPath(s string) bool {
	if len(s) == 0 || s[0] != '/' || len(s) > 1 && s[1] == '/' || strings.Contains(s, "/.") {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !plainPathByte[s[i]] {
			return false
		}
	}
	return true
}

// target is it's task URL: resolved with its page, or now for an item that
// was not (read from Redis without one).
func (r *runner) target(it listed) target {
	if it.target != nil {
		return *it.target
	}
	return resolveTarget(r.cfg, it.Item)
}

// answers holds the buffers tasks' answers are read into (see handle).
var answers = sync.Pool{New: func() any { return new([]byte) }}

// putAnswer gives buf back to answers, unless a large answer grew it.
func putAnswer(buf *[]byte) {
	if cap(*buf) <= 64<<10 {
		answers.Put(buf)
	}
}

// task requests the item's task and returns its output line, whose data is
// the answer as read into into's buffer (see fetcher.get).
func (r *runner) task(ctx context.Context, it listed, into *[]byte) (outputLine, error) {
	t := r.target(it)
	if t.err != nil {
		return outputLine{}, engine.Permanent(fmt.Errorf("task.url: %w", t.err))
	}
	probe, err := r.silent.admit(t.key)
	if err != nil {
		return outputLine{}, &attemptError{err: err}
	}
	if probe {
		ctx = withProbe(ctx) // its robots.txt may be fetched
	}
	resp, err := r.fetch.getTask(ctx, r.cfg.Task.Method, t.raw, into)
	if probe {
		r.silent.probed(t.key)
	}
	if err != nil {
		if probe && !engine.IsPermanent(err) {
			// The try got no answer: the task fails as the host's other
			// tasks do, rather than trying it again at its own backoff
			// until its attempts are spent; the host's next try is
			// another task's.
			if derr := r.silent.down(t.key); derr != nil {
				return outputLine{}, &attemptError{err: sentLast{derr}}
			}
		}
		return outputLine{}, r.lastAttempt(ctx, it, t.key, err)
	}
	data, plain, replaced, err := rawJSON(resp)
	if err != nil {
		return outputLine{}, err
	}
	if replaced > 0 {
		r.o.log.Warn("the answer holds invalid UTF-8: written with U+FFFD",
			zap.String("url", redact(t.raw)), zap.Int("bytes", replaced))
	}
	line := outputLine{URL: t.raw, Status: resp.status, answer: data, plain: plain}
	if resp.hops > 0 {
		line.FinalURL = resp.url.String()
	}
	return line, nil
}

// lastAttempt is the error of a task's attempt that failed with err: the
// refusal of an unresponsive host instead, when err was the item's last
// attempt and it and the host's requests before it got no answer, as many
// in a row as make the host unresponsive (see silences.giveUpOnLast), so
// that the item is left for the next run with state, or fails as its host's
// other tasks do, rather than for good with its own error.
func (r *runner) lastAttempt(ctx context.Context, it listed, key string, err error) error {
	if r.silent == nil || engine.IsPermanent(err) || engine.Attempt(ctx) < r.attemptsOf(it) {
		return err
	}
	if derr := r.silent.giveUpOnLast(key); derr != nil {
		return &attemptError{err: sentLast{derr}}
	}
	return err
}

// sentLast is the refusal of a task whose own last attempt was sent (and got
// no answer): the failed line counts it.
type sentLast struct{ error }

func (e sentLast) Unwrap() error { return e.error }

// attemptsOf is the attempts the item may take: its host's under hosts, or
// limits.retries + 1.
func (r *runner) attemptsOf(it listed) int {
	if p, ok := r.taskRetry(it); ok && p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	return r.retry.MaxAttempts
}

// failedForGood is the engine's failure sink: it writes the failed line of
// an item that failed for good.
func (r *runner) failedForGood(f engine.Failure[listed]) {
	if f.Reason == engine.ReasonInterrupted {
		return // not failed for good: a resumed crawl does it again
	}
	if r.state != nil && errors.Is(f.Err, errUnresponsive) && r.state.mayLeave(r.cfg.Limits.UnresponsiveRuns) {
		r.state.leave() // a resumed crawl tries it again
		return
	}
	if err := r.writeFailed(f.Item.Value, r.failedLine(f)); err != nil {
		r.writes.fail(err)
	}
}

// hostKey is the limiter key of it's task URL, or "" (no permit) when it does
// not resolve: the handler then fails the item for good.
func (r *runner) hostKey(it listed) string { return r.target(it).key }

// roomKey is hostKey for the engine, which reads it as the item is listed.
func (r *runner) roomKey(it listed) string {
	key := r.hostKey(it)
	r.apart.listed(key)
	return key
}

// taskRetry is the retry policy of the host of it's task URL, when hosts
// gives that host retries or backoff of its own.
func (r *runner) taskRetry(it listed) (engine.Retry, bool) {
	return byHostKey(r.hostRetries, r.hostKey(it))
}

// queueSize is the engine's queue size for the crawl: the engine reads
// ahead, into its queue and the hosts' waiting rooms together, up to twice
// it (engine.WithQueueSize), enough that the items of hosts that can go on
// are reached past those of a gated or slow one, however low max_total is
// (a gentler crawl does not hold fewer items of its gated hosts).
func queueSize(maxTotal int) int { return 4 * max(DefaultMaxTotal, maxTotal) }

// idleConns is how many idle connections the crawl's own transport keeps
// over all hosts: one for each request max_total lets out at once, and no
// fewer than a default crawl keeps. A gentler crawl over more hosts than
// its max_total would otherwise close each host's connection before that
// host's next request, and open a new one for nearly every request.
func idleConns(maxTotal int) int { return max(DefaultMaxTotal, maxTotal) }

// failedLine describes an item that failed for good.
func (r *runner) failedLine(f engine.Failure[listed]) failedLine {
	line := failedLine{URL: f.Item.Value.Page, Status: statusOf(f.Err), Attempts: f.Attempts}
	if r.cfg.Task != nil {
		if t := r.target(f.Item.Value); t.err == nil {
			line.URL = t.raw
		}
	}
	switch {
	case errors.Is(f.Err, errDisallowed):
		line.Error, line.Attempts = errDisallowed.Error(), 0
	case errors.Is(f.Err, errUnresponsive):
		line.Error = f.Err.Error()
		if !errors.As(f.Err, new(sentLast)) {
			line.Attempts-- // the last attempt sent nothing
		}
	case f.Reason == engine.ReasonPanic:
		line.Error = fmt.Sprintf("panic: %v", f.Err)
		r.o.log.Error("task panicked", zap.String("url", redact(line.URL)), zap.ByteString("stack", f.Stack))
	case f.Err != nil:
		line.Error = f.Err.Error()
	default:
		line.Error = f.Reason.String()
	}
	return line
}

// retries counts the attempts after the first of tasks, pages and
// robots.txt so far: live, so that the state's commits take the retries
// behind the lines they commit.
func (r *runner) retries() int64 { return r.taskRetries.Load() + r.retrier.retries.Load() }

// progress forwards the engine's snapshots to metrics and the caller. A
// resumed crawl's items count those of the earlier runs too.
func (r *runner) progress(p engine.Progress) {
	r.last.Store(&p)
	succeeded, failed := p.Succeeded, p.Failed
	if r.state != nil {
		succeeded += r.state.from.Lines[fileOutput]
		failed += r.state.from.Lines[fileFailed] - r.state.left.Load()
	}
	retries := r.retries()
	if m := r.meter.prom; m != nil {
		m.retries.Store(retries)
		m.succeeded.Store(succeeded)
		m.failed.Store(failed)
	}
	if r.o.progress == nil {
		return
	}
	r.o.progress(Progress{
		Elapsed:   p.Elapsed,
		Listed:    p.Read,
		Total:     r.listing.total.Load(),
		Succeeded: succeeded,
		Failed:    failed,
		Rate:      p.Rate,
		Limit:     p.Limit,
		InFlight:  r.meter.inFlight.Load(),
		Throttled: r.meter.throttled.Load(),
		Retries:   retries,
		Requests:  r.meter.requests.Load(),
	})
}
