package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tokens is a fake API paged by continuation token: pages[token] is the page
// served for token.
type tokens struct {
	pages   map[string]Page[string]
	fail    string
	fetches []string
}

func (tk *tokens) page(_ context.Context, token string) (Page[string], error) {
	tk.fetches = append(tk.fetches, token)
	if tk.fail != "" && token == tk.fail {
		return Page[string]{}, errBoom
	}
	pg, ok := tk.pages[token]
	if !ok {
		return Page[string]{}, fmt.Errorf("unknown token %q", token)
	}
	return pg, nil
}

func TestTokensFollowNextUntilTheEnd(t *testing.T) {
	chain := map[string]Page[string]{
		"":   {Items: []string{"a", "b"}, Next: "t2"},
		"t2": {Items: []string{"c"}, Next: "t3"},
		"t3": {Items: []string{"d"}},
	}
	tests := []struct {
		name        string
		pages       map[string]Page[string]
		fail        string
		opts        []Option
		want        []string
		wantErr     string
		wantLoop    bool
		wantFetches []string
		// A loop into a page before the resume point is seen one cycle
		// late (TestTokensLoopAcrossAResumeIsSeenOneCycleLate).
		loopBeforeResume bool
	}{
		{
			name:        "an empty next token ends",
			pages:       chain,
			want:        []string{"a", "b", "c", "d"},
			wantFetches: []string{"", "t2", "t3"},
		},
		{
			name:        "max pages",
			pages:       chain,
			opts:        []Option{WithMaxPages(2)},
			want:        []string{"a", "b", "c"},
			wantFetches: []string{"", "t2"},
		},
		{
			name: "Last ends despite a next token",
			pages: map[string]Page[string]{
				"": {Items: []string{"a"}, Next: "t2", Last: true},
			},
			want:        []string{"a"},
			wantFetches: []string{""},
		},
		{
			name: "empty pages with a token are skipped",
			pages: map[string]Page[string]{
				"":   {Items: []string{"a"}, Next: "t2"},
				"t2": {Next: "t3"},
				"t3": {Items: []string{"b"}},
			},
			want:        []string{"a", "b"},
			wantFetches: []string{"", "t2", "t3"},
		},
		{
			name: "a repeated token ends with ErrLoop before refetching",
			pages: map[string]Page[string]{
				"":   {Items: []string{"a"}, Next: "t2"},
				"t2": {Items: []string{"b"}, Next: "t3"},
				"t3": {Items: []string{"c"}, Next: "t2"},
			},
			want:             []string{"a", "b", "c"},
			wantErr:          "page 4 (cursor token:4:t2): source: cursor loop: it repeats page 2",
			wantLoop:         true,
			wantFetches:      []string{"", "t2", "t3"},
			loopBeforeResume: true,
		},
		{
			name: "a page that names itself is a loop",
			pages: map[string]Page[string]{
				"":   {Items: []string{"a"}, Next: "t2"},
				"t2": {Items: []string{"b"}, Next: "t2"},
			},
			want:        []string{"a", "b"},
			wantErr:     "page 3 (cursor token:3:t2): source: cursor loop: it repeats page 2",
			wantLoop:    true,
			wantFetches: []string{"", "t2"},
		},
		{
			name:        "a fetch error names the page and its cursor",
			pages:       chain,
			fail:        "t3",
			want:        []string{"a", "b", "c"},
			wantErr:     "page 3 (cursor token:3:t3): boom",
			wantFetches: []string{"", "t2", "t3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := tokens{pages: tt.pages, fail: tt.fail}
			p, err := Tokens(api.page, tt.opts...)
			require.NoError(t, err)
			got, err := drain(t, p)
			assert.Equal(t, tt.want, values(got))
			assert.Equal(t, tt.wantFetches, api.fetches)
			requirePages(t, got)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.wantErr)
				assert.Equal(t, tt.wantLoop, errors.Is(err, ErrLoop))
			}
			if tt.loopBeforeResume {
				return
			}
			requireResumes(t, got, err, func(c Cursor) (Source[string], error) {
				api := tokens{pages: tt.pages, fail: tt.fail}
				return Tokens(api.page, append(tt.opts, WithCursor(c))...)
			})
		})
	}
}

func TestTokensLoopCursorResumesToTheSameError(t *testing.T) {
	api := tokens{pages: map[string]Page[string]{
		"":   {Items: []string{"a"}, Next: "t2"},
		"t2": {Items: []string{"b"}, Next: ""},
	}}
	p, err := Tokens(api.page, WithCursor("loop:2:token:4:t2"))
	require.NoError(t, err)
	got, err := drain(t, p)
	assert.Empty(t, got)
	require.ErrorIs(t, err, ErrLoop)
	assert.EqualError(t, err, "page 4 (cursor token:4:t2): source: cursor loop: it repeats page 2")
	assert.Empty(t, api.fetches)
}

func TestTokensLoopDetectionWorksOverManyPages(t *testing.T) {
	const n = 5000
	fetches := 0
	p, err := Tokens(func(_ context.Context, tok string) (Page[int], error) {
		fetches++
		i := 0
		if tok != "" {
			i, _ = strconv.Atoi(tok)
		}
		next := strconv.Itoa((i + 1) % n) // ... n-1 -> 0 -> 1: loops back to page "1"
		return Page[int]{Items: []int{i}, Next: next}, nil
	})
	require.NoError(t, err)
	got, err := drain(t, p)
	require.ErrorIs(t, err, ErrLoop)
	assert.Len(t, got, n+1, "pages \"\", 1..n-1 and 0 are new; then 1 repeats")
	assert.Equal(t, n+1, fetches)
	assert.Contains(t, err.Error(), "it repeats page 2")
}

