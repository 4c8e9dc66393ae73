package state_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/source"
	"github.com/politely/politely/state"
)

// job is an item with its place in the source, which Append needs.
type job struct {
	n     int
	page  source.Cursor
	index int
}

type jobs struct{ src source.Source[int] }

func (j jobs) Next(ctx context.Context) (source.Item[job], error) {
	it, err := j.src.Next(ctx)
	return source.Item[job]{Value: job{it.Value, it.Page, it.Index}, Index: it.Index, Count: it.Count, Page: it.Page, Next: it.Next}, err
}

// A resumable run: the store is the engine's checkpointer, the handler
// appends each result through the journal, and a second run with the same
// state has nothing left to do.
func Example() {
	dir, err := os.MkdirTemp("", "state-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out.jsonl")

	for run := 1; run <= 2; run++ {
		s, err := state.Open(filepath.Join(dir, "state"), "fingerprint-of-the-config")
		if err != nil {
			panic(err)
		}
		r := s.Resume()
		if r.Finished {
			fmt.Printf("run %d: finished already, %d lines\n", run, r.Lines["output"])
			_ = s.Close()
			continue
		}
		j, err := s.OpenJournal(state.File{Name: "output", Path: out}) // truncated to its committed length
		if err != nil {
			panic(err)
		}
		src, err := source.Range(0, 1000, 1, source.WithGroup(100), source.WithCursor(r.Cursor))
		if err != nil {
			panic(err)
		}
		st, err := engine.NewJob(jobs{src}, func(_ context.Context, v job) error {
			return j.Append(v.page, v.index, strconv.AppendInt([]byte(`{"n":`), int64(v.n), 10))
		}).WithSkip(func(it source.Item[job]) bool { return r.IsDone(it.Page, it.Index) }).Run(context.Background(),
			engine.WithCheckpoint(s))
		if err != nil {
			panic(err)
		}
		if !st.Interrupted {
			err = s.Finish()
		}
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("run %d: %d items, %d lines\n", run, st.Succeeded, j.Lines(0))
	}
	// Output:
	// run 1: 1000 items, 1000 lines
	// run 2: finished already, 1000 lines
}
