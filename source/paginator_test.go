package source

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// numbered is a fake API paged by page number (or by offset over the same
// items): pages[i] is page first+i; failAt makes that page fail.
type numbered struct {
	pages   [][]string
	first   int
	lastAt  int // page number whose Last flag is set, 0 for none
	failAt  int // 0 for none
	fetches []int
}

func (n *numbered) page(_ context.Context, num int) (Page[string], error) {
	n.fetches = append(n.fetches, num)
	if n.failAt != 0 && num == n.failAt {
		return Page[string]{}, errBoom
	}
	i := num - n.first
	if i < 0 || i >= len(n.pages) {
		return Page[string]{}, nil
	}
	return Page[string]{Items: n.pages[i], Last: n.lastAt != 0 && num == n.lastAt}, nil
}

func TestPageNumbersFetchUntilTheEnd(t *testing.T) {
	tests := []struct {
		name        string
		api         numbered
		opts        []Option
		want        []string
		wantErr     string
		wantFetches []int
	}{
		{
			name:        "an empty page ends",
			api:         numbered{pages: [][]string{{"a", "b"}, {"c"}}, first: 1},
			want:        []string{"a", "b", "c"},
			wantFetches: []int{1, 2, 3},
		},
		{
			name:        "a page marked Last ends without another fetch",
			api:         numbered{pages: [][]string{{"a", "b"}, {"c"}}, first: 1, lastAt: 2},
			want:        []string{"a", "b", "c"},
			wantFetches: []int{1, 2},
		},
		{
			name:        "max pages stops fetching",
			api:         numbered{pages: [][]string{{"a"}, {"b"}, {"c"}}, first: 1},
			opts:        []Option{WithMaxPages(2)},
			want:        []string{"a", "b"},
			wantFetches: []int{1, 2},
		},
		{
			name:        "start at page 0",
			api:         numbered{pages: [][]string{{"a"}, {"b"}}, first: 0},
			opts:        []Option{WithStart(0)},
			want:        []string{"a", "b"},
			wantFetches: []int{0, 1, 2},
		},
		{
			name:        "an empty first page yields nothing",
			api:         numbered{first: 1},
			wantFetches: []int{1},
		},
		{
			name:        "a fetch error names the page and its cursor",
			api:         numbered{pages: [][]string{{"a"}, {"b"}}, first: 1, failAt: 2},
			want:        []string{"a"},
			wantErr:     "page 2 (cursor page:2:2): boom",
			wantFetches: []int{1, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := tt.api
			p, err := PageNumbers(api.page, tt.opts...)
			require.NoError(t, err)
			items, err := drain(t, p)
			assert.Equal(t, tt.want, nilIfEmpty(values(items)))
			assert.Equal(t, tt.wantFetches, api.fetches)
			requirePages(t, items)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.wantErr)
				require.ErrorIs(t, err, errBoom)
				_, again := p.Next(context.Background())
				require.Equal(t, err, again, "an error ends the source")
			}
			requireResumes(t, items, err, func(c Cursor) (Source[string], error) {
				api := tt.api
				return PageNumbers(api.page, append(tt.opts, WithCursor(c))...)
			})
		})
	}
}

func TestPageNumbersCursorsNamePageAndNext(t *testing.T) {
	api := numbered{pages: [][]string{{"a", "b"}, {"c"}}, first: 1, lastAt: 2}
	p, err := PageNumbers(api.page)
	require.NoError(t, err)
	items, err := drain(t, p)
	require.NoError(t, err)
	assert.Equal(t, []Item[string]{
		{Value: "a", Index: 0, Count: 2, Page: "page:1:1", Next: "page:2:2"},
		{Value: "b", Index: 1, Count: 2, Page: "page:1:1", Next: "page:2:2"},
		{Value: "c", Index: 0, Count: 1, Page: "page:2:2", Next: End},
	}, items)
}

