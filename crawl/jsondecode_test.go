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
	var page strings.Builder
	page.WriteString(`{"items":[`)
	for i := range 100 {
		if i > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"id":%d,"name":"item-%d","detail_path":"/items/%d"}`, i+1, i+1, i+1)
	}
	page.WriteString(`],"page":1,"per_page":100,"total":10000}`)
	r := response{body: []byte(page.String())}
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
