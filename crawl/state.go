package crawl

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/source"
	"github.com/politely/politely/state"
)

// ErrStateMismatch is wrapped by the *ConfigError (exit 2) of a crawl whose
// state was written by a config that crawls something else.
var ErrStateMismatch = errors.New("config changed since this state was written; use --reset-state to start over")

// ErrItemsLeft is Run's error when a crawl with state ended with items left
// for the next run (their host was unresponsive): the crawl is not finished,
// and running it again tries them. The Summary is whole.
var ErrItemsLeft = errors.New("items of unresponsive hosts left for the next run: run the same command again to try them")

// WithResetState makes Run delete the config's state before it starts, so
// that the crawl starts over (--reset-state).
func WithResetState() RunOption { return func(o *runOptions) { o.resetState = true } }

// WithStateOptions passes opts to state.Open when the crawl has a state,
// after the crawl's logger: e.g. state.WithCommitInterval to bound what a
// crash loses, or state.WithAfterCommit.
func WithStateOptions(opts ...state.Option) RunOption {
	return func(o *runOptions) { o.stateOpts = append(o.stateOpts, opts...) }
}

// The names of the journal's files in the state, and the order of the lines
// Journal.Append takes.
const (
	fileOutput = "output"
	fileFailed = "failed"
)

// resumed is what a crawl with state carries over from its earlier runs.
type resumed struct {
	store   *state.Store
	journal *state.Journal
	marks   *heldMarks // the engine's checkpointer: journal's
	from    state.Resume
	left    atomic.Int64 // items left for the next run (see leave)
}

// heldMarks is the journal as the engine's checkpointer, but that it marks
// no page once an item was left for the next run: a resumed run then lists
// that item's page again, and skips the items done since, which the journal
// recorded with their lines.
type heldMarks struct {
	*state.Journal
	held atomic.Bool
}

// Mark is the journal's Mark until an item is left for the next run.
func (h *heldMarks) Mark(page, next source.Cursor) error {
	if h.held.Load() {
		return nil
	}
	return h.Journal.Mark(page, next)
}

// mayLeave reports whether items of unresponsive hosts may still be left
// for the next run: fewer than limits.unresponsive_runs earlier runs left
// some. Past that bound they fail for good, so that a host that stays dead
// does not keep the crawl from finishing, as Nutch marks a URL gone after
// db.fetch.retry.max rounds and Heritrix fails it after max-retries.
func (res *resumed) mayLeave(runs int) bool { return res.from.Counters[counterRunsLeft] < int64(runs) }

// leave leaves an item for the next run, unfinished, instead of writing its
// failed line: its host was unresponsive, which says nothing of the item,
// and a crawl run again tries it again (as Nutch leaves the URLs of a host
// that failed to its next round). Call it from the failure sink, before the
// engine finishes the item.
func (res *resumed) leave() {
	res.marks.held.Store(true)
	res.left.Add(1)
}

// counter names in the state: the summary's totals of the crawl so far,
// which every commit takes (see runner.totals).
const (
	counterPages       = "pages"
	counterRequests    = "requests"
	counterRetries     = "retries"
	counterThrottled   = "throttled"
	counterMaxInFlight = "max_concurrency"
	counterDurationMS  = "duration_ms"
	counterRunsLeft    = "runs_left" // the runs that left items for the next (see mayLeave)
)

// openState opens cfg.State (reset first when asked), mapping its errors to
// what the CLI shows: a changed config is a *ConfigError (exit 2), a damaged
// state says how to start over.
func (r *runner) openState() (*resumed, error) {
	dir := r.cfg.State
	if r.o.resetState {
		if err := state.Reset(dir); err != nil {
			return nil, fmt.Errorf("crawl: --reset-state: %w", err)
		}
	}
	open := r.o.openStore
	if open == nil {
		open = state.Open
	}
	st, err := open(dir, r.cfg.Fingerprint(), append([]state.Option{state.WithLogger(r.o.log)}, r.o.stateOpts...)...)
	var me *state.MismatchError
	switch {
	case errors.As(err, &me):
		return nil, &ConfigError{File: r.cfg.File, Key: "state", Msg: ErrStateMismatch.Error() + " (" + me.Path + ")", Err: ErrStateMismatch}
	case errors.Is(err, state.ErrCorrupt):
		return nil, fmt.Errorf("crawl: %w; use --reset-state to start over", err)
	case err != nil:
		return nil, fmt.Errorf("crawl: %w", err)
	}
	res := &resumed{store: st, from: st.Resume()}
	if res.from.Resumed {
		r.o.log.Info("resuming", zap.String("state", st.Path()), zap.Bool("finished", res.from.Finished),
			zap.Int64("succeeded", res.from.Lines[fileOutput]), zap.Int64("failed", res.from.Lines[fileFailed]),
			zap.Int("done_beyond_mark", res.from.DoneCount()))
	}
	return res, nil
}

// openJournal opens the output and failed files through the state's
// journal: truncated to what the state committed.
func (res *resumed) openJournal(cfg *Config) error {
	j, err := res.store.OpenJournal(state.File{Name: fileOutput, Path: cfg.Output},
		state.File{Name: fileFailed, Path: cfg.FailedPath()})
	if err != nil {
		return fmt.Errorf("crawl: %w", err)
	}
	res.journal, res.marks = j, &heldMarks{Journal: j}
	return nil
}