// links is a fake API that links pages by URL.
type links struct {
	pages   map[string]Page[string]
	fetches []string
}

func (l *links) page(_ context.Context, u string) (Page[string], error) {
	l.fetches = append(l.fetches, u)
	pg, ok := l.pages[u]
	if !ok {
		return Page[string]{}, fmt.Errorf("GET %s: %w", u, errBoom)
	}
	return pg, nil
}

func TestNextLinksResolveAndDetectLoops(t *testing.T) {
	const first = "http://api.test/items?page=1"
	tests := []struct {
		name        string
		pages       map[string]Page[string]
		opts        []Option
		want        []string
		wantErr     string
		wantLoop    bool
		wantFetches []string
	}{
		{
			name: "relative and absolute links are followed until none",
			pages: map[string]Page[string]{
				first:                          {Items: []string{"a"}, Next: "?page=2"},
				"http://api.test/items?page=2": {Items: []string{"b"}, Next: "http://api.test/v2/items"},
				"http://api.test/v2/items":     {Items: []string{"c"}},
			},
			want:        []string{"a", "b", "c"},
			wantFetches: []string{first, "http://api.test/items?page=2", "http://api.test/v2/items"},
		},
		{
			name: "a relative link back to the first page is a loop",
			pages: map[string]Page[string]{
				first:                          {Items: []string{"a"}, Next: "/items?page=2"},
				"http://api.test/items?page=2": {Items: []string{"b"}, Next: "items?page=1"},
			},
			want:        []string{"a", "b"},
			wantErr:     "page 3 (cursor link:3:http://api.test/items?page=1): source: cursor loop: it repeats page 1",
			wantLoop:    true,
			wantFetches: []string{first, "http://api.test/items?page=2"},
		},
		{
			name: "max pages",
			pages: map[string]Page[string]{
				first: {Items: []string{"a"}, Next: "?page=2"},
			},
			opts:        []Option{WithMaxPages(1)},
			want:        []string{"a"},
			wantFetches: []string{first},
		},
		{
			name: "a malformed link names the page",
			pages: map[string]Page[string]{
				first: {Items: []string{"a"}, Next: "http://[::1"},
			},
			wantErr:     `page 1 (cursor link:1:http://api.test/items?page=1): next link: parse "http://[::1": missing ']' in host`,
			wantFetches: []string{first},
		},
		{
			name: "a fetch error names the page",
			pages: map[string]Page[string]{
				first: {Items: []string{"a"}, Next: "?page=2"},
			},
			want:        []string{"a"},
			wantErr:     "page 2 (cursor link:2:http://api.test/items?page=2): GET http://api.test/items?page=2: boom",
			wantFetches: []string{first, "http://api.test/items?page=2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := links{pages: tt.pages}
			p, err := NextLinks(first, api.page, tt.opts...)
			require.NoError(t, err)
			got, err := drain(t, p)
			assert.Equal(t, tt.want, nilIfEmpty(values(got)))
			assert.Equal(t, tt.wantFetches, api.fetches)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.wantErr)
				assert.Equal(t, tt.wantLoop, errors.Is(err, ErrLoop))
			}
			requireResumes(t, got, err, func(c Cursor) (Source[string], error) {
				api := links{pages: tt.pages}
				return NextLinks(first, api.page, append(tt.opts, WithCursor(c))...)
			})
		})
	}
}

func TestTokensLoopAcrossAResumeIsSeenOneCycleLate(t *testing.T) {
	api := tokens{pages: map[string]Page[string]{
		"":   {Items: []string{"a"}, Next: "t2"},
		"t2": {Items: []string{"b"}, Next: "t3"},
		"t3": {Items: []string{"c"}, Next: "t2"},
	}}
	// A run resumed at page 3 never saw t2: it fetches the cycle once more
	// (yielding "b" again, which the earlier run had yielded) and then stops.
	p, err := Tokens(api.page, WithCursor("token:3:t3"))
	require.NoError(t, err)
	got, err := drain(t, p)
	assert.Equal(t, []string{"c", "b"}, values(got))
	require.ErrorIs(t, err, ErrLoop)
	assert.EqualError(t, err, "page 5 (cursor token:5:t3): source: cursor loop: it repeats page 3")
}

func TestNextLinksCursorOverridesFirst(t *testing.T) {
	api := links{pages: map[string]Page[string]{
		"http://api.test/b": {Items: []string{"b"}},
	}}
	p, err := NextLinks("http://api.test/a", api.page, WithCursor("link:2:http://api.test/b"))
	require.NoError(t, err)
	got, err := drain(t, p)
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, values(got))
	assert.Equal(t, []string{"http://api.test/b"}, api.fetches)
}

func TestNextLinksErrorsHideUserinfo(t *testing.T) {
	first := "https://user:secret@api.test/items"
	p, err := NextLinks(first, func(context.Context, string) (Page[string], error) {
		return Page[string]{}, errBoom
	})
	require.NoError(t, err)
	_, err = p.Next(context.Background())
	require.ErrorIs(t, err, errBoom)
	assert.NotContains(t, err.Error(), "secret")
	assert.NotContains(t, err.Error(), "user")
	assert.Equal(t, "page 1 (cursor link:1:https://api.test/items): boom", err.Error())
}
