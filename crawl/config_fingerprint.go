package crawl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Fingerprint is a stable hash (64 hex digits) of what the config crawls:
// source.url, the source.pagination keys style, param, start, step,
// cursor_field, next_field and max_pages, source.items_field, task.url and
// task.method, after defaults, so leaving a key out or writing its default
// gives the same fingerprint. Nothing else counts: user_agent, headers
// (tokens rotate), header_hosts, max_empty_pages (it only stops a listing
// that gives nothing), limits, politeness and the output, failed and state
// paths can change between runs that share a state.
func (c *Config) Fingerprint() string {
	p := c.Source.Pagination
	srcURL, task, taskURL, method := "", "no task", "", ""
	if c.Source.URL != nil {
		srcURL = c.Source.URL.String()
	}
	if c.Task != nil {
		task, method = "task", c.Task.Method
		if c.Task.URL != nil {
			taskURL = c.Task.URL.String()
		}
	}
	h := sha256.New()
	for _, field := range []string{
		"politely-crawl-1", srcURL, string(p.Style), p.Param, strconv.Itoa(p.Start), strconv.Itoa(p.Step),
		p.CursorField.String(), p.NextField.String(), strconv.Itoa(p.MaxPages), c.Source.ItemsField.String(),
		task, taskURL, method,
	} {
		fmt.Fprintf(h, "%d:%s;", len(field), field) // length-prefixed: no two field lists hash alike
	}
	return hex.EncodeToString(h.Sum(nil))
}
