package crawl

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzTemplate parses a template and expands it with every field set to
// value: parse errors name a column inside the template, a lone {name}
// round-trips through percent-decoding and emits only unreserved bytes and
// escapes, and {+name} never emits a space, control or non-ASCII byte.
// Seeds: testdata/fuzz/FuzzTemplate.
func FuzzTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			require.True(t, te.Column >= 1 && te.Column <= len(tmpl)+1, "column %d of %d bytes", te.Column, len(tmpl))
			return
		}
		require.Equal(t, tmpl, tp.String())
		item := map[string]any{}
		for _, p := range tp.parts {
			if p.field != nil {
				setPath(item, p.field.keys, value)
			}
		}
		got, err := tp.Expand(item)
		if err != nil {
			require.Contains(t, err.Error(), "template ")
			return
		}
		if len(tp.parts) == 1 && tp.parts[0].field != nil {
			if tp.parts[0].reserved {
				for i := 0; i < len(got); i++ {
					require.True(t, got[i] > ' ' && got[i] < 0x7f, "byte %q in %q", got[i], got)
				}
				return
			}
			back, err := url.PathUnescape(got)
			require.NoError(t, err)
			require.Equal(t, value, back)
			require.Empty(t, strings.Trim(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"))
		}
	})
}

// setPath stores v at keys in m, making objects on the way; it leaves a
// conflicting earlier value alone (Expand then reports the field).
func setPath(m map[string]any, keys []string, v any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			if _, taken := m[k]; taken {
				return
			}
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	if _, taken := m[keys[len(keys)-1]]; !taken {
		m[keys[len(keys)-1]] = v
	}
}

// FuzzResolveReferenceIsURLs checks resolveReference against
// url.URL.ResolveReference for every reference and base.
func FuzzResolveReferenceIsURLs(f *testing.F) {
	for _, seed := range [][2]string{
		{"http://api.example.com:8080/v1/items?page=2", "/items/7"},
		{"http://api.example.com/v1/items", "/a//b/"},
		{"https://u:p@h/x/y", "/a/./b/../c"},
		{"http://h/x", "/%2e%2E/x"},
		{"http://h/x", "/a%2Fb?x=1#f%20g"},
		{"http://h/x", "/a;b=c/%2f%2F?"},
		{"http://h/x", "//other/p"},
		{"http://h/x", "rel/p"},
		{"http://h/x", "/"},
		{"http://h/x", "/ü/%zz"},
		{"http://h/x", "/a b"},
		{"http://[::1]:80/", "/p#"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, rawBase, rawRef string) {
		base, err := url.Parse(rawBase)
		if err != nil {
			return
		}
		ref, err := url.Parse(rawRef)
		if err != nil {
			return
		}
		want := base.ResolveReference(ref)
		ref2, err := url.Parse(rawRef)
		require.NoError(t, err)
		got := resolveReference(base, ref2)
		assert.Equal(t, *want, *got, "base %q, reference %q", rawBase, rawRef)
		assert.Equal(t, want.String(), got.String())
	})
}

// FuzzTargetResolverIsResolveTarget checks that a listing's items get the
// task URL and host key resolveTarget gives them, whatever source.url and
// the value "{+path}" inserts.
func FuzzTargetResolverIsResolveTarget(f *testing.F) {
	for _, seed := range [][2]string{
		{"http://api.example.com:8080/v1/items?page=2", "/items/7"},
		{"http://127.0.0.1:8080/items", "/items/~a_b-c.d"},
		{"https://API.example.com/items", "/a//b/"},
		{"https://u:p@h/x/y", "/a/./b/../c"},
		{"http://h:/x", "/p"},
		{"http://h/x", "//other/p"},
		{"http://h/x", "rel/p"},
		{"http://h/x", "/"},
		{"http://h/x", ""},
		{"http://h/x", "/ü/%zz"},
		{"http://h/x", "/a b"},
		{"http://h/x", "https://other:81/p"},
		{"http://[::1]:80/", "/p"},
		{"http://h.example./x", "/p"},
	} {
		f.Add(seed[0], seed[1])
	}
	tmpl, err := ParseTemplate("{+path}")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, rawBase, path string) {
		base, err := url.Parse(rawBase)
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return // not a source.url
		}
		cfg := &Config{Source: Source{URL: base}, Task: &Task{URL: tmpl}}
		item := map[string]any{"path": path}
		want := resolveTarget(cfg, item)
		got := newTargetResolver(cfg).target(item)
		if want.err != nil || got.err != nil {
			require.Error(t, got.err)
			assert.Equal(t, want.err.Error(), got.err.Error())
			return
		}
		assert.Equal(t, want, got, "base %q, path %q", rawBase, path)
	})
}
