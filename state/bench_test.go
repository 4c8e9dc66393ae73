package state

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/politely/politely/source"
)

// benchLine is a typical output line: a URL, a status and a small body.
var benchLine = append([]byte(`{"url":"http://127.0.0.1:8080/items/123456","status":200,"data":{"id":123456,"name":"item 123456","tags":["a","b","c"],"score":0.75,"body":"`),
	append(bytes.Repeat([]byte("x"), 80), `"}}`...)...)

// benchPages are the cursors of the pages items are on, 100 items a page.
var benchPages = func() []source.Cursor {
	c := make([]source.Cursor, 1<<12)
	for i := range c {
		c[i] = source.Cursor("page:" + strconv.Itoa(i))
	}
	return c
}()

// BenchmarkLineWriterBaseline is what the crawl does without state: append
// the line to a buffered file.
func BenchmarkLineWriterBaseline(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "out.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, flushAt)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine) + 1))
	for b.Loop() {
		_, _ = w.Write(benchLine)
		_ = w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkJournalAppend is the same with state, as the engine drives it:
// per item an Append, then the journal's Done (or Mark for a page's last item), with
// the default group commits (each fsyncs the file and commits to bbolt)
// running in the background and the last one in Close, inside the timing.
func BenchmarkJournalAppend(b *testing.B) {
	s, j := benchJournal(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine) + 1))
	i := 0
	for b.Loop() {
		item(b, j, i)
		i++
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkJournalAppendParallel is BenchmarkJournalAppend with concurrent
// consumers (GOMAXPROCS of them), which contend for the store's lock.
func BenchmarkJournalAppendParallel(b *testing.B) {
	s, j := benchJournal(b)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine) + 1))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			item(b, j, int(next.Add(1)-1))
		}
	})
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

func item(b *testing.B, j *Journal, i int) {
	page, index := benchPages[(i/100)%len(benchPages)], i%100
	if err := j.Append(page, index, benchLine); err != nil {
		b.Fatal(err)
	}
	var err error
	if index == 99 {
		err = j.Mark(page, benchPages[(i/100+1)%len(benchPages)])
	} else {
		err = j.Done(page, index)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCommit is one group commit of 1000 items (the default batch),
// fsyncs and bbolt transaction included: what the committer spends.
func BenchmarkCommit(b *testing.B) {
	s, j := benchJournal(b, WithCommitEvery(1<<30), WithCommitInterval(1<<62))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		for range 500 { // 1000 updates
			item(b, j, i)
			i++
		}
		b.StartTimer()
		if err := s.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchJournal opens a store in a fresh directory and its journal of one
// output file.
func benchJournal(b *testing.B, opts ...Option) (*Store, *Journal) {
	b.Helper()
	dir := b.TempDir()
	s, err := Open(dir, fp, opts...)
	if err != nil {
		b.Fatal(err)
	}
	j, err := s.OpenJournal(File{Name: "output", Path: filepath.Join(dir, "out.jsonl")})
	if err != nil {
		b.Fatal(err)
	}
	return s, j
}