func TestPaginatorFetchesOnlyWhenThePageIsUsedUp(t *testing.T) {
	api := numbered{pages: [][]string{{"a", "b"}, {"c"}}, first: 1}
	p, err := PageNumbers(api.page)
	require.NoError(t, err)
	assert.Empty(t, api.fetches, "nothing is fetched before Next")
	ctx := context.Background()
	for _, wantFetches := range [][]int{{1}, {1}, {1, 2}, {1, 2, 3}} {
		_, _ = p.Next(ctx)
		assert.Equal(t, wantFetches, api.fetches)
	}
}

func TestPaginatorMaxPagesCountsFromTheBeginningAfterResume(t *testing.T) {
	api := numbered{pages: [][]string{{"a"}, {"b"}, {"c"}, {"d"}}, first: 1}
	p, err := PageNumbers(api.page, WithMaxPages(3), WithCursor("page:2:2"))
	require.NoError(t, err)
	items, err := drain(t, p)
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "c"}, values(items))
	assert.Equal(t, []int{2, 3}, api.fetches)
}

func TestPaginatorFetchErrorMatchingEOFIsNotTheEnd(t *testing.T) {
	p, err := PageNumbers(func(context.Context, int) (Page[int], error) {
		return Page[int]{}, fmt.Errorf("decode body: %w", io.EOF)
	})
	require.NoError(t, err)
	_, err = p.Next(context.Background())
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NotErrorIs(t, err, io.EOF)
	assert.EqualError(t, err, "page 1 (cursor page:1:1): unexpected EOF: decode body: EOF")
}

