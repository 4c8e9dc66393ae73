package source

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrLineTooLong is wrapped by the error that ends Lines or JSONLines at a
// line longer than WithMaxLineBytes.
var ErrLineTooLong = errors.New("source: line too long")

const (
	defaultMaxLine = 1 << 20
	readBuffer     = 64 << 10
)

// lineSource yields the decoded lines of a reader.
type lineSource[T any] struct {
	r         io.Reader
	br        *bufio.Reader
	decode    func([]byte) (T, error)
	skipBlank bool
	maxLine   int
	group     int

	resume   bool  // the reader must still be moved to off
	line     int   // number of the next line, from 1
	off      int64 // byte offset of the next line
	long     []byte
	buf      []T // the current page
	bi       int
	page     Cursor
	next     Cursor
	deferred error // an error met after some lines of the page: returned once they are used up
	err      error // sticky: io.EOF or the error that ended the source
}

// Lines returns a Source of the lines of r decoded by decode, in pages of
// WithGroup lines (default 1: every line is a page, so a checkpoint loses no
// line). A line ends at "\n"; a "\r" before it and the "\n" are not passed to
// decode; a last line without "\n" counts. The slice passed to decode is only
// valid during the call. A decode error ends the source with an error naming
// the line; a line longer than WithMaxLineBytes (default 1 MiB) ends it with
// an error wrapping ErrLineTooLong, after reading at most that many bytes.
//
// The cursor of a line is "line:N:OFFSET" (its number from 1 and its byte
// offset from where r was at the first Next). Resuming at a cursor seeks
// if r is an io.Seeker and otherwise reads and discards OFFSET bytes; either
// way it checks that OFFSET starts a line (or is the end of the input). The
// last page's Next is the position after it, so a source resumed there yields
// the lines appended since (if the input ended with "\n").
//
// Options: WithGroup, WithMaxLineBytes, WithCursor.
func Lines[T any](r io.Reader, decode func(line []byte) (T, error), opts ...Option) (Source[T], error) {
	return newLines("Lines", r, decode, false, opts)
}

// JSONLines returns a Source of the JSON values of r, one per line, decoded
// with encoding/json into T. Blank lines are skipped (but counted in line
// numbers). It is Lines with a JSON decoder; see Lines for cursors and limits.
//
// Options: WithGroup, WithMaxLineBytes, WithCursor.
func JSONLines[T any](r io.Reader, opts ...Option) (Source[T], error) {
	return newLines("JSONLines", r, func(line []byte) (T, error) {
		var v T
		err := json.Unmarshal(line, &v)
		return v, err
	}, true, opts)
}

func newLines[T any](what string, r io.Reader, decode func([]byte) (T, error), skipBlank bool, opts []Option) (Source[T], error) {
	switch {
	case r == nil:
		return nil, fmt.Errorf("source: %s: reader is nil", what)
	case decode == nil:
		return nil, fmt.Errorf("source: %s: decode is nil", what)
	}
	o, err := buildOptions(what, optGroup|optMaxLineBytes|optCursor, opts)
	if err != nil {
		return nil, err
	}
	s := &lineSource[T]{r: r, decode: decode, skipBlank: skipBlank, group: group(o, 1), maxLine: defaultMaxLine, line: 1}
	if o.set&optMaxLineBytes != 0 {
		s.maxLine = o.maxLineBytes
	}
	if o.cursor != "" {
		if s.line, s.off, err = parseLineCursor(o.cursor); err != nil {
			return nil, fmt.Errorf("source: %s: WithCursor: %w", what, err)
		}
		s.resume = s.off > 0
	}
	return s, nil
}

// lineCursor encodes the position of line n at byte offset off.
func lineCursor(n int, off int64) Cursor {
	return Cursor("line:" + strconv.Itoa(n) + ":" + strconv.FormatInt(off, 10))
}

// parseLineCursor decodes a line cursor.
func parseLineCursor(c Cursor) (int, int64, error) {
	rest, ok := strings.CutPrefix(string(c), "line:")
	if !ok {
		return 0, 0, fmt.Errorf("cursor %q is not a line cursor (want line:N:OFFSET)", c)
	}
	ns, offs, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, 0, fmt.Errorf("cursor %q: missing the byte offset", c)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 {
		return 0, 0, fmt.Errorf("cursor %q: line number %q is not a positive integer", c, ns)
	}
	off, err := strconv.ParseInt(offs, 10, 64)
	if err != nil || off < 0 || (off == 0) != (n == 1) {
		return 0, 0, fmt.Errorf("cursor %q: byte offset %q does not fit line %d", c, offs, n)
	}
	return n, off, nil
}

