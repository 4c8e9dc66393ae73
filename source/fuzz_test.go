package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// refLines is an independent model of JSONLines over json.RawMessage: the
// compacted values it should yield and the error it should end with ("" for
// none), as "line N (byte offset P): " plus a kind.
func refLines(data []byte, maxLine int) (vals []string, errPrefix string, tooLong bool) {
	pos, line := 0, 1
	for pos < len(data) {
		raw, n := data[pos:], len(data)-pos
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw, n = raw[:i], i+1
			raw = bytes.TrimSuffix(raw, []byte{'\r'})
		}
		where := fmt.Sprintf("line %d (byte offset %d): ", line, pos)
		if len(raw) > maxLine {
			return vals, where, true
		}
		if len(bytes.Trim(raw, " \t\r")) > 0 {
			if !json.Valid(raw) {
				return vals, where, false
			}
			vals = append(vals, compact(raw))
		}
		pos += n
		line++
	}
	return vals, "", false
}

func compact(b []byte) string {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return "invalid: " + string(b)
	}
	return out.String()
}

// FuzzJSONLines checks JSONLines against refLines, and that resuming at the
// cursors of a run (by seeking and by skipping) yields exactly the rest.
func FuzzJSONLines(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16, group uint8) {
		if len(data) > 1<<16 {
			return
		}
		maxLen, g := 1+int(maxLine)%512, 1+int(group)%4
		opts := []Option{WithMaxLineBytes(maxLen), WithGroup(g)}
		src, err := JSONLines[json.RawMessage](bytes.NewReader(data), opts...)
		require.NoError(t, err)
		got, fullErr := drain(t, src)

		wantVals, wantErr, wantTooLong := refLines(data, maxLen)
		gotVals := make([]string, 0, len(got))
		for _, it := range got {
			gotVals = append(gotVals, compact(it.Value))
		}
		require.Equal(t, nilIfEmpty(wantVals), nilIfEmpty(gotVals))
		if wantErr == "" {
			require.NoError(t, fullErr)
		} else {
			require.Error(t, fullErr)
			require.Contains(t, fullErr.Error(), wantErr)
			require.Equal(t, wantTooLong, errors.Is(fullErr, ErrLineTooLong), "%v", fullErr)
		}
		requirePages(t, got)

		// Resume at up to 8 cursors spread over the run, and at the start.
		cursors := []Cursor{""}
		for i := 0; i < len(got); i += max(1, len(got)/8) {
			cursors = append(cursors, got[i].Page, got[i].Next)
		}
		for _, c := range cursors {
			from := 0
			for i, it := range got {
				if c == it.Next {
					from = i - it.Index + it.Count
				} else if c == it.Page {
					from = i - it.Index
					break
				}
			}
			for _, r := range []io.Reader{bytes.NewReader(data), readerOnly{bytes.NewReader(data)}} {
				src, err := JSONLines[json.RawMessage](r, append(opts, WithCursor(c))...)
				require.NoError(t, err)
				rest, restErr := drain(t, src)
				require.Equal(t, nilIfEmpty(got[from:]), nilIfEmpty(rest), "resume at %q", c)
				if fullErr == nil {
					require.NoError(t, restErr)
				} else {
					require.EqualError(t, restErr, fullErr.Error())
				}
			}
		}
	})
}

// FuzzResumeCursor feeds arbitrary cursors to every source: each either
// rejects the cursor at construction with an error naming WithCursor, or
// resumes and yields a bounded run without panicking.
func FuzzResumeCursor(f *testing.F) {
	fetchNum := func(_ context.Context, n int) (Page[int], error) {
		if n > 50 {
			return Page[int]{}, nil
		}
		return Page[int]{Items: []int{n}}, nil
	}
	fetchStr := func(_ context.Context, s string) (Page[int], error) {
		if len(s) > 20 {
			return Page[int]{Items: []int{len(s)}}, nil
		}
		return Page[int]{Items: []int{len(s)}, Next: s + "x"}, nil
	}
	const input = "1\n2\r\n\n3"
	builders := map[string]func(c Cursor) (Source[int], error){
		"PageNumbers": func(c Cursor) (Source[int], error) { return PageNumbers(fetchNum, WithCursor(c), WithMaxPages(60)) },
		"Offsets":     func(c Cursor) (Source[int], error) { return Offsets(fetchNum, WithCursor(c), WithMaxPages(60)) },
		"Tokens":      func(c Cursor) (Source[int], error) { return Tokens(fetchStr, WithCursor(c), WithMaxPages(60)) },
		"NextLinks": func(c Cursor) (Source[int], error) {
			return NextLinks("http://h/", func(ctx context.Context, u string) (Page[int], error) {
				return fetchStr(ctx, u)
			}, WithCursor(c), WithMaxPages(60))
		},
		"Slice": func(c Cursor) (Source[int], error) { return Slice([]int{1, 2, 3}, WithCursor(c), WithGroup(2)) },
		"Pull": func(c Cursor) (Source[int], error) {
			return Pull(slices.Values([]int{1, 2, 3}), WithCursor(c), WithGroup(2))
		},
		"Range":     func(c Cursor) (Source[int], error) { return Range(-7, 20, 3, WithCursor(c), WithGroup(2)) },
		"JSONLines": func(c Cursor) (Source[int], error) { return JSONLines[int](strings.NewReader(input), WithCursor(c)) },
		"JSONLines/skip": func(c Cursor) (Source[int], error) {
			return JSONLines[int](readerOnly{strings.NewReader(input)}, WithCursor(c))
		},
	}
	f.Fuzz(func(t *testing.T, c string) {
		for name, build := range builders {
			src, err := build(Cursor(c))
			if err != nil {
				require.Contains(t, err.Error(), "WithCursor", name)
				continue
			}
			items, err := drain(t, src)
			require.LessOrEqual(t, len(items), 100, name)
			if p, ok := src.(*Pulled[int]); ok {
				require.NoError(t, p.Close())
			}
			if err != nil {
				require.NotEmpty(t, err.Error(), name)
			}
		}
	})
}