func TestPaginatorStopsOnCancelledContext(t *testing.T) {
	api := numbered{pages: [][]string{{"a", "b"}}, first: 1}
	p, err := PageNumbers(api.page)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = p.Next(ctx)
	require.NoError(t, err)
	cancel()
	_, err = p.Next(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = p.Next(context.Background())
	require.ErrorIs(t, err, context.Canceled, "an error ends the source")
}

// offsets is a fake API paged by offset with a fixed page size.
type offsets struct {
	items   []string
	size    int
	short   map[int]int // offset -> a shorter page size served there
	fetches []int
}

func (o *offsets) page(_ context.Context, off int) (Page[string], error) {
	o.fetches = append(o.fetches, off)
	if off >= len(o.items) {
		return Page[string]{}, nil
	}
	size := o.size
	if s, ok := o.short[off]; ok {
		size = s
	}
	return Page[string]{Items: o.items[off:min(off+size, len(o.items))]}, nil
}

func TestOffsetsAdvanceByItemsOrStep(t *testing.T) {
	items := strings.Split("a b c d e f g", " ")
	tests := []struct {
		name        string
		api         offsets
		opts        []Option
		want        []string
		wantFetches []int
	}{
		{
			name:        "advance by the items on the page",
			api:         offsets{items: items, size: 3},
			want:        items,
			wantFetches: []int{0, 3, 6, 7},
		},
		{
			name:        "a short page advances by its own length",
			api:         offsets{items: items, size: 3, short: map[int]int{3: 1}},
			want:        items,
			wantFetches: []int{0, 3, 4, 7},
		},
		{
			name:        "a fixed step skips what a short page left out",
			api:         offsets{items: items, size: 3, short: map[int]int{3: 1}},
			opts:        []Option{WithStep(3)},
			want:        []string{"a", "b", "c", "d", "g"},
			wantFetches: []int{0, 3, 6, 9},
		},
		{
			name:        "start offset and max pages",
			api:         offsets{items: items, size: 2},
			opts:        []Option{WithStart(1), WithMaxPages(2)},
			want:        []string{"b", "c", "d", "e"},
			wantFetches: []int{1, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := tt.api
			p, err := Offsets(api.page, tt.opts...)
			require.NoError(t, err)
			got, err := drain(t, p)
			require.NoError(t, err)
			assert.Equal(t, tt.want, values(got))
			assert.Equal(t, tt.wantFetches, api.fetches)
			requirePages(t, got)
			requireResumes(t, got, nil, func(c Cursor) (Source[string], error) {
				api := tt.api
				return Offsets(api.page, append(tt.opts, WithCursor(c))...)
			})
		})
	}
}

func TestPaginatorsRejectBadArguments(t *testing.T) {
	fetchNum := func(context.Context, int) (Page[int], error) { return Page[int]{}, nil }
	fetchStr := func(context.Context, string) (Page[int], error) { return Page[int]{}, nil }
	tests := []struct {
		name    string
		build   func() error
		wantErr string
	}{
		{"nil fetch", func() error { _, err := PageNumbers[int](nil); return err }, "source: PageNumbers: fetch is nil"},
		{"option that does not apply", func() error { _, err := Tokens(fetchStr, WithStep(3), WithGroup(2)); return err },
			"source: Tokens: WithStep, WithGroup does not apply"},
		{"negative max pages", func() error { _, err := Offsets(fetchNum, WithMaxPages(-1)); return err },
			"source: Offsets: WithMaxPages(-1): must be 0 (no limit) or more"},
		{"zero step", func() error { _, err := Offsets(fetchNum, WithStep(0)); return err },
			"source: Offsets: WithStep(0): must be 1 or more"},
		{"negative start", func() error { _, err := PageNumbers(fetchNum, WithStart(-2)); return err },
			"source: PageNumbers: WithStart(-2): must be 0 or more"},
		{"nil option", func() error { _, err := PageNumbers(fetchNum, nil); return err }, "source: PageNumbers: nil Option"},
		{"cursor of another kind", func() error { _, err := PageNumbers(fetchNum, WithCursor("offset:1:0")); return err },
			`source: PageNumbers: WithCursor: cursor "offset:1:0" is not a page cursor (want page:ORDINAL:...)`},
		{"cursor without ordinal", func() error { _, err := Tokens(fetchStr, WithCursor("token:abc")); return err },
			`source: Tokens: WithCursor: cursor "token:abc": missing ":" after the page ordinal`},
		{"cursor with a bad ordinal", func() error { _, err := Tokens(fetchStr, WithCursor("token:0:abc")); return err },
			`source: Tokens: WithCursor: cursor "token:0:abc": page ordinal "0" is not a positive integer`},
		{"cursor with a bad page number", func() error { _, err := PageNumbers(fetchNum, WithCursor("page:2:x")); return err },
			`source: PageNumbers: WithCursor: cursor "page:2:x": page number "x" is not a non-negative integer`},
		{"cursor with a bad offset", func() error { _, err := Offsets(fetchNum, WithCursor("offset:2:-5")); return err },
			`source: Offsets: WithCursor: cursor "offset:2:-5": offset "-5" is not a non-negative integer`},
		{"empty first link", func() error { _, err := NextLinks("", fetchStr); return err }, "source: NextLinks: first URL is empty"},
		{"link cursor without URL", func() error { _, err := NextLinks("", fetchStr, WithCursor("link:2:")); return err },
			`source: NextLinks: WithCursor: cursor "link:2:": empty URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.EqualError(t, tt.build(), tt.wantErr)
		})
	}
}

func TestPaginatorResumedAtEndYieldsNothing(t *testing.T) {
	api := numbered{pages: [][]string{{"a"}}, first: 1}
	p, err := PageNumbers(api.page, WithCursor(End))
	require.NoError(t, err)
	_, err = p.Next(context.Background())
	require.ErrorIs(t, err, io.EOF)
	assert.Empty(t, api.fetches)
}

func TestRedactURLDropsUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@h/x":  "https://h/x",
		"https://u@h/x?q":  "https://h/x?q",
		"https://h/x":      "https://h/x",
		"%zz not a url":    "%zz not a url",
		"/relative?x=1":    "/relative?x=1",
		"mailto:u@example": "mailto:u@example",
	} {
		assert.Equal(t, want, redactURL(in), in)
	}
	_, err := url.Parse("%zz not a url")
	require.Error(t, err, "precondition: the input does not parse")
}
