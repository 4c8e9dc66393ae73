package crawl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// invalidBody is a JSON text whose strings and keys hold invalid UTF-8,
// and a lone surrogate escape.
const invalidBody = "{\"a\":\"\xff\xfe bad\",\"k\xc3\":\"ok\",\"n\":[\"\xed\xa0\x80\"],\"s\":\"\\ud800\"}"

// assertValidLines checks that every line of the file is valid UTF-8 JSON.
func assertValidLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, l := range lines {
		assert.True(t, utf8.Valid(l), "line %q", l)
		assert.True(t, json.Valid(l), "line %q", l)
	}
	return lines
}

func TestRunWritesInvalidUTF8AsReplacementCharacters(t *testing.T) {
	tests := []struct {
		name string
		task string
		// data picks the object from an output line
		data func(line map[string]any) map[string]any
	}{
		{name: "task", task: "task:\n  url: \"{+p}\"", data: func(l map[string]any) map[string]any { return l["data"].(map[string]any) }},
		{name: "listing only", data: func(l map[string]any) map[string]any { return l["data"].(map[string]any)["v"].(map[string]any) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/items":
					if tt.task != "" {
						fmt.Fprint(w, `{"items":[{"p":"/d/1"},{"p":"/d/2"},{"p":"/d/3"}]}`)
						return
					}
					fmt.Fprintf(w, `{"items":[{"p":"/d/1","v":%s},{"p":"/d/2","v":{"a":"fine \ufffd"}},{"p":"/d/3","v":%s}]}`, invalidBody, invalidBody)
				case "/d/2":
					fmt.Fprint(w, `{"a":"fine \ufffd"}`)
				case "/robots.txt":
					http.NotFound(w, r)
				default:
					fmt.Fprint(w, invalidBody)
				}
			})
			cfg := testConfig(t, api.URL+"/items", "    style: none", tt.task, nil)
			core, logs := observer.New(zapcore.WarnLevel)

			sum, err := runTest(t, cfg, WithLogger(zap.New(core)))
			require.NoError(t, err)
			require.Equal(t, int64(3), sum.Succeeded)

			lines := assertValidLines(t, cfg.Output)
			require.Len(t, lines, 3)
			var fixed int
			for _, raw := range lines {
				var l map[string]any
				require.NoError(t, json.Unmarshal(raw, &l))
				d := tt.data(l)
				if d["a"] == "fine \ufffd" {
					continue
				}
				fixed++
				assert.Equal(t, map[string]any{"a": "\ufffd\ufffd bad", "k\ufffd": "ok", "n": []any{"\ufffd\ufffd\ufffd"}, "s": "\ufffd"}, d)
				assert.NotContains(t, string(raw), `\ud800`, "no lone surrogate")
			}
			assert.Equal(t, 2, fixed)
			warned := logs.FilterMessageSnippet("invalid UTF-8")
			assert.Equal(t, 2, warned.Len(), "one warning per item, none for the valid one: %v", logs.All())
			for _, e := range warned.All() {
				assert.NotContains(t, fmt.Sprint(e.ContextMap()), "bad", "no body content in the log")
			}
		})
	}
}

func TestReplaceInvalidUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"\xff", "\ufffd"},
		{"a\xc3", "a\ufffd"},
		{"\xe2\x82", "\ufffd\ufffd"},
		{"é\xffé", "é\ufffdé"},
	}
	for _, tt := range tests {
		got, n := replaceInvalidUTF8([]byte(tt.in), utf8.RuneError)
		assert.Equal(t, tt.want, string(got), "%q", tt.in)
		var fromJSON string
		require.NoError(t, json.Unmarshal([]byte(`"`+tt.in+`"`), &fromJSON))
		assert.Equal(t, fromJSON, string(got), "as encoding/json decodes %q", tt.in)
		assert.Equal(t, bytes.Count(got, []byte("\ufffd")), n)
	}
}

func TestReplaceLoneSurrogates(t *testing.T) {
	tests := []struct {
		in, want string
		n        int
	}{
		{in: `{"a":"plain"}`, want: `{"a":"plain"}`},
		{in: `{"a":"\ud83d\ude00"}`, want: `{"a":"\ud83d\ude00"}`},
		{in: `{"a":"\ud800"}`, want: `{"a":"\ufffd"}`, n: 1},
		{in: `{"a":"\uDC00x\uD83D"}`, want: `{"a":"\ufffdx\ufffd"}`, n: 2},
		{in: `{"a":"\\ud800"}`, want: `{"a":"\\ud800"}`},
		{in: `{"\ud800":"\ud800\ud800\udc00"}`, want: `{"\ufffd":"\ufffd\ud800\udc00"}`, n: 2},
		{in: `["\u00e9\ud7ff\ue000"]`, want: `["\u00e9\ud7ff\ue000"]`},
	}
	for _, tt := range tests {
		got, n := replaceLoneSurrogates([]byte(tt.in))
		assert.Equal(t, tt.want, string(got), tt.in)
		assert.Equal(t, tt.n, n, tt.in)
		// The result decodes as encoding/json decodes the input.
		var in, out any
		require.NoError(t, json.Unmarshal([]byte(tt.in), &in))
		require.NoError(t, json.Unmarshal(got, &out))
		assert.Equal(t, in, out, tt.in)
	}
}

// FuzzReplaceLoneSurrogates: any valid JSON text keeps its meaning (as
// encoding/json decodes it) and is left with no lone surrogate escape.
func FuzzReplaceLoneSurrogates(f *testing.F) {
	for _, s := range []string{`"\ud800"`, `{"a":"\\\ud83d\ude00\udc00"}`, `["\uD800\uDBFF\uDFFF"]`, `1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		got, _ := replaceLoneSurrogates([]byte(s))
		require.True(t, json.Valid(got), "%q -> %q", s, got)
		var in, out any
		require.NoError(t, json.Unmarshal([]byte(s), &in))
		require.NoError(t, json.Unmarshal(got, &out))
		assert.Equal(t, in, out, "%q -> %q", s, got)
		again, n := replaceLoneSurrogates(got)
		assert.Zero(t, n, "%q", got)
		assert.Equal(t, got, again)
	})
}

// TestUnmarkPageFixesAnItemOfOneKey checks that invalid UTF-8 in the value
// of an item decoded with one kept key is replaced, with its warning, as in
// an item of more keys.
func TestUnmarkPageFixesAnItemOfOneKey(t *testing.T) {
	body := []byte("{\"items\":[{\"id\":1,\"p\":\"/d/\xff\"},{\"p\":\"/d/2\"}]}")
	k := newItemKeys([]string{"items"}, []string{"p"})
	v, _, mark, err := decodeMarked(response{body: body}, k)
	require.NoError(t, err)
	require.NotZero(t, mark)
	items, err := DotPath{keys: k.way}.LookupArray(v)
	require.NoError(t, err)
	core, logs := observer.New(zapcore.WarnLevel)
	l := &listing{log: zap.New(core)}
	l.unmarkPage("http://a/items", items, v, mark)
	require.Len(t, items, 2)
	assert.Equal(t, &oneKeyItem{key: "p", value: "/d/\ufffd"}, items[0])
	assert.Equal(t, &oneKeyItem{key: "p", value: "/d/2"}, items[1])
	assert.Equal(t, 1, logs.FilterMessageSnippet("invalid UTF-8").Len())
}
