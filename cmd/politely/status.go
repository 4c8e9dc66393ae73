package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/politely/politely/crawl"
)

// isTerminal reports whether w is a terminal that takes cursor codes: not a
// file or a pipe, and not a terminal whose TERM is "dumb". Only there is a
// live status line drawn.
func isTerminal(w io.Writer) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// statusLine redraws one line of progress at the bottom of a terminal.
// Log output written through it appears above the line, which is redrawn
// after it. A nil *statusLine does nothing.
type statusLine struct {
	mu   sync.Mutex
	w    io.Writer
	line string // the line shown, "" when none
}

func (s *statusLine) show(p crawl.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = formatStatus(p)
	fmt.Fprint(s.w, "\r\033[K"+s.line)
}

// Write writes p above the status line: it clears the line, writes p and
// draws the line again.
func (s *statusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line == "" {
		return s.w.Write(p)
	}
	fmt.Fprint(s.w, "\r\033[K")
	n, err := s.w.Write(p)
	fmt.Fprint(s.w, s.line)
	return n, err
}

// end leaves the last status line on screen and moves past it, so that what
// follows starts on its own line.
func (s *statusLine) end() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		fmt.Fprintln(s.w)
		s.line = ""
	}
}

// formatStatus is the status line's text: items done (of the announced
// total, with an ETA, when the API announces one), rate, limit, throttled,
// retries and failed items.
func formatStatus(p crawl.Progress) string {
	done := p.Succeeded + p.Failed
	var b strings.Builder
	if p.Total > 0 {
		fmt.Fprintf(&b, "items %d/%d (%.0f%%)", done, p.Total, 100*float64(done)/float64(p.Total))
	} else {
		fmt.Fprintf(&b, "items %d", done)
	}
	fmt.Fprintf(&b, "  %.1f/s  limit %d  throttled %d  retries %d  errors %d", p.Rate, p.Limit, p.Throttled, p.Retries, p.Failed)
	if p.Total > done && p.Rate > 0 {
		eta := time.Duration(float64(p.Total-done) / p.Rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(&b, "  ETA %s", eta)
	}
	return b.String()
}
