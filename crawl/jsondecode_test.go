package crawl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeJSONIsTheDecoders checks that decodeJSON gives what
// encoding/json's Decoder with UseNumber gives for every body: the same
// value, or an error with the same message.
func FuzzDecodeJSONIsTheDecoders(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"id":1,"name":"item-1","detail_path":"/items/1"},{"id":2,"name":"item-2","detail_path":"/items/2"}],"total":2}`,
		` {"a":1, "a":2, "b":[], "c":{}, "d":[null,true,false,-0.5e+10,1E3,0]} `,
		`"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\" `, `"\ud800"`, `"\udc00\ud800x"`, `"\ud800\ud800\udc00"`,
		`"\ud83d\\ude00"`, "\"\xff\xfe a \xe2\x82\"", "\"caf\xc3\xa9\"", `{"k\u00e9y":"v","k\u00e9y":"w"}`,
		"{\"\xff\":1}", `12345678901234567890123`, `-0`, `[1,[2,[3,{"x":[]}]]]`,
		`{}]`, `{} {}`, `[1,]`, `{"a" 1}`, ``, ` `, `nul`, "\ufeff{}", `[1 2]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := decodeJSON(response{body: b})
		want, wantErr := decodeJSONWithDecoder(response{body: b})
		if wantErr != nil {
			require.Error(t, gotErr, "%q", b)
			assert.Equal(t, wantErr.Error(), gotErr.Error(), "%q", b)
			return
		}
		require.NoError(t, gotErr, "%q", b)
		assert.Equal(t, want, got, "%q", b)
	})
}

func TestDecodeJSONNestsAsDeepAsTheDecoder(t *testing.T) {
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			closing := map[string]string{"[": "]", `{"a":`: "}"}[open]
			b := []byte(strings.Repeat(open, depth) + `"x"` + strings.Repeat(closing, depth))
			got, gotErr := decodeJSON(response{body: b})
			want, wantErr := decodeJSONWithDecoder(response{body: b})
			assert.Equal(t, wantErr == nil, gotErr == nil, "depth %d of %s", depth, open)
			assert.Equal(t, want, got, "depth %d of %s", depth, open)
		}
	}
}

// BenchmarkDecodeListingPage decodes a page of the fast mock's listing (100
// items), with decodeJSON and with encoding/json's Decoder.
func BenchmarkDecodeListingPage(b *testing.B) {
	r := response{body: fastListingPage(`"page":1,"per_page":100,"total":10000`)}
	for name, decode := range map[string]func(response) (any, error){"decodeJSON": decodeJSON, "Decoder": decodeJSONWithDecoder} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDecodePageKeepsTheItemsKeys checks that a page decoded with itemKeys
// is the page decoded whole with the objects of the array at the way holding
// only the kept keys, and that the items' text is that array's.
func FuzzDecodePageKeepsTheItemsKeys(f *testing.F) {
	page := `{"items":[{"id":1,"name":"a","detail_path":"/items/1","x":{"y":[1,"}"]}},{"id":2,"detail_path":"/items/2"}],"total":2}`
	f.Add([]byte(page), "items", "detail_path")
	f.Add([]byte(page), "items", "id,x")
	f.Add([]byte(page), "", "id")
	f.Add([]byte(`[{"a":1,"b":true,"c":null,"d":-1.5e3,"e":"\"]}"}, 7, [1], {"a":{}}]`), "", "a")
	f.Add([]byte(`{"data":{"list":[{"k\u00e9y":1,"key":2, "a" : [ {"b":"c"} ] }]},"data":{"list":[]}}`), "data.list", "kéy,a")
	f.Add([]byte(`{"items":[{"a":1,"a":2}],"items":[{"a":3,"b":4}]}`), "items", "a")
	f.Add([]byte(`{"items":{"0":[{"a":1}]}}`), "items.0", "a")
	f.Fuzz(func(t *testing.T, b []byte, way, keep string) {
		whole, err := decodeJSONWithDecoder(response{body: b})
		if err != nil || !validJSON(b) {
			return
		}
		var wayKeys []string
		if way != "" {
			wayKeys = strings.Split(way, ".")
		}
		k := newItemKeys(wayKeys, strings.Split(keep, ","))
		got, items, err := decodePage(response{body: b}, k)
		require.NoError(t, err)
		assert.Equal(t, keepItemsKeys(whole, k.way, true, k.keep), oneKeyItemsAsMaps(got), "%q", b)
		if arr, ok := lookupWay(whole, k.way).([]any); ok {
			require.NotNil(t, items, "%q", b)
			assert.Equal(t, arr, decodeValidJSON(items), "%q", b)
		}
	})
}

// oneKeyItemsAsMaps is v with each *oneKeyItem in it the map it stands for.
func oneKeyItemsAsMaps(v any) any {
	switch x := v.(type) {
	case *oneKeyItem:
		return map[string]any{x.key: oneKeyItemsAsMaps(x.value)}
	case map[string]any:
		for k, e := range x {
			x[k] = oneKeyItemsAsMaps(e)
		}
	case []any:
		for i, e := range x {
			x[i] = oneKeyItemsAsMaps(e)
		}
	}
	return v
}

// keepItemsKeys is v with the objects of the array at way keeping only keep,
// those that hold every key of keep.
func keepItemsKeys(v any, way []string, on bool, keep map[string]string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for key, e := range x {
			out[key] = keepItemsKeys(e, way[min(1, len(way)):], on && len(way) > 0 && key == way[0], keep)
		}
		return out
	case []any:
		if !on || len(way) > 0 {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
			if m, ok := e.(map[string]any); ok {
				kept := map[string]any{}
				for key, val := range m {
					if _, ok := keep[key]; ok {
						kept[key] = val
					}
				}
				if len(kept) == len(keep) {
					out[i] = kept // else whole
				}
			}
		}
		return out
	}
	return v
}

// lookupWay is the value at way's object keys in v, nil if there is none.
func lookupWay(v any, way []string) any {
	for _, key := range way {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// FuzzDecodePageChecksAsValidJSON checks that decodeCheckedPage, with or
// without item keys, accepts exactly the bodies validJSON accepts.
func FuzzDecodePageChecksAsValidJSON(f *testing.F) {
	f.Add([]byte(`{"items":[{"id":1,"detail_path":"/items/1","x":{"y":[1,"}"]}},{"id":2}],"total":2}`), "items", "detail_path")
	f.Add([]byte(`{"items":[{"id":1,"detail_path":"/items/1" "x":2}]}`), "items", "detail_path")
	f.Add([]byte(`{"items":[{"id":1,"detail_path":"/items/1",}]}`), "items", "id,detail_path")
	f.Add([]byte(`{"items":[{"id":01,"detail_path":"\x"}]}`), "items", "id")
	f.Add([]byte(`{"items":[{"a":[1,2,]}]}`), "items", "b")
	f.Add([]byte("{\"items\":[{\"a\":\"\x01\"}]}"), "items", "a")
	f.Add([]byte(`[{"a":tru}]`), "", "a")
	f.Add([]byte(`{"items":[{}]} x`), "items", "a")
	f.Fuzz(func(t *testing.T, b []byte, way, keep string) {
		var k *itemKeys
		if keep != "" {
			var wayKeys []string
			if way != "" {
				wayKeys = strings.Split(way, ".")
			}
			k = newItemKeys(wayKeys, strings.Split(keep, ","))
		}
		_, _, ok := decodeCheckedPage(b, k)
		assert.Equal(t, validJSON(b), ok, "%q", b)
	})
}

func TestDecodeCheckedPageNestsItemsAsDeepAsValidJSON(t *testing.T) {
	k := newItemKeys(nil, []string{"a"})
	for _, depth := range []int{maxJSONDepth - 2, maxJSONDepth - 1, maxJSONDepth} {
		for _, inner := range []string{`{"a":1}`, `{"b":1}`, `{"a":[]}`, `{"b":{}}`} {
			b := []byte(strings.Repeat("[", depth) + inner + strings.Repeat("]", depth))
			_, _, ok := decodeCheckedPage(b, k)
			assert.Equal(t, validJSON(b), ok, "depth %d, %s", depth, inner)
		}
	}
}

// BenchmarkDecodePageItemKeys decodes a page of the fast mock's listing
// (100 items) as the crawl of its bench config does: its items keeping only
// the key the task's URL names.
func BenchmarkDecodePageItemKeys(b *testing.B) {
	r := response{body: fastListingPage(`"page":1,"per_page":100`)}
	k := newItemKeys([]string{"items"}, []string{"detail_path"})
	b.SetBytes(int64(len(r.body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodePage(r, k); err != nil {
			b.Fatal(err)
		}
	}
}

// fastListingPage is a page of the fast mock's listing: 100 items, then the
// page's other members (JSON members without braces).
func fastListingPage(members string) []byte {
	var page strings.Builder
	page.WriteString(`{"items":[`)
	for i := range 100 {
		if i > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"id":%d,"name":"item-%d","detail_path":"/items/%d"}`, i+1, i+1, i+1)
	}
	page.WriteString(`],` + members + `}`)
	return []byte(page.String())
}
