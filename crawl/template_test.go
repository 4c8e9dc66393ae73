package crawl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeItem decodes JSON the way the crawler does, numbers as json.Number.
func decodeItem(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

func TestTemplateExpand(t *testing.T) {
	item := `{"id": 42, "name": "a b/c?d=é", "path": "/items/42?full=1&x=%2F", "big": 12345678901234567890,
	          "f": 1.5, "one": 1.0, "exp": 1e3, "neg": -7, "ok": true, "owner": {"login": "ann"}, "tags": ["x", "y"]}`
	tests := []struct {
		name, tmpl, want string
	}{
		{"literal only", "/items", "/items"},
		{"simple", "/items/{id}", "/items/42"},
		{"escaped", "/search?q={name}", "/search?q=a%20b%2Fc%3Fd%3D%C3%A9"},
		{"reserved kept", "{+path}", "/items/42?full=1&x=%2F"},
		{"reserved still escapes spaces and non-ascii", "/x/{+name}", "/x/a%20b/c?d=%C3%A9"},
		{"simple escapes percent", "/x/{path}", "/x/%2Fitems%2F42%3Ffull%3D1%26x%3D%252F"},
		{"big integer exact", "/n/{big}", "/n/12345678901234567890"},
		{"fraction", "/n/{f}", "/n/1.5"},
		{"integral float", "/n/{one}", "/n/1"},
		{"exponent", "/n/{exp}", "/n/1000"},
		{"negative", "/n/{neg}", "/n/-7"},
		{"boolean", "/b/{ok}", "/b/true"},
		{"dotted name", "/users/{owner.login}/repos", "/users/ann/repos"},
		{"array index", "/t/{tags.1}", "/t/y"},
		{"several", "{+path}&id={id}&n={name}", "/items/42?full=1&x=%2F&id=42&n=a%20b%2Fc%3Fd%3D%C3%A9"},
	}
	v := decodeItem(t, item)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.tmpl)
			require.NoError(t, err)
			assert.Equal(t, tt.tmpl, tmpl.String())
			got, err := tmpl.Expand(v)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTemplateExpandsGoNumbers(t *testing.T) {
	tmpl, err := ParseTemplate("{a}/{b}/{c}/{d}")
	require.NoError(t, err)
	got, err := tmpl.Expand(map[string]any{"a": float64(12345678), "b": 2.25, "c": 7, "d": int64(-3)})
	require.NoError(t, err)
	assert.Equal(t, "12345678/2.25/7/-3", got, "float64 from a plain json.Unmarshal renders without exponent")
}

func TestTemplateExpandErrorsNameTheField(t *testing.T) {
	v := decodeItem(t, `{"id": null, "obj": {"a": 1}, "list": [1], "s": "x"}`)
	tests := []struct {
		tmpl, want string
	}{
		{"/i/{missing}", `template "/i/{missing}": field "missing": dot path "missing": the item has no key "missing" (keys: id, list, obj, s)`},
		{"/i/{id}", `template "/i/{id}": field "id": is null, not a string or number`},
		{"/i/{obj}", `template "/i/{obj}": field "obj": is an object, not a string or number`},
		{"/i/{list}", `template "/i/{list}": field "list": is an array, not a string or number`},
		{"/i/{obj.b}", `template "/i/{obj.b}": field "obj.b": dot path "obj.b": "obj" has no key "b" (keys: a)`},
		{"/i/{s.x}", `template "/i/{s.x}": field "s.x": dot path "s.x": "s" is a string, not an object`},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.tmpl)
			require.NoError(t, err)
			_, err = tmpl.Expand(v)
			assert.EqualError(t, err, tt.want)
		})
	}
	tmpl, err := ParseTemplate("{x}")
	require.NoError(t, err)
	_, err = tmpl.Expand([]any{1})
	assert.EqualError(t, err, `template "{x}": field "x": dot path "x": the item is an array; "x" is not an index`)
}

