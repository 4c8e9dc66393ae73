package source

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// prefetchCases are paginators built twice, without and with WithPrefetch,
// each over a fresh fake API whose fetches it reports.
var prefetchCases = []struct {
	name  string
	build func(opts ...Option) (*Paginator[string], func() any, error)
}{
	{"page numbers ending at an empty page", func(opts ...Option) (*Paginator[string], func() any, error) {
		api := &numbered{pages: [][]string{{"a", "b"}, {"c"}, {"d", "e"}}, first: 1}
		p, err := PageNumbers(api.page, opts...)
		return p, func() any { return api.fetches }, err
	}},
	{"page numbers with max pages", func(opts ...Option) (*Paginator[string], func() any, error) {
		api := &numbered{pages: [][]string{{"a"}, {"b"}, {"c"}}, first: 1}
		p, err := PageNumbers(api.page, append(opts, WithMaxPages(2))...)
		return p, func() any { return api.fetches }, err
	}},
	{"page numbers failing at page 3", func(opts ...Option) (*Paginator[string], func() any, error) {
		api := &numbered{pages: [][]string{{"a"}, {"b"}, {"c"}}, first: 1, failAt: 3}
		p, err := PageNumbers(api.page, opts...)
		return p, func() any { return api.fetches }, err
	}},
	{"offsets", func(opts ...Option) (*Paginator[string], func() any, error) {
		api := &numbered{pages: [][]string{{"a", "b"}, {}, {"c"}}, first: 0}
		p, err := Offsets(api.page, opts...)
		return p, func() any { return api.fetches }, err
	}},
	{"tokens ending at an empty next", func(opts ...Option) (*Paginator[string], func() any, error) {
		api := &tokens{pages: map[string]Page[string]{
			"": {Items: []string{"a"}, Next: "t2"}, "t2": {Next: "t3"}, "t3": {Items: []string{"b"}},
		}}
		p, err := Tokens(api.page, opts...)
		return p, func() any { return api.fetches }, err
	}},
	{"tokens looping", func(opts ...Option) (*Paginator[string], func() any, error) {
		api := &tokens{pages: map[string]Page[string]{
			"": {Items: []string{"a"}, Next: "t2"}, "t2": {Items: []string{"b"}, Next: "t2"},
		}}
		p, err := Tokens(api.page, opts...)
		return p, func() any { return api.fetches }, err
	}},
	{"links", func(opts ...Option) (*Paginator[string], func() any, error) {
		api := &links{pages: map[string]Page[string]{
			"http://x/1": {Items: []string{"a"}, Next: "2"}, "http://x/2": {Items: []string{"b"}, Last: true},
		}}
		p, err := NextLinks("http://x/1", api.page, opts...)
		return p, func() any { return api.fetches }, err
	}},
}

func TestPrefetchYieldsAndFetchesWhatThePaginatorDoesWithout(t *testing.T) {
	for _, tc := range prefetchCases {
		t.Run(tc.name, func(t *testing.T) {
			plain, plainFetches, err := tc.build()
			require.NoError(t, err)
			wantItems, wantErr := drain(t, plain)

			p, fetches, err := tc.build(WithPrefetch())
			require.NoError(t, err)
			items, err := drain(t, p)
			p.Close()
			assert.Equal(t, wantItems, items, "the same items and cursors")
			assert.Equal(t, wantErr, err)
			assert.Equal(t, plainFetches(), fetches(), "the same pages, none beyond the end")
		})
	}
}

func TestPrefetchFetchesTheNextPageWhileTheHeldOneIsRead(t *testing.T) {
	asked := make(chan int, 3)
	release := make(chan struct{})
	p, err := PageNumbers(func(_ context.Context, n int) (Page[string], error) {
		asked <- n
		if n == 2 {
			<-release // a slow page
		}
		if n > 2 {
			return Page[string]{}, nil
		}
		return Page[string]{Items: []string{"x", "y"}}, nil
	}, WithPrefetch())
	require.NoError(t, err)
	defer p.Close()
	ctx := context.Background()
	_, err = p.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, <-asked)
	select {
	case n := <-asked:
		assert.Equal(t, 2, n, "page 2 is asked for while page 1 is read")
	case <-time.After(10 * time.Second):
		t.Fatal("page 2 was not fetched ahead")
	}
	it, err := p.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, "y", it.Value, "page 1's items do not wait for page 2")
	close(release)
	it, err = p.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, Cursor("page:2:2"), it.Page)
}

func TestCloseStopsTheFetchAheadAndWaitsForIt(t *testing.T) {
	var ended bool
	p, err := PageNumbers(func(ctx context.Context, n int) (Page[string], error) {
		if n == 1 {
			return Page[string]{Items: []string{"a"}}, nil
		}
		<-ctx.Done() // a page that hangs until its context ends
		ended = true
		return Page[string]{}, ctx.Err()
	}, WithPrefetch())
	require.NoError(t, err)
	_, err = p.Next(context.Background())
	require.NoError(t, err)
	p.Close()
	assert.True(t, ended, "Close returns after the fetcher")
	p.Close()
}

func TestPrefetchEndsWithTheContextOfNext(t *testing.T) {
	p, err := PageNumbers(func(ctx context.Context, n int) (Page[string], error) {
		if n == 1 {
			return Page[string]{Items: []string{"a"}}, nil
		}
		<-ctx.Done()
		return Page[string]{}, ctx.Err()
	}, WithPrefetch())
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = p.Next(ctx)
	require.NoError(t, err)
	cancel()
	_, err = p.Next(ctx)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestPrefetchIsAPaginatorOption(t *testing.T) {
	_, err := Slice([]int{1}, WithPrefetch())
	assert.ErrorContains(t, err, "WithPrefetch")
}