// skipDone makes the run skip what an earlier run did beyond its mark.
func (res *resumed) skipDone(j engine.Job[listed], repeated func(listed) bool) engine.Job[listed] {
	from := res.from
	return j.WithSkip(func(it source.Item[listed]) bool {
		// An item done before is taken too: an item repeating it later in
		// the listing is then skipped as a repeat.
		return repeated(it.Value) || from.IsDone(it.Page, it.Index)
	})
}

// writeOutput appends an item's output line: through the journal, which
// records the item done with it, or to the plain output file.
func (r *runner) writeOutput(it listed, v outputLine) error {
	if r.dist != nil {
		line, err := v.appendLine(nil) // kept until its batch is sent
		if err != nil {
			return fmt.Errorf("encode output line: %w", err)
		}
		return r.dist.finish(it, line[:len(line)-1], false)
	}
	buf := linePool.Get().(*[]byte)
	defer putLine(buf)
	line, err := v.appendLine((*buf)[:0])
	*buf = line
	if err != nil {
		return fmt.Errorf("encode output line: %w", err)
	}
	if r.state == nil {
		return r.out.WriteLine(line)
	}
	return r.state.journal.Append(it.Cursor, it.Index, line[:len(line)-1])
}

// linePool holds the buffers output lines are encoded into: the plain
// output file and the journal copy a line, so its buffer serves the next.
var linePool = sync.Pool{New: func() any { return new([]byte) }}

// putLine gives buf back to linePool, unless a large answer grew it.
func putLine(buf *[]byte) {
	if cap(*buf) <= 64<<10 {
		linePool.Put(buf)
	}
}

// writeFailed appends an item's failed line, as writeOutput does.
func (r *runner) writeFailed(it listed, v failedLine) error {
	if r.dist != nil {
		line, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode failed line: %w", err)
		}
		return r.dist.finish(it, line, true)
	}
	if r.state == nil {
		return r.failed.WriteJSON(v)
	}
	line, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode failed line: %w", err)
	}
	return r.state.journal.Append(it.Cursor, it.Index, nil, line)
}

// totals are the whole crawl's counters so far: the earlier runs' plus this
// run's. Every commit of the state takes them (SetCountersFunc) with the
// lines it commits, so a run killed right after a commit has counted every
// request and retry behind those lines; what it did after its last commit is
// neither kept nor counted, and a resumed run does it again. pages are the
// pages the earlier runs marked (every item done, each page once: a resumed
// run starts after them) plus the pages this run fetched, which a finished
// crawl makes the number of pages of the listing.
func (r *runner) totals() map[string]int64 {
	var from state.Resume
	if r.state != nil {
		from = r.state.from
	}
	base := from.Counters
	took := r.took.Load()
	if took == 0 {
		took = time.Since(r.began).Milliseconds()
	}
	return map[string]int64{
		counterPages:       from.Marks + r.listing.pages.Load(),
		counterRequests:    base[counterRequests] + r.meter.requests.Load(),
		counterRetries:     base[counterRetries] + r.retries(),
		counterThrottled:   base[counterThrottled] + r.meter.throttled.Load(),
		counterMaxInFlight: max(base[counterMaxInFlight], r.meter.maxInFlight.Load()),
		counterDurationMS:  base[counterDurationMS] + took,
		counterRunsLeft:    base[counterRunsLeft] + r.leftNow(),
	}
}

// leftNow is 1 when this run left items for the next, else 0.
func (r *runner) leftNow() int64 {
	if r.state != nil && r.state.left.Load() > 0 {
		return 1
	}
	return 0
}

// finishedSummary is the summary of a crawl that an earlier run finished:
// nothing is fetched again.
func finishedSummary(from state.Resume) Summary {
	c := from.Counters
	return Summary{
		Pages:          c[counterPages],
		Items:          from.Lines[fileOutput] + from.Lines[fileFailed],
		Succeeded:      from.Lines[fileOutput],
		Failed:         from.Lines[fileFailed],
		Requests:       c[counterRequests],
		Retries:        c[counterRetries],
		Throttled:      c[counterThrottled],
		MaxConcurrency: c[counterMaxInFlight],
		DurationS:      math.Round(float64(c[counterDurationMS])) / 1000,
		Resumed:        true,
	}
}

// wholeCrawl turns this run's summary into the whole crawl's: the counts
// the state carried over are added, and the items are the lines written
// (every run's) plus those left unfinished now.
func (res *resumed) wholeCrawl(sum Summary, totals map[string]int64, unfinished int64) Summary {
	sum.Succeeded = res.journal.Lines(0)
	sum.Failed = res.journal.Lines(1)
	sum.Items = sum.Succeeded + sum.Failed + unfinished
	sum.Pages = totals[counterPages]
	sum.Requests = totals[counterRequests]
	sum.Retries = totals[counterRetries]
	sum.Throttled = totals[counterThrottled]
	sum.MaxConcurrency = totals[counterMaxInFlight]
	sum.DurationS = float64(totals[counterDurationMS]) / 1000
	sum.Resumed = res.from.Resumed
	return sum
}
