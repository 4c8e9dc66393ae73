package crawl

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/politely/politely/limiter"
)

// Defaults for keys the config file leaves out. Keys not listed here default
// to their zero value, which the field docs explain.
const (
	DefaultStyleParamPage   = "page"   // pagination.param for style page
	DefaultStyleParamOffset = "offset" // pagination.param for style offset
	DefaultStyleParamCursor = "cursor" // pagination.param for style cursor
	DefaultPageStart        = 1        // pagination.start for style page (offset starts at 0)
	DefaultMaxEmptyPages    = 10       // pagination.max_empty_pages
	DefaultMethod           = "GET"    // task.method

	DefaultBurst         = 1                        // limits.burst: no burst above limits.rate
	DefaultAlgorithm     = limiter.DefaultAlgorithm // limits.concurrency.algorithm: auto
	DefaultInitial       = limiter.DefaultInitial   // limits.concurrency.initial, clamped into [min, max]
	DefaultMin           = limiter.DefaultMin       // limits.concurrency.min
	DefaultMax           = limiter.DefaultMax       // limits.concurrency.max
	DefaultMaxTotal      = 1024                     // limits.concurrency.max_total
	DefaultTimeout       = 10 * time.Second
	DefaultRetries       = 4
	DefaultBackoffBase   = 250 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	DefaultMaxBody       = 10 << 20 // 10 MiB
	DefaultRobots        = true
	DefaultRetryAfterMax = 5 * time.Minute
)

// DefaultUnresponsiveAfter is limits.unresponsive_after. Nutch's
// fetcher.max.exceptions.per.queue is the same kind of threshold (off, -1,
// in Nutch's own defaults).
const DefaultUnresponsiveAfter = 5

// DefaultUnresponsiveRuns is limits.unresponsive_runs: as Nutch's
// db.fetch.retry.max (3), after which a URL that kept failing is gone.
const DefaultUnresponsiveRuns = 3

// Config is one crawl, as described by a YAML file in the format of the
// crawl-config spec: parsed strictly, validated, with defaults filled in and
// templates and dot paths compiled. Get one from Load or Parse; a Config
// built by hand skips that validation.
//
// Command-line flags override Output and State after parsing; CheckPaths
// then checks what a run needs. Headers hold secrets: their String and JSON
// forms show names only.
type Config struct {
	File string // the name given to Load or Parse, for errors found later

	UserAgent string  // user_agent, required: polite crawlers identify themselves
	Source    Source  // source, required: the paginated listing
	Task      *Task   // task: one request per item; nil = the items themselves are the output
	Headers   Headers // headers, after ${NAME} expansion: sent only to HeaderHosts
	// HeaderHosts (header_hosts) get Headers; default: Source.URL's host.
	HeaderHosts HeaderHosts
	Limits      Limits // limits, per host
	// Hosts (hosts) override Limits for some hosts, keyed by host or
	// host:port in lower case; see LimitsFor. A host's retries and backoff
	// apply to the tasks to it; listing pages and robots.txt follow Limits'.
	Hosts      map[string]Limits
	Politeness Politeness // politeness

	Output string // output: JSONL path; "" after Parse means --out must supply it
	Failed string // failed as written; "" = derived from Output, see FailedPath
	State  string // state directory; "" = no state, no resume

	// Warnings are "file:line: key: message" lines about keys that are
	// valid but have no effect (a pagination key the style does not use, as
	// in the spec's own example); the CLI should log them.
	Warnings []string
}

// Source is the paginated listing (key source).
type Source struct {
	URL        *url.URL   // url, required: absolute http or https, without user:password
	Pagination Pagination // pagination
	ItemsField DotPath    // items_field: where the items are in a page's JSON body; "" = the body is the array
}

// Style is a pagination style (pagination.style).
type Style string

// The pagination styles of the spec.
const (
	StyleLink    Style = "link"     // follow the Link: <…>; rel="next" header
	StylePage    Style = "page"     // set param to start, start+1, …
	StyleCursor  Style = "cursor"   // set param to the body's cursor_field
	StyleNextURL Style = "next_url" // fetch the body's next_field URL
	StyleOffset  Style = "offset"   // set param to start, start+step, …
	StyleNone    Style = "none"     // one page
)

var styles = []Style{StyleLink, StylePage, StyleCursor, StyleNextURL, StyleOffset, StyleNone}

// Pagination says how to go from one page of the listing to the next.
// Keys that the style does not use are checked, then ignored with a warning
// (Config.Warnings): the spec's example sets them all.
type Pagination struct {
	Style       Style   // style, required
	Param       string  // param (page, offset, cursor): query parameter to set; default: the style's name
	Start       int     // start (page: default 1; offset: default 0): first page number or offset, >= 0
	Step        int     // step (offset): how far each page moves; 0 (default) = the number of items on the page
	CursorField DotPath // cursor_field (cursor, required): where the next cursor is in the body
	NextField   DotPath // next_field (next_url, required): where the next page's URL is in the body
	MaxPages    int     // max_pages: 0 (default) = no limit
	// MaxEmptyPages (max_empty_pages): this many pages in a row without
	// items end the listing, with a warning; default 10, at least 1.
	MaxEmptyPages int
}

