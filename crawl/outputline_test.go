package crawl

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzOutputLineIsWhatJSONMarshalWrites checks that a task's output line is
// byte for byte json.Marshal's, for any URL, status, valid JSON body and
// final URL: whitespace between tokens dropped, the HTML characters and
// U+2028/U+2029 escaped, invalid UTF-8 in the URLs replaced.
func FuzzOutputLineIsWhatJSONMarshalWrites(f *testing.F) {
	f.Add("http://127.0.0.1:8080/items/1", 200, []byte(`{"id":1,"name":"item-1"}`), "")
	f.Add("https://h/a?b=c&d=<e>", 203, []byte(" {\n\t\"a\" : [1, 2,\r\n 3], \"s\": \"x y\\\" <&> \\\\\" } "), "https://h/final?x=1")
	f.Add("http://h/\u2028\"\\\x00\xff", 0, []byte(`"line\u2028sep`+"\u2028\u2029"+` caf`+"\u00e9"+`"`), "\xe2\x80")
	f.Add("", 500, []byte(`null`), "")
	f.Add("http://h/", 200, []byte("[\"\\u003c\", \"\\\\\", \"\\/\", 1e5, -0.5, true, false, {}]"), "x")
	f.Fuzz(func(t *testing.T, url string, status int, body []byte, final string) {
		if !json.Valid(body) {
			body = nil // rawJSON lets only valid bodies through; nil is written null
		}
		l := outputLine{URL: url, Status: status, Data: json.RawMessage(body), FinalURL: final}
		want, err := json.Marshal(l)
		require.NoError(t, err)
		got, err := l.appendLine(nil)
		require.NoError(t, err)
		assert.Equal(t, string(want)+"\n", string(got))
	})
}

// FuzzTaskLineIsTheCheckedAnswer checks that a task's line made from its
// answer as rawJSON returns it is byte for byte what json.Marshal writes for
// the whole answer made valid UTF-8 without lone surrogates, with as many
// replaced: a plain answer, copied as it is, gives the line a compacted one
// does.
func FuzzTaskLineIsTheCheckedAnswer(f *testing.F) {
	for _, s := range []string{
		`{"id":7,"name":"item-7","description":"Item number 7 of the politely mock API.","price":7.99,"tags":["mock","group-0"]}` + "\n",
		" {\"a\":1}", `{"a": 1}`, `["<"]`, `["a&b"]`, `{"k":">"}`, `"caf` + "\u00e9" + `"`, `"\u00e9"`, `"\ud800"`,
		`"\\ud800"`, `"line` + "\u2028" + `"`, "\"\xff\"", `[1,2.5e3,-0,true,false,null,{}]`, ``, " \t", `{"a":1`, `01`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		data, plain, replaced, err := rawJSON(response{status: 200, body: body})
		fixed, n := replaceInvalidUTF8(body, utf8.RuneError)
		fixed, lone := replaceLoneSurrogates(fixed)
		switch {
		case len(bytes.TrimSpace(body)) == 0:
			fixed = []byte("null")
		case !json.Valid(body):
			require.Error(t, err, "%q", body)
			return
		}
		require.NoError(t, err, "%q", body)
		want, err := json.Marshal(outputLine{URL: "http://h/items/1", Status: 200, Data: json.RawMessage(fixed)})
		require.NoError(t, err)
		got, err := outputLine{URL: "http://h/items/1", Status: 200, answer: data, plain: plain}.appendLine(nil)
		require.NoError(t, err)
		assert.Equal(t, string(want)+"\n", string(got), "%q, plain %v", body, plain)
		if len(bytes.TrimSpace(body)) > 0 {
			assert.Equal(t, n+lone, replaced, "%q", body)
		}
	})
}

func TestAnItemsOutputLineIsWhatJSONMarshalWrites(t *testing.T) {
	l := outputLine{URL: "http://h/items?page=1", Data: map[string]any{"id": json.Number("7"), "name": "<a & b>"}}
	want, err := json.Marshal(l)
	require.NoError(t, err)
	got, err := l.appendLine([]byte("before\n"))
	require.NoError(t, err)
	assert.Equal(t, "before\n"+string(want)+"\n", string(got))
}
