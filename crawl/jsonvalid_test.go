package crawl

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func FuzzValidJSONIsJSONValid(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"name":"item-1","tags":["mock","group-1"],"price":1.99}`,
		" {\n\t\"a\" : [1, 2,\r\n 3], \"s\": \"x y\\\" <&> \\\\\" } ",
		`"\u00e9\ud83d\ude00\/\b\f\n\r\t" `, `"\u12"`, `"\x"`, "\"a\x01\"", "\"\xff\xfe\"",
		`-0.5e+10`, `01`, `-`, `1.`, `1e`, `.5`, `-01`, `0E-0`, `1.5E3x`,
		`true`, `fals`, `nullx`, `null null`, ``, ` `, `[`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`,
		`[[[]]]`, `{"a":{"b":[{}]}}`, `[1 2]`, `{"a":1 "b":2}`, "\ufeff{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		assert.Equal(t, json.Valid(b), validJSON(b), "%q", b)
	})
}

func TestValidJSONNestsAsDeepAsEncodingJSON(t *testing.T) {
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			closing := map[string]string{"[": "]", `{"a":`: "}"}[open]
			b := []byte(strings.Repeat(open, depth) + "1" + strings.Repeat(closing, depth))
			assert.Equal(t, json.Valid(b), validJSON(b), "depth %d of %s", depth, open)
		}
	}
	assert.True(t, validJSON([]byte(strings.Repeat("[", maxJSONDepth)+strings.Repeat("]", maxJSONDepth))))
	assert.False(t, validJSON([]byte(strings.Repeat("[", maxJSONDepth+1)+strings.Repeat("]", maxJSONDepth+1))))
}

// BenchmarkValidJSON checks a task answer of the fast mock as json.Valid
// and validJSON do.
func BenchmarkValidJSON(b *testing.B) {
	body := []byte(`{"id":4711,"name":"item-4711","description":"Item number 4711 of the politely mock API.","price":711.99,"tags":["mock","group-0"]}`)
	for _, bench := range []struct {
		name  string
		valid func([]byte) bool
	}{{"encoding/json", json.Valid}, {"validJSON", validJSON}} {
		b.Run(bench.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !bench.valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