func TestParseTemplateErrorsNameTheColumn(t *testing.T) {
	tests := []struct {
		tmpl, want string
	}{
		{"/items/{id", `template "/items/{id": column 8: "{" is not closed by "}"`},
		{"/items/{a{b}", `template "/items/{a{b}": column 8: "{" is not closed by "}"`},
		{"/items/id}", `template "/items/id}": column 10: "}" without a matching "{"`},
		{"/items/{}", `template "/items/{}": column 9: empty expression "{}" (want {name} or {+name})`},
		{"/items/{+}", `template "/items/{+}": column 10: missing field name after "+"`},
		{"/items{?id}", `template "/items{?id}": column 8: operator '?' is not supported (want {name} or {+name})`},
		{"/items{#frag}", `template "/items{#frag}": column 8: operator '#' is not supported (want {name} or {+name})`},
		{"/items/{a,b}", `template "/items/{a,b}": column 10: lists of names (',') are not supported`},
		{"/items/{id:3}", `template "/items/{id:3}": column 11: prefix modifiers (':') are not supported`},
		{"/items/{ids*}", `template "/items/{ids*}": column 12: explode modifiers ('*') are not supported`},
		{"/items/{a b}", `template "/items/{a b}": column 10: white space in field name`},
		{"/items/{a..b}", `template "/items/{a..b}": column 9: field name "a..b" has an empty part (names are separated by single dots)`},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			_, err := ParseTemplate(tt.tmpl)
			assert.EqualError(t, err, tt.want)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.tmpl, te.Template)
		})
	}
}

func TestTemplateResolve(t *testing.T) {
	base, err := url.Parse("http://127.0.0.1:8080/api/items?per_page=50")
	require.NoError(t, err)
	item := decodeItem(t, `{"id": 7, "detail_path": "/api/items/7", "rel": "7/detail", "abs": "https://other.example/x/7", "ftp": "ftp://h/x"}`)
	tests := []struct {
		tmpl, want string
	}{
		{"{+detail_path}", "http://127.0.0.1:8080/api/items/7"},
		{"{+rel}", "http://127.0.0.1:8080/api/7/detail"},
		{"details/{id}?full=1", "http://127.0.0.1:8080/api/details/7?full=1"},
		{"{+abs}", "https://other.example/x/7"},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.tmpl)
			require.NoError(t, err)
			u, err := tmpl.Resolve(base, item)
			require.NoError(t, err)
			assert.Equal(t, tt.want, u.String())
		})
	}
	tmpl, err := ParseTemplate("{+ftp}")
	require.NoError(t, err)
	_, err = tmpl.Resolve(base, item)
	assert.EqualError(t, err, `template "{+ftp}": expanded to "ftp://h/x", not an absolute http(s) URL`)

	tmpl, err = ParseTemplate("{+bad}")
	require.NoError(t, err)
	_, err = tmpl.Resolve(base, map[string]any{"bad": "http://h:port/x"})
	assert.ErrorContains(t, err, `template "{+bad}": expanded to an invalid URL`)

	_, err = tmpl.Resolve(base, map[string]any{})
	assert.ErrorContains(t, err, `field "bad"`)
}

func BenchmarkTemplateExpand(b *testing.B) {
	tmpl, err := ParseTemplate("/api/v1/users/{owner.login}/items/{id}?q={name}")
	require.NoError(b, err)
	item := decodeItem(b, `{"id": 123456789, "name": "some name", "owner": {"login": "ann"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Expand(item); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTemplateBaseline is the same URL built with fmt and url.PathEscape,
// the ratio for BenchmarkTemplateExpand.
func BenchmarkTemplateBaseline(b *testing.B) {
	item := decodeItem(b, `{"id": 123456789, "name": "some name", "owner": {"login": "ann"}}`).(map[string]any)
	b.ReportAllocs()
	for b.Loop() {
		owner := item["owner"].(map[string]any)
		_ = fmt.Sprintf("/api/v1/users/%s/items/%s?q=%s", url.PathEscape(owner["login"].(string)),
			item["id"].(json.Number).String(), url.PathEscape(item["name"].(string)))
	}
}

func TestTemplateCheckSchemeRefusesOnlyLiteralNonHTTPSchemes(t *testing.T) {
	tests := []struct{ tmpl, err string }{
		{"/items/{id}", ""},
		{"{+detail_url}", ""},
		{"HTTPS://h/{id}", ""},
		{"http://{host}/x", ""},
		{"{scheme}://h/x", ""},
		{"items/{id}?a=b:c", ""},
		{"ftp://h/{id}", `template "ftp://h/{id}": scheme "ftp" is not http or https`},
		{"mailto:{addr}", `template "mailto:{addr}": scheme "mailto" is not http or https`},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.tmpl)
			require.NoError(t, err)
			if tt.err == "" {
				assert.NoError(t, tmpl.checkScheme())
			} else {
				assert.EqualError(t, tmpl.checkScheme(), tt.err)
			}
		})
	}
}
