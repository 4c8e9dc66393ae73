package source

import (
	"context"
	"errors"
	"fmt"
	"io"
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

func TestPrefetchYieldsAndFetchesWhatNextAloneDoes(t *testing.T) {
	for _, tc := range prefetchCases {
		for _, opts := range [][]Option{nil, {WithPrefetch()}} {
			t.Run(fmt.Sprintf("%s, %d options", tc.name, len(opts)), func(t *testing.T) {
				plain, plainFetches, err := tc.build(opts...)
				require.NoError(t, err)
				wantItems, wantErr := drain(t, plain)
				plain.Close()

				p, fetches, err := tc.build(opts...)
				require.NoError(t, err)
				p.Prefetch(context.Background())
				p.Prefetch(context.Background()) // the page is on its way: nothing more
				items, err := drain(t, p)
				p.Prefetch(context.Background()) // after the end: nothing
				p.Close()
				assert.Equal(t, wantItems, items, "the same items and cursors")
				assert.Equal(t, wantErr, err)
				assert.Equal(t, plainFetches(), fetches(), "the same pages, each once")
			})
		}
	}
}

func TestPrefetchFetchesTheFirstPageBeforeNext(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithPrefetch()}} {
		t.Run(fmt.Sprintf("%d options", len(opts)), func(t *testing.T) {
			asked := make(chan int, 3)
			p, err := PageNumbers(func(_ context.Context, n int) (Page[string], error) {
				asked <- n
				if n > 2 {
					return Page[string]{}, nil
				}
				return Page[string]{Items: []string{"x"}}, nil
			}, opts...)
			require.NoError(t, err)
			defer p.Close()
			p.Prefetch(context.Background())
			select {
			case n := <-asked:
				assert.Equal(t, 1, n, "page 1 is asked for before any Next")
			case <-time.After(10 * time.Second):
				t.Fatal("page 1 was not fetched ahead")
			}
			it, err := p.Next(context.Background())
			require.NoError(t, err)
			assert.Equal(t, Cursor("page:1:1"), it.Page)
			p.Close()
			select {
			case n := <-asked:
				assert.Equal(t, 2, n, "only page 2, when fetched ahead, follows page 1")
				assert.NotEmpty(t, opts)
			default:
				assert.Empty(t, opts, "page 2 is fetched ahead with WithPrefetch")
			}
		})
	}
}

func TestPrefetchAtTheEndFetchesNothing(t *testing.T) {
	api := &numbered{pages: [][]string{{"a"}}, first: 1}
	p, err := PageNumbers(api.page, WithCursor(End))
	require.NoError(t, err)
	p.Prefetch(context.Background())
	p.Close()
	_, err = p.Next(context.Background())
	assert.ErrorIs(t, err, io.EOF)
	assert.Empty(t, api.fetches)

	api = &numbered{pages: [][]string{{"a"}, {"b"}}, first: 1}
	p, err = PageNumbers(api.page, WithMaxPages(1))
	require.NoError(t, err)
	_, err = drain(t, p)
	require.NoError(t, err)
	p.Prefetch(context.Background())
	p.Close()
	assert.Equal(t, []int{1}, api.fetches, "nothing past WithMaxPages")
}

func TestCloseStopsAPrefetchAndWaitsForIt(t *testing.T) {
	var ended bool
	started := make(chan struct{})
	p, err := PageNumbers(func(ctx context.Context, _ int) (Page[string], error) {
		close(started)
		<-ctx.Done() // a page that hangs until its context ends
		ended = true
		return Page[string]{}, ctx.Err()
	})
	require.NoError(t, err)
	p.Prefetch(context.Background())
	<-started
	p.Close()
	assert.True(t, ended, "Close returns after the fetcher")
}

func TestAPrefetchStoppedByItsContextIsFetchedAgainByNext(t *testing.T) {
	var fetches []context.Context
	p, err := PageNumbers(func(ctx context.Context, n int) (Page[string], error) {
		fetches = append(fetches, ctx)
		if len(fetches) == 1 {
			<-ctx.Done()
			return Page[string]{}, ctx.Err()
		}
		if n > 1 {
			return Page[string]{}, nil
		}
		return Page[string]{Items: []string{"a"}}, nil
	})
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	p.Prefetch(ctx)
	cancel()
	items, err := drain(t, p)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, values(items), "the page, asked again under Next's context")
	assert.Len(t, fetches, 3, "page 1 twice, then page 2")
}

func TestNextEndsWithItsContextWhileAPrefetchRuns(t *testing.T) {
	release := make(chan struct{})
	p, err := PageNumbers(func(ctx context.Context, _ int) (Page[string], error) {
		<-release
		return Page[string]{Items: []string{"a"}}, nil
	})
	require.NoError(t, err)
	p.Prefetch(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Next(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	close(release)
	p.Close()
}