// Next returns the next decoded line, or io.EOF after the last.
func (s *lineSource[T]) Next(ctx context.Context) (Item[T], error) {
	if s.err == nil {
		if err := ctx.Err(); err != nil {
			s.end(err)
		} else if s.bi >= len(s.buf) {
			s.fill()
		}
	}
	if s.err != nil {
		return Item[T]{}, s.err
	}
	it := Item[T]{Value: s.buf[s.bi], Index: s.bi, Count: len(s.buf), Page: s.page, Next: s.next}
	s.bi++
	return it, nil
}

// end makes err the answer of every later Next.
func (s *lineSource[T]) end(err error) {
	s.err = err
	clear(s.buf)
	s.buf, s.bi, s.long = nil, 0, nil
}

// fill reads and decodes the next page of lines, or ends the source.
func (s *lineSource[T]) fill() {
	if s.deferred != nil {
		s.end(s.deferred)
		return
	}
	if s.br == nil {
		if err := s.seek(); err != nil {
			s.end(err)
			return
		}
	}
	clear(s.buf)
	s.buf, s.bi = s.buf[:0], 0
	s.page = lineCursor(s.line, s.off)
	for len(s.buf) < s.group {
		v, ok, err := s.readOne()
		if err != nil {
			if len(s.buf) == 0 {
				s.end(err)
				return
			}
			s.deferred = err // yield the good lines of this page first
			break
		}
		if !ok {
			break
		}
		s.buf = append(s.buf, v)
	}
	if len(s.buf) == 0 {
		s.end(io.EOF)
		return
	}
	s.next = lineCursor(s.line, s.off)
}

// readOne reads and decodes the next non-skipped line; ok is false at the end
// of the input. On an error, line and off still point at the failing line.
func (s *lineSource[T]) readOne() (v T, ok bool, err error) {
	for {
		line, n, err := s.readLine()
		if err != nil || n == 0 {
			return v, false, err
		}
		if !s.skipBlank || !blank(line) {
			if v, err = s.decode(line); err != nil {
				return v, false, fmt.Errorf("line %d (byte offset %d): %w", s.line, s.off, notEOF(err))
			}
			ok = true
		}
		s.line++
		s.off += int64(n)
		if ok {
			return v, true, nil
		}
	}
}

// blank reports whether line holds only JSON whitespace.
func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// readLine reads one line, holding at most maxLine plus one read buffer
// (64 KiB). It returns the line without "\n" or "\r\n" and n, its length in
// the input with its ending; n is 0 at the end of the input.
func (s *lineSource[T]) readLine() ([]byte, int, error) {
	s.long = s.long[:0]
	for {
		frag, err := s.br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			s.long = append(s.long, frag...)
			if len(s.long) > s.maxLine+1 { // +1: the line may still end in "\r\n"
				return nil, 0, s.tooLong()
			}
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return nil, 0, fmt.Errorf("line %d (byte offset %d): read: %w", s.line, s.off, err)
		}
		line := frag
		if len(s.long) > 0 {
			s.long = append(s.long, frag...)
			line = s.long
		}
		n := len(line)
		if n > 0 && line[n-1] == '\n' {
			line = line[:n-1]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
		}
		if len(line) > s.maxLine {
			return nil, 0, s.tooLong()
		}
		return line, n, nil
	}
}

func (s *lineSource[T]) tooLong() error {
	return fmt.Errorf("line %d (byte offset %d): longer than %d bytes: %w", s.line, s.off, s.maxLine, ErrLineTooLong)
}

// seek moves the reader to the resume offset and checks that a line starts
// there: the byte before it is "\n", or it is the end of the input (after a
// last line without "\n"). It sets up s.br.
func (s *lineSource[T]) seek() error {
	if !s.resume {
		s.br = bufio.NewReaderSize(s.r, readBuffer)
		return nil
	}
	where := fmt.Sprintf("resume at line %d (byte offset %d)", s.line, s.off)
	if sk, ok := s.r.(io.Seeker); ok {
		base, err := sk.Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		size, err := sk.Seek(0, io.SeekEnd)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if size-base < s.off {
			return fmt.Errorf("%s: the input has only %d bytes", where, size-base)
		}
		if _, err := sk.Seek(base+s.off-1, io.SeekStart); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	} else if n, err := io.CopyN(io.Discard, s.r, s.off-1); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: the input has only %d bytes", where, n)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	var b [1]byte
	if _, err := io.ReadFull(s.r, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: the input has only %d bytes", where, s.off-1)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	s.br = bufio.NewReaderSize(s.r, readBuffer)
	if b[0] != '\n' {
		if _, err := s.br.Peek(1); !errors.Is(err, io.EOF) {
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			return fmt.Errorf("%s: no line starts there", where)
		}
	}
	return nil
}
