package source

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// drain reads src to its end and returns its items and the error that ended
// it (nil for io.EOF). It fails the test if src does not end within limit items.
func drain[T any](t *testing.T, src Source[T]) ([]Item[T], error) {
	t.Helper()
	const limit = 100000
	var items []Item[T]
	for range limit {
		it, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return items, err
		}
		items = append(items, it)
	}
	t.Fatalf("source did not end within %d items", limit)
	return nil, nil
}

// values returns the values of items.
func values[T any](items []Item[T]) []T {
	vs := make([]T, 0, len(items))
	for _, it := range items {
		vs = append(vs, it.Value)
	}
	return vs
}

// requireResumes checks, for every item of a full run, that a source resumed
// at its Page yields exactly the full run from the first item of that page,
// and one resumed at its Next yields exactly the items after that page (with
// the same cursors and the same ending error, or the same error text).
func requireResumes[T any](t *testing.T, full []Item[T], fullErr error, resume func(c Cursor) (Source[T], error)) {
	t.Helper()
	for i, it := range full {
		pageStart := i - it.Index
		pageEnd := pageStart + it.Count
		for _, c := range []struct {
			cursor Cursor
			from   int
		}{{it.Page, pageStart}, {it.Next, pageEnd}} {
			src, err := resume(c.cursor)
			require.NoError(t, err, "resume at %q", c.cursor)
			got, err := drain(t, src)
			require.Equal(t, nilIfEmpty(full[c.from:]), got, "resume at %q (item %d)", c.cursor, i)
			if fullErr == nil {
				require.NoError(t, err, "resume at %q", c.cursor)
			} else {
				require.EqualError(t, err, fullErr.Error(), "resume at %q", c.cursor)
			}
		}
	}
}

// requirePages checks that items are numbered page by page: Index counts from
// 0 to Count-1 and every item of a page has the same Count, Page and Next.
func requirePages[T any](t *testing.T, items []Item[T]) {
	t.Helper()
	for i, it := range items {
		require.Less(t, it.Index, it.Count, "item %d", i)
		require.GreaterOrEqual(t, i, it.Index, "item %d", i)
		first := items[i-it.Index]
		require.Equal(t, 0, first.Index, "item %d", i)
		require.Equal(t, []any{first.Count, first.Page, first.Next}, []any{it.Count, it.Page, it.Next}, "item %d", i)
		if it.Index == it.Count-1 && i+1 < len(items) {
			require.Equal(t, 0, items[i+1].Index, "item %d starts a page", i+1)
		}
	}
}

// nilIfEmpty makes empty and nil slices compare equal.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

var errBoom = errors.New("boom")
