package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readerOnly hides the Seek method of a reader.
type readerOnly struct{ io.Reader }

// text decodes a line as a string.
func text(line []byte) (string, error) { return string(line), nil }

// resumers returns builders of a source over input resumed at a cursor, one
// that seeks and one that skips.
func resumers[T any](input string, build func(r io.Reader, c Cursor) (Source[T], error)) map[string]func(Cursor) (Source[T], error) {
	return map[string]func(Cursor) (Source[T], error){
		"seek": func(c Cursor) (Source[T], error) { return build(strings.NewReader(input), c) },
		"skip": func(c Cursor) (Source[T], error) { return build(readerOnly{strings.NewReader(input)}, c) },
	}
}

func TestJSONLinesDecodesEveryLine(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		opts      []Option
		want      []int
		wantPages []Cursor
		wantErr   string
	}{
		{"empty input", "", nil, nil, nil, ""},
		{"one per line", "1\n2\n3\n", nil, []int{1, 2, 3}, []Cursor{"line:1:0", "line:2:2", "line:3:4"}, ""},
		{"no final newline", "1\n22", nil, []int{1, 22}, []Cursor{"line:1:0", "line:2:2"}, ""},
		{"CRLF endings", "1\r\n2\r\n", nil, []int{1, 2}, []Cursor{"line:1:0", "line:2:3"}, ""},
		{"blank lines are skipped but counted", "\n1\n \t\r\n\n2\n\n", nil, []int{1, 2}, []Cursor{"line:1:0", "line:3:3"}, ""},
		{"groups of two", "1\n2\n3\n", []Option{WithGroup(2)}, []int{1, 2, 3}, []Cursor{"line:1:0", "line:3:4"}, ""},
		{"a bad line ends after the good ones of its page", "1\n2\nx\n4\n", []Option{WithGroup(2)}, []int{1, 2}, []Cursor{"line:1:0"},
			"line 3 (byte offset 4): invalid character 'x' looking for beginning of value"},
		{"a bad line in the middle of a page", "1\nx\n", []Option{WithGroup(5)}, []int{1}, []Cursor{"line:1:0"},
			"line 2 (byte offset 2): invalid character 'x' looking for beginning of value"},
		{"a line at the cap passes", "1234\r\n5", []Option{WithMaxLineBytes(4)}, []int{1234, 5}, []Cursor{"line:1:0", "line:2:6"}, ""},
		{"a line over the cap names the line", "1\n12345\n", []Option{WithMaxLineBytes(4)}, []int{1}, []Cursor{"line:1:0"},
			"line 2 (byte offset 2): longer than 4 bytes: source: line too long"},
		{"a last line over the cap", "1\n12345", []Option{WithMaxLineBytes(4)}, []int{1}, []Cursor{"line:1:0"},
			"line 2 (byte offset 2): longer than 4 bytes: source: line too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := JSONLines[int](strings.NewReader(tt.input), tt.opts...)
			require.NoError(t, err)
			got, err := drain(t, src)
			assert.Equal(t, tt.want, nilIfEmpty(values(got)))
			assert.Equal(t, tt.wantPages, pageCursors(got))
			requirePages(t, got)
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.wantErr)
				_, again := src.Next(context.Background())
				require.Equal(t, err, again, "an error ends the source")
			}
			for how, resume := range resumers(tt.input, func(r io.Reader, c Cursor) (Source[int], error) {
				return JSONLines[int](r, append(tt.opts, WithCursor(c))...)
			}) {
				t.Run(how, func(t *testing.T) { requireResumes(t, got, err, resume) })
			}
		})
	}
}

func TestLinesKeepBlankLinesAndCarriageReturnsNotBeforeNewline(t *testing.T) {
	input := "a\n\nb\r\nc\r"
	src, err := Lines(strings.NewReader(input), text)
	require.NoError(t, err)
	got, err := drain(t, src)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "", "b", "c\r"}, values(got))
	assert.Equal(t, Cursor("line:5:8"), got[3].Next)
}

func TestLinesErrorsWrapCauses(t *testing.T) {
	src, err := JSONLines[int](strings.NewReader("1\n\"x\"\n"))
	require.NoError(t, err)
	_, err = drain(t, src)
	var typeErr *json.UnmarshalTypeError
	require.ErrorAs(t, err, &typeErr)
	assert.Contains(t, err.Error(), "line 2 (byte offset 2): ")

	lines, err := Lines(io.MultiReader(strings.NewReader("a\nb"), iotestErrReader{errBoom}), text)
	require.NoError(t, err)
	got, err := drain(t, lines)
	assert.Equal(t, []string{"a"}, values(got))
	require.ErrorIs(t, err, errBoom)
	assert.EqualError(t, err, "line 2 (byte offset 2): read: boom")
}

func TestLinesDecodeErrorMatchingEOFIsNotTheEnd(t *testing.T) {
	src, err := Lines(strings.NewReader("a\n"), func([]byte) (int, error) { return 0, io.EOF })
	require.NoError(t, err)
	_, err = src.Next(context.Background())
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NotErrorIs(t, err, io.EOF)
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// countingReader counts the bytes read from an endless line of 'a'.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n += int64(len(p))
	return len(p), nil
}

