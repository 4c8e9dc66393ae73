package source

import (
	"context"
	"io"
	"iter"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSliceYieldsItemsInGroups(t *testing.T) {
	tests := []struct {
		name      string
		items     []string
		opts      []Option
		wantPages []Cursor
	}{
		{"empty", nil, nil, nil},
		{"one page by default", []string{"a", "b", "c"}, nil, []Cursor{"index:0"}},
		{"pages of two", []string{"a", "b", "c"}, []Option{WithGroup(2)}, []Cursor{"index:0", "index:2"}},
		{"pages of one", []string{"a", "b"}, []Option{WithGroup(1)}, []Cursor{"index:0", "index:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Slice(tt.items, tt.opts...)
			require.NoError(t, err)
			got, err := drain(t, src)
			require.NoError(t, err)
			assert.Equal(t, tt.items, nilIfEmpty(values(got)))
			assert.Equal(t, tt.wantPages, pageCursors(got))
			requirePages(t, got)
			requireResumes(t, got, nil, func(c Cursor) (Source[string], error) {
				return Slice(tt.items, append(tt.opts, WithCursor(c))...)
			})
		})
	}
}

// pageCursors returns the Page cursor of each page of items.
func pageCursors[T any](items []Item[T]) []Cursor {
	var cs []Cursor
	for _, it := range items {
		if it.Index == 0 {
			cs = append(cs, it.Page)
		}
	}
	return cs
}

func TestPullYieldsASequenceInGroups(t *testing.T) {
	seq := slices.Values([]int{1, 2, 3, 4, 5})
	for _, group := range []int{1, 2, 5, 8} {
		src, err := Pull(seq, WithGroup(group))
		require.NoError(t, err)
		got, err := drain(t, src)
		require.NoError(t, err)
		assert.Equal(t, []int{1, 2, 3, 4, 5}, values(got), "group %d", group)
		requirePages(t, got)
		requireResumes(t, got, nil, func(c Cursor) (Source[int], error) {
			return Pull(seq, WithGroup(group), WithCursor(c))
		})
	}
}

func TestPullCloseStopsTheSequence(t *testing.T) {
	stopped := false
	seq := func(yield func(int) bool) {
		defer func() { stopped = true }()
		for i := 0; ; i++ {
			if !yield(i) {
				return
			}
		}
	}
	src, err := Pull(iter.Seq[int](seq), WithGroup(3))
	require.NoError(t, err)
	it, err := src.Next(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0, it.Value)
	require.NoError(t, src.Close())
	assert.True(t, stopped)
	_, err = src.Next(context.Background())
	require.ErrorIs(t, err, io.EOF)
	require.NoError(t, src.Close(), "Close twice")
}

func TestPullResumeBeyondTheSequenceIsAnError(t *testing.T) {
	src, err := Pull(slices.Values([]int{1, 2}), WithCursor("index:5"))
	require.NoError(t, err)
	_, err = src.Next(context.Background())
	require.EqualError(t, err, `source: Pull: resume at "index:5": the sequence has only 2 items`)
	_, again := src.Next(context.Background())
	require.Equal(t, err, again)
}

func TestPullStopsOnCancelledContext(t *testing.T) {
	src, err := Pull(slices.Values([]int{1, 2}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = src.Next(ctx)
	require.NoError(t, err)
	cancel()
	_, err = src.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestRangeYieldsValuesInGroups(t *testing.T) {
	tests := []struct {
		name           string
		from, to, step int
		opts           []Option
		want           []int
		wantPages      []Cursor
	}{
		{"up", 0, 5, 1, []Option{WithGroup(2)}, []int{0, 1, 2, 3, 4}, []Cursor{"range:0", "range:2", "range:4"}},
		{"up by three", 1, 10, 3, nil, []int{1, 4, 7}, []Cursor{"range:1"}},
		{"down", 3, -3, -2, []Option{WithGroup(1)}, []int{3, 1, -1}, []Cursor{"range:3", "range:1", "range:-1"}},
		{"empty up", 5, 5, 1, nil, nil, nil},
		{"empty down", 5, 6, -1, nil, nil, nil},
		{"near the top of int", math.MaxInt - 4, math.MaxInt, 3, nil, []int{math.MaxInt - 4, math.MaxInt - 1}, []Cursor{Cursor("range:9223372036854775803")}},
		{"across all of int", math.MinInt, math.MaxInt, math.MaxInt, nil, []int{math.MinInt, -1, math.MaxInt - 1}, []Cursor{Cursor("range:-9223372036854775808")}},
		{"down from the top of int", math.MaxInt, math.MinInt, math.MinInt, nil, []int{math.MaxInt, -1}, []Cursor{Cursor("range:9223372036854775807")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Range(tt.from, tt.to, tt.step, tt.opts...)
			require.NoError(t, err)
			got, err := drain(t, src)
			require.NoError(t, err)
			assert.Equal(t, tt.want, nilIfEmpty(values(got)))
			assert.Equal(t, tt.wantPages, pageCursors(got))
			requirePages(t, got)
			if len(got) > 0 {
				assert.Equal(t, End, got[len(got)-1].Next, "the last page's Next is End")
			}
			requireResumes(t, got, nil, func(c Cursor) (Source[int], error) {
				return Range(tt.from, tt.to, tt.step, append(tt.opts, WithCursor(c))...)
			})
		})
	}
}

func TestSimpleSourcesRejectBadArguments(t *testing.T) {
	tests := []struct {
		name    string
		build   func() error
		wantErr string
	}{
		{"range step 0", func() error { _, err := Range(0, 10, 0); return err }, "source: Range(0, 10, 0): step must not be 0"},
		{"range value off the step", func() error { _, err := Range(0, 10, 2, WithCursor("range:3")); return err },
			`source: Range(0, 10, 2): WithCursor: cursor "range:3": 3 is not a value of the range`},
		{"range value below", func() error { _, err := Range(0, 10, 2, WithCursor("range:-2")); return err },
			`source: Range(0, 10, 2): WithCursor: cursor "range:-2": -2 is not a value of the range`},
		{"range value past the end", func() error { _, err := Range(0, 10, 2, WithCursor("range:10")); return err },
			`source: Range(0, 10, 2): WithCursor: cursor "range:10": 10 is not a value of the range`},
		{"range value above a falling range", func() error { _, err := Range(0, -10, -2, WithCursor("range:2")); return err },
			`source: Range(0, -10, -2): WithCursor: cursor "range:2": 2 is not a value of the range`},
		{"range cursor not a number", func() error { _, err := Range(0, 10, 1, WithCursor("range:x")); return err },
			`source: Range(0, 10, 1): WithCursor: cursor "range:x": value "x" is not an integer`},
		{"range cursor of another kind", func() error { _, err := Range(0, 10, 1, WithCursor("index:3")); return err },
			`source: Range(0, 10, 1): WithCursor: cursor "index:3" is not a range cursor (want range:VALUE)`},
		{"range max pages", func() error { _, err := Range(0, 10, 1, WithMaxPages(3)); return err },
			"source: Range: WithMaxPages does not apply"},
		{"slice group 0", func() error { _, err := Slice([]int{1}, WithGroup(0)); return err },
			"source: Slice: WithGroup(0): must be 1 or more"},
		{"slice cursor beyond", func() error { _, err := Slice([]int{1}, WithCursor("index:2")); return err },
			`source: Slice: WithCursor("index:2"): the slice has only 1 items`},
		{"slice cursor of another kind", func() error { _, err := Slice([]int{1}, WithCursor("range:0")); return err },
			`source: Slice: WithCursor: cursor "range:0" is not an index cursor (want index:N)`},
		{"slice negative cursor", func() error { _, err := Slice([]int{1}, WithCursor("index:-1")); return err },
			`source: Slice: WithCursor: cursor "index:-1": index "-1" is not a non-negative integer`},
		{"nil seq", func() error { _, err := Pull[int](nil); return err }, "source: Pull: seq is nil"},
		{"pull bad cursor", func() error { _, err := Pull(slices.Values([]int{1}), WithCursor("index:x")); return err },
			`source: Pull: WithCursor: cursor "index:x": index "x" is not a non-negative integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.EqualError(t, tt.build(), tt.wantErr)
		})
	}
}

func TestRangeResumedAtEndYieldsNothing(t *testing.T) {
	src, err := Range(0, 10, 1, WithCursor(End))
	require.NoError(t, err)
	_, err = src.Next(context.Background())
	require.ErrorIs(t, err, io.EOF)
}

func TestAllStopsAtTheEndOrTheFirstError(t *testing.T) {
	ctx := context.Background()
	src, err := Range(0, 3, 1)
	require.NoError(t, err)
	var got []int
	for it, err := range All(ctx, src) {
		require.NoError(t, err)
		got = append(got, it.Value)
	}
	assert.Equal(t, []int{0, 1, 2}, got)

	api := numbered{pages: [][]string{{"a"}}, first: 1, failAt: 2}
	p, err := PageNumbers(api.page)
	require.NoError(t, err)
	var errs []error
	var vals []string
	for it, err := range All(ctx, p) {
		vals = append(vals, it.Value)
		errs = append(errs, err)
	}
	assert.Equal(t, []string{"a", ""}, vals)
	require.Len(t, errs, 2)
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], errBoom)

	src, err = Range(0, 100, 1)
	require.NoError(t, err)
	n := 0
	for range All(ctx, src) {
		n++
		if n == 2 {
			break
		}
	}
	it, err := src.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, it.Value, "breaking out of the loop leaves the rest in the source")
}
