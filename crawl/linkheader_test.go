package crawl

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNextLinkFindsRelNext(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{name: "one link", values: []string{`<https://api.example/items?page=2>; rel="next"`}, want: "https://api.example/items?page=2"},
		{name: "unquoted rel", values: []string{`</items?page=2>; rel=next`}, want: "/items?page=2"},
		{name: "GitHub style list", values: []string{
			`<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next", <https://a/x?page=9>; rel="last"`},
			want: "https://a/x?page=3"},
		{name: "several rels", values: []string{`<https://a/2>; rel="next last"`}, want: "https://a/2"},
		{name: "case and spaces", values: []string{` <https://a/2> ;  REL = "Next"`}, want: "https://a/2"},
		{name: "comma inside the URL", values: []string{`<https://a/x?ids=1,2>; rel="next"`}, want: "https://a/x?ids=1,2"},
		{name: "comma inside a quoted title", values: []string{`<https://a/1>; title="a, b"; rel="prev", <https://a/2>; rel="next"`},
			want: "https://a/2"},
		{name: "second header line", values: []string{`<https://a/1>; rel="prev"`, `<https://a/2>; rel="next"`}, want: "https://a/2"},
		{name: "no next", values: []string{`<https://a/1>; rel="prev"`}},
		{name: "next is not nextpage", values: []string{`<https://a/1>; rel="nextpage"`}},
		{name: "no header"},
		{name: "unclosed bracket", values: []string{`<https://a/1; rel="next"`}},
		{name: "garbage then a link", values: []string{`junk; rel="next", <https://a/2>; rel="next"`}, want: "https://a/2"},
		{name: "empty target", values: []string{`<>; rel="next"`}},
		{name: "only the first rel counts", values: []string{`<https://a/1>; rel="prev"; rel="next", <https://a/2>; rel=next; rel=prev`},
			want: "https://a/2"},
		{name: "semicolon inside a quoted title", values: []string{`<https://a/1>; title="x; rel=next"; rel="prev", <https://a/2>; rel="next"`},
			want: "https://a/2"},
		{name: "rel=next inside a quoted title only", values: []string{`<https://a/1>; title="a; rel=next, b"`}},
		{name: "escaped quote in a title", values: []string{`<https://a/1>; title="say \"hi\"; rel=next"; rel="prev", <https://a/2>; rel="next"`},
			want: "https://a/2"},
		{name: "rel among other params", values: []string{`<https://a/2>; type="application/json"; REL="last next"; title=x`}, want: "https://a/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Link", v)
			}
			assert.Equal(t, tt.want, nextLink(h))
		})
	}
}

// FuzzNextLink: any header value is handled without panic, and a target
// found is text between angle brackets of the input.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://a/x?page=2>; rel="next"`,
		`<https://a/1>; rel="prev", <https://a/2>; rel="next"`,
		`<a>; title="x, \"y\""; rel="next last"`,
		`<<>>; rel=next`,
		`,,,;;;"`,
		`<a`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := nextLink(http.Header{"Link": {v}})
		if got == "" {
			return
		}
		if strings.ContainsRune(got, '>') {
			t.Fatalf("target %q holds a '>'", got)
		}
		if !strings.Contains(v, got+">") && !strings.Contains(v, got+" ") && !strings.Contains(v, got+"\t") {
			t.Fatalf("target %q is not in the value %q before a '>'", got, v)
		}
	})
}