func TestLinesReadBoundedBytesOfAnEndlessLine(t *testing.T) {
	const maxLine = 256 << 10
	r := &countingReader{}
	src, err := Lines(r, text, WithMaxLineBytes(maxLine))
	require.NoError(t, err)
	_, err = src.Next(context.Background())
	require.ErrorIs(t, err, ErrLineTooLong)
	assert.EqualError(t, err, "line 1 (byte offset 0): longer than 262144 bytes: source: line too long")
	assert.LessOrEqual(t, r.n, int64(maxLine+2*readBuffer), "reads at most the cap and a buffer")
}

func TestLinesLongLinesUnderTheCapSpanReadBuffers(t *testing.T) {
	long := strings.Repeat("x", 3*readBuffer+17)
	input := long + "\r\n" + "short\n" + long
	for how, resume := range resumers(input, func(r io.Reader, c Cursor) (Source[string], error) {
		return Lines(r, text, WithMaxLineBytes(len(long)), WithCursor(c))
	}) {
		t.Run(how, func(t *testing.T) {
			src, err := resume("")
			require.NoError(t, err)
			got, err := drain(t, src)
			require.NoError(t, err)
			assert.Equal(t, []string{long, "short", long}, values(got))
			requireResumes(t, got, nil, resume)
		})
	}
}

func TestLinesResumeChecksTheCursor(t *testing.T) {
	const input = "1\n2\n3\n"
	tests := []struct {
		name    string
		cursor  Cursor
		wantErr string // at Next, for both ways of resuming
	}{
		{"not at a line start", "line:2:3", "resume at line 2 (byte offset 3): no line starts there"},
		{"beyond the input", "line:9:40", "resume at line 9 (byte offset 40): the input has only 6 bytes"},
	}
	for _, tt := range tests {
		for how, resume := range resumers(input, func(r io.Reader, c Cursor) (Source[int], error) {
			return JSONLines[int](r, WithCursor(c))
		}) {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				src, err := resume(tt.cursor)
				require.NoError(t, err)
				_, err = src.Next(context.Background())
				require.EqualError(t, err, tt.wantErr)
			})
		}
	}
}

func TestLinesResumeAtTheEndSeesAppendedLines(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("1\n2\n")
	src, err := JSONLines[int](bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	got, err := drain(t, src)
	require.NoError(t, err)
	buf.WriteString("3\n")
	src, err = JSONLines[int](bytes.NewReader(buf.Bytes()), WithCursor(got[len(got)-1].Next))
	require.NoError(t, err)
	rest, err := drain(t, src)
	require.NoError(t, err)
	assert.Equal(t, []int{3}, values(rest))
}

func TestLinesResumeFromTheReadersPosition(t *testing.T) {
	r := strings.NewReader("header\n1\n2\n")
	_, err := r.Seek(int64(len("header\n")), io.SeekStart)
	require.NoError(t, err)
	src, err := JSONLines[int](r, WithCursor("line:2:2"))
	require.NoError(t, err)
	got, err := drain(t, src)
	require.NoError(t, err)
	assert.Equal(t, []int{2}, values(got), "offsets count from where the reader was")
}

func TestLinesRejectBadArguments(t *testing.T) {
	r := strings.NewReader("")
	tests := []struct {
		name    string
		build   func() error
		wantErr string
	}{
		{"nil reader", func() error { _, err := JSONLines[int](nil); return err }, "source: JSONLines: reader is nil"},
		{"nil decode", func() error { _, err := Lines[int](r, nil); return err }, "source: Lines: decode is nil"},
		{"zero cap", func() error { _, err := JSONLines[int](r, WithMaxLineBytes(0)); return err },
			"source: JSONLines: WithMaxLineBytes(0): must be 1 or more"},
		{"max pages", func() error { _, err := JSONLines[int](r, WithMaxPages(1)); return err },
			"source: JSONLines: WithMaxPages does not apply"},
		{"cursor of another kind", func() error { _, err := JSONLines[int](r, WithCursor("index:1")); return err },
			`source: JSONLines: WithCursor: cursor "index:1" is not a line cursor (want line:N:OFFSET)`},
		{"cursor without offset", func() error { _, err := JSONLines[int](r, WithCursor("line:3")); return err },
			`source: JSONLines: WithCursor: cursor "line:3": missing the byte offset`},
		{"cursor with line 0", func() error { _, err := JSONLines[int](r, WithCursor("line:0:0")); return err },
			`source: JSONLines: WithCursor: cursor "line:0:0": line number "0" is not a positive integer`},
		{"line 1 not at offset 0", func() error { _, err := JSONLines[int](r, WithCursor("line:1:5")); return err },
			`source: JSONLines: WithCursor: cursor "line:1:5": byte offset "5" does not fit line 1`},
		{"line 3 at offset 0", func() error { _, err := JSONLines[int](r, WithCursor("line:3:0")); return err },
			`source: JSONLines: WithCursor: cursor "line:3:0": byte offset "0" does not fit line 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.EqualError(t, tt.build(), tt.wantErr)
		})
	}
}

func TestLinesStopOnCancelledContext(t *testing.T) {
	src, err := JSONLines[int](strings.NewReader("1\n2\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = src.Next(ctx)
	require.True(t, errors.Is(err, context.Canceled))
}
