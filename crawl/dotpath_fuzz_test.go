package crawl

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDotPath parses a path and looks it up in a JSON body: errors name the
// path, "" finds the whole body, and a found value is found again through
// the path's last step. Seeds: testdata/fuzz/FuzzDotPath.
func FuzzDotPath(f *testing.F) {
	f.Fuzz(func(t *testing.T, path, body string) {
		p, err := ParseDotPath(path)
		if err != nil {
			require.Contains(t, err.Error(), strconv.Quote(path))
			return
		}
		require.Equal(t, path, p.String())
		dec := json.NewDecoder(bytes.NewReader([]byte(body)))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			return
		}
		got, err := p.Lookup(v)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "dot path "+strconv.Quote(path)+": "), err.Error())
			return
		}
		text, err := p.LookupText(v)
		switch g := got.(type) {
		case string:
			require.NoError(t, err)
			require.Equal(t, g, text)
		case json.Number:
			require.NoError(t, err)
			if _, rangeErr := strconv.ParseFloat(g.String(), 64); rangeErr == nil {
				require.NotContains(t, strings.ToLower(text), "e", "numbers within float64 render without exponent")
			}
		}
		if p.IsZero() {
			require.Equal(t, v, got)
			return
		}
		parent, err := DotPath{keys: p.keys[:len(p.keys)-1]}.Lookup(v)
		require.NoError(t, err, "the parent of a found value is found")
		last, err := DotPath{keys: p.keys[len(p.keys)-1:]}.Lookup(parent)
		require.NoError(t, err)
		require.Equal(t, got, last)
	})
}
