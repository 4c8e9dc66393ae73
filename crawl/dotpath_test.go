package crawl

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDotPathLookup(t *testing.T) {
	body := decodeItem(t, `{"data": {"items": [{"id": 1}, {"id": 2}], "n": null}, "meta": {"next": "abc"}, "count": 2}`)
	tests := []struct {
		path string
		want any
	}{
		{"meta.next", "abc"},
		{"data.items.1.id", decodeItem(t, "2")},
		{"data.n", nil},
		{"count", decodeItem(t, "2")},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParseDotPath(tt.path)
			require.NoError(t, err)
			assert.Equal(t, tt.path, p.String())
			got, err := p.Lookup(body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	whole, err := ParseDotPath("")
	require.NoError(t, err)
	assert.True(t, whole.IsZero())
	got, err := whole.Lookup(body)
	require.NoError(t, err)
	assert.Equal(t, body, got, `"" is the whole body`)
}

func TestDotPathLookupErrorsSayWhatWasFound(t *testing.T) {
	body := decodeItem(t, `{"data": {"items": [1, 2, 3], "name": "x"}, "meta": {}}`)
	tests := []struct {
		path     string
		want     string
		notFound bool
	}{
		{"items", `dot path "items": the body has no key "items" (keys: data, meta)`, true},
		{"meta.next", `dot path "meta.next": "meta" has no key "next" (it is empty)`, true},
		{"data.items.5", `dot path "data.items.5": "data.items" has 3 elements, no index 5`, true},
		{"data.items.x", `dot path "data.items.x": "data.items" is an array; "x" is not an index`, false},
		{"data.items.-1", `dot path "data.items.-1": "data.items" is an array; "-1" is not an index`, false},
		{"data.name.first", `dot path "data.name.first": "data.name" is a string, not an object`, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParseDotPath(tt.path)
			require.NoError(t, err)
			_, err = p.Lookup(body)
			assert.EqualError(t, err, tt.want)
			assert.Equal(t, tt.notFound, errors.Is(err, ErrNotFound))
		})
	}
}

func TestDotPathListsAtMostEightKeys(t *testing.T) {
	body := decodeItem(t, `{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1}`)
	p, err := ParseDotPath("z")
	require.NoError(t, err)
	_, err = p.Lookup(body)
	assert.EqualError(t, err, `dot path "z": the body has no key "z" (keys: a, b, c, d, e, f, g, h, … 2 more)`)
}

func TestDotPathLookupArray(t *testing.T) {
	body := decodeItem(t, `{"items": [1, "x"], "one": {"a": 1}, "null": null}`)
	items, err := mustDotPath(t, "items").LookupArray(body)
	require.NoError(t, err)
	assert.Len(t, items, 2)

	_, err = mustDotPath(t, "one").LookupArray(body)
	assert.EqualError(t, err, `dot path "one": want an array, found an object`)
	_, err = mustDotPath(t, "null").LookupArray(body)
	assert.EqualError(t, err, `dot path "null": want an array, found null`)
	_, err = DotPath{}.LookupArray(body)
	assert.EqualError(t, err, `dot path "": want an array, found an object`)
	_, err = mustDotPath(t, "nope").LookupArray(body)
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestParseDotPathRejectsEmptyNames(t *testing.T) {
	tests := []struct{ path, want string }{
		{".a", `dot path ".a": empty name at column 1 (names are separated by single dots)`},
		{"a.", `dot path "a.": empty name at column 3 (names are separated by single dots)`},
		{"ab..c", `dot path "ab..c": empty name at column 4 (names are separated by single dots)`},
		{".", `dot path ".": empty name at column 1 (names are separated by single dots)`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := ParseDotPath(tt.path)
			assert.EqualError(t, err, tt.want)
		})
	}
}

func TestDotPathLookupText(t *testing.T) {
	body := decodeItem(t, `{"s": "abc def", "n": 12345678901234567890, "f": 2.50, "e": 1e3, "null": null, "b": true, "o": {}, "a": []}`)
	tests := []struct{ path, want, err string }{
		{"s", "abc def", ""},
		{"n", "12345678901234567890", ""},
		{"f", "2.5", ""},
		{"e", "1000", ""},
		{"null", "", ""},
		{"b", "true", ""},
		{"o", "", `dot path "o": want a string or number, found an object`},
		{"a", "", `dot path "a": want a string or number, found an array`},
		{"missing", "", `dot path "missing": the body has no key "missing" (keys: a, b, e, f, n, null, o, s)`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := mustDotPath(t, tt.path).LookupText(body)
			if tt.err != "" {
				assert.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := mustDotPath(t, "missing").LookupText(body)
	assert.ErrorIs(t, err, ErrNotFound)
}