// Task is one request per listed item (key task).
type Task struct {
	URL    *Template // url, required; a relative result resolves against Source.URL (Template.Resolve)
	Method string    // method: GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS, upper case
}

// Limits apply per host (key limits).
type Limits struct {
	Rate        float64       // rate: requests per second, ceiling; 0 (default) = none (the server's headers still apply)
	Burst       int           // burst: the token bucket's size under rate, default 1; at least 1 when Rate > 0 (a rate the server announces or teaches keeps the limiter's own, at most this while rate is set)
	Concurrency Concurrency   // concurrency
	Timeout     time.Duration // timeout: per request, whole body included; default 10s
	Retries     int           // retries: extra attempts after the first for retryable failures (a task's throttled ones not counted); default 4
	Backoff     Backoff       // backoff
	MaxBody     int64         // max_body in bytes: 10MiB, 512KiB, 1GiB, 300B or plain 4096; default 10MiB
	// UnresponsiveAfter (unresponsive_after): a host whose last this many
	// requests sent since its last answer got no answer (a timeout, a refused
	// or reset connection, a body the timeout cut short), over at least its
	// timeout from the first failing, is unresponsive (more of them for a host
	// that left requests unanswered before, see silences): its tasks fail for
	// good without a request, but for one at a time that tries it again (after
	// backoff.base, doubling up to backoff.max), until it answers; default 5,
	// 0 = never.
	UnresponsiveAfter int
	// UnresponsiveRuns (unresponsive_runs): with state, how many runs of the
	// crawl may leave the items of unresponsive hosts for the next run; in
	// a run after that many did, they fail for good (the failed file) and
	// the crawl can finish. Default 3; 0 = never left, failed at once as
	// without state. The whole crawl's (limits only, not per host).
	UnresponsiveRuns int
}

// Concurrency bounds the adaptive concurrency limit (limits.concurrency).
type Concurrency struct {
	Algorithm limiter.Algorithm // algorithm: one of limiter.Algorithms(); default auto
	Initial   int               // initial: default 4, clamped into [Min, Max]; must lie in [Min, Max] when given
	Min       int               // min: default 1, at least 1
	Max       int               // max: default 256, at least Min
	// MaxTotal (max_total) caps all hosts together: the crawl's consumers,
	// so its requests in flight; default 1024, at least 1.
	MaxTotal int
}

// Backoff is the delay between retries (limits.backoff): exponential from
// Base, never above Max.
type Backoff struct {
	Base time.Duration // base: default 250ms
	Max  time.Duration // max: default 30s, at least Base
}

// Politeness is what the crawl owes the site beyond limits (key politeness).
type Politeness struct {
	Robots        bool          // robots: obey robots.txt Disallow and Crawl-delay for UserAgent; default true
	RetryAfterMax time.Duration // retry_after_max: a longer Retry-After is capped to it; default 5m
}

// FailedPath is the failed file's path: Failed if set, else Output with
// ".failed" before its extension ("out.jsonl" → "out.failed.jsonl", "out" →
// "out.failed").
func (c *Config) FailedPath() string {
	if c.Failed != "" || c.Output == "" {
		return c.Failed
	}
	dir, base := filepath.Split(c.Output)
	ext := filepath.Ext(base)
	if ext == base { // ".hidden" has no extension
		ext = ""
	}
	return dir + strings.TrimSuffix(base, ext) + ".failed" + ext
}

// Load reads and parses the config file at path; see Parse. A file that
// cannot be read is a *ConfigError too (bad usage, exit 2).
func Load(path string, opts ...Option) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, &ConfigError{File: path, Msg: "cannot read: " + msg, Err: err}
	}
	return Parse(path, data, opts...)
}

// Option changes how Parse and Load work.
type Option func(*options)

type options struct {
	lookupEnv func(string) (string, bool)
}

// WithLookupEnv sets where ${NAME} in header values is looked up; the
// default is os.LookupEnv.
func WithLookupEnv(lookup func(name string) (string, bool)) Option {
	return func(o *options) { o.lookupEnv = lookup }
}

// Parse reads one YAML document, data, named name in errors. Decoding is
// strict: unknown keys (with a "did you mean"), wrong types, bad values,
// missing required keys, an empty file and a second document are errors.
// Every error is a *ConfigError naming the file, the line (when the key is
// in the file) and the dotted key (a YAML syntax error has only a line);
// several are joined with errors.Join, so errors.As finds the first. Header
// values never appear in errors.
func Parse(name string, data []byte, opts ...Option) (*Config, error) {
	o := options{lookupEnv: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	root, err := parseDocument(name, data)
	if err != nil {
		return nil, err
	}
	raw, idx, err := decodeStrict(name, data, root)
	if err != nil {
		return nil, err
	}
	b := &builder{file: name, idx: idx, lookupEnv: o.lookupEnv}
	cfg := b.build(raw)
	if err := errors.Join(b.errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}
