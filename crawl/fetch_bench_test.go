package crawl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkRawJSON measures what a task's answer costs to check before its
// line is written: json.Valid alone (the check before the answers were made
// valid UTF-8, the baseline) and rawJSON (json.Valid, utf8.Valid and the
// lone-surrogate scan), on a valid 4 KiB body without escapes to fix.
func BenchmarkRawJSON(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"items":[`)
	for i := 0; buf.Len() < 4<<10; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"id":%d,"name":"caf\u00e9 item %d","tags":["a","b"],"score":%d.5}`, i, i, i)
	}
	buf.WriteString(`]}`)
	r := response{status: 200, body: buf.Bytes()}
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(r.body)))
		b.ReportAllocs()
		for b.Loop() {
			if !json.Valid(r.body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("rawJSON", func(b *testing.B) {
		b.SetBytes(int64(len(r.body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, n, err := rawJSON(r); err != nil || n != 0 {
				b.Fatal(err, n)
			}
		}
	})
}
