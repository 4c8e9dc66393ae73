package crawl

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/politely/politely/limiter"
)

// yamlDuration and yamlSize hold durations and sizes as written; the builder
// parses them so their errors can say what the units are.
type (
	yamlDuration string
	yamlSize     string
)

// rawConfig is the file as decoded; its yaml tags are the schema of the file
// (unknown-key errors and type descriptions are read from them). Pointers
// tell a key left out (default) from one set to zero.
type rawConfig struct {
	UserAgent   string               `yaml:"user_agent"`
	Source      *rawSource           `yaml:"source"`
	Task        *rawTask             `yaml:"task"`
	Headers     map[string]string    `yaml:"headers"`
	HeaderHosts []string             `yaml:"header_hosts"`
	Limits      rawLimits            `yaml:"limits"`
	Hosts       map[string]rawLimits `yaml:"hosts"`
	Politeness  rawPoliteness        `yaml:"politeness"`
	Output      string               `yaml:"output"`
	Failed      string               `yaml:"failed"`
	State       string               `yaml:"state"`
}

type rawSource struct {
	URL        string         `yaml:"url"`
	Pagination *rawPagination `yaml:"pagination"`
	ItemsField string         `yaml:"items_field"`
}

type rawPagination struct {
	Style         string `yaml:"style"`
	Param         string `yaml:"param"`
	Start         *int   `yaml:"start"`
	Step          *int   `yaml:"step"`
	CursorField   string `yaml:"cursor_field"`
	NextField     string `yaml:"next_field"`
	MaxPages      int    `yaml:"max_pages"`
	MaxEmptyPages *int   `yaml:"max_empty_pages"`
}

type rawTask struct {
	URL    string `yaml:"url"`
	Method string `yaml:"method"`
}

type rawLimits struct {
	Rate        float64        `yaml:"rate"`
	Burst       *int           `yaml:"burst"`
	Concurrency rawConcurrency `yaml:"concurrency"`
	Timeout     yamlDuration   `yaml:"timeout"`
	Retries     *int           `yaml:"retries"`
	Backoff     rawBackoff     `yaml:"backoff"`
	MaxBody     yamlSize       `yaml:"max_body"`
	// UnresponsiveAfter is limits.unresponsive_after.
	UnresponsiveAfter *int `yaml:"unresponsive_after"`
	// UnresponsiveRuns is limits.unresponsive_runs.
	UnresponsiveRuns *int `yaml:"unresponsive_runs"`
}

type rawConcurrency struct {
	Algorithm string `yaml:"algorithm"`
	Initial   *int   `yaml:"initial"`
	Min       *int   `yaml:"min"`
	Max       *int   `yaml:"max"`
	MaxTotal  *int   `yaml:"max_total"`
}

type rawBackoff struct {
	Base yamlDuration `yaml:"base"`
	Max  yamlDuration `yaml:"max"`
}

type rawPoliteness struct {
	Robots        *bool        `yaml:"robots"`
	RetryAfterMax yamlDuration `yaml:"retry_after_max"`
}

// builder validates a rawConfig into a Config, collecting every error.
type builder struct {
	file      string
	idx       *nodeIndex
	lookupEnv func(string) (string, bool)
	errs      []error
	warnings  []string
}

func (b *builder) fail(key, format string, args ...any) {
	b.errs = append(b.errs, &ConfigError{File: b.file, Line: b.idx.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// warn records something that is allowed but probably not meant.
func (b *builder) warn(key, format string, args ...any) {
	b.warnings = append(b.warnings, (&ConfigError{File: b.file, Line: b.idx.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}).Error())
}

func (b *builder) build(r *rawConfig) *Config {
	c := &Config{
		File:   b.file,
		Output: r.Output,
		Failed: r.Failed,
		State:  r.State,
	}
	switch {
	case strings.TrimSpace(r.UserAgent) == "":
		b.fail("user_agent", `required: polite crawlers identify themselves (e.g. "acme-sync/1.2 (+mailto:ops@acme.example)")`)
	case !validHeaderValue(r.UserAgent):
		b.fail("user_agent", "contains a control character")
	default:
		c.UserAgent = r.UserAgent
	}
	c.Source = b.source(r.Source)
	c.Task = b.task(r.Task)
	c.Headers = b.headers(r.Headers)
	c.HeaderHosts = b.headerHosts(r.HeaderHosts, c.Source.URL)
	c.Limits = b.limits(&r.Limits)
	c.Hosts = b.hosts(r)
	c.Politeness = b.politeness(&r.Politeness)
	c.Warnings = b.warnings
	return c
}

func (b *builder) source(r *rawSource) Source {
	if r == nil {
		b.fail("source", "required: the paginated listing (url, pagination, items_field)")
		return Source{}
	}
	return Source{
		URL:        b.httpURL("source.url", r.URL),
		Pagination: b.pagination(r.Pagination),
		ItemsField: b.dotPath("source.items_field", r.ItemsField),
	}
}

// httpURL parses an absolute http(s) URL. Errors do not echo the URL: it
// might hold a password.
func (b *builder) httpURL(key, s string) *url.URL {
	if s == "" {
		b.fail(key, "required: the absolute http(s) URL of the first page")
		return nil
	}
	noScheme := !strings.Contains(s, "://") && !strings.HasPrefix(s, "/")
	u, err := url.Parse(s)
	if err != nil && noScheme {
		b.fail(key, "not an absolute http or https URL: %s", schemeHint)
		return nil
	}
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		b.fail(key, "not a URL: %v", err)
		return nil
	}
	if u.User != nil {
		b.fail(key, "must not hold user:password; put credentials in headers, from ${NAME}")
		return nil
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if noScheme {
			b.fail(key, "%q is not an absolute http or https URL: %s", s, schemeHint)
			return nil
		}
		b.fail(key, "%q is not an absolute http or https URL", s)
		return nil
	}
	return u
}

// schemeHint ends httpURL's error for a URL written without its scheme
// ("127.0.0.1:8080/items", "example.com/items"), which Go's parser reports in
// its own words ("first path segment in URL cannot contain colon").
const schemeHint = `it has no scheme; write "http://" or "https://" before the host`

func (b *builder) dotPath(key, s string) DotPath {
	p, err := ParseDotPath(s)
	if err != nil {
		b.fail(key, "%v", err)
	}
	return p
}

// styleKeys lists, per style, the optional pagination keys it uses.
var styleKeys = map[Style][]string{
	StyleLink:    nil,
	StylePage:    {"param", "start"},
	StyleOffset:  {"param", "start", "step"},
	StyleCursor:  {"param", "cursor_field"},
	StyleNextURL: {"next_field"},
	StyleNone:    nil,
}

func (b *builder) pagination(r *rawPagination) Pagination {
	const pk = "source.pagination"
	if r == nil {
		b.fail(pk, "required: how to reach the next page (style: %s)", styleList())
		return Pagination{}
	}
	p := Pagination{Style: Style(r.Style), Param: r.Param}
	uses, ok := styleKeys[p.Style]
	switch {
	case r.Style == "":
		b.fail(pk+".style", "required (one of %s)", styleList())
	case !ok:
		b.fail(pk+".style", "%q is not one of %s", r.Style, styleList())
	default:
		set := map[string]bool{"param": r.Param != "", "start": r.Start != nil, "step": r.Step != nil,
			"cursor_field": r.CursorField != "", "next_field": r.NextField != ""}
		for _, key := range []string{"param", "start", "step", "cursor_field", "next_field"} {
			if set[key] && !slices.Contains(uses, key) {
				b.warn(pk+"."+key, "not used by style %q (only by %s); ignored", r.Style, stylesUsing(key))
			}
		}
	}
	if p.Param == "" {
		p.Param = map[Style]string{StylePage: DefaultStyleParamPage, StyleOffset: DefaultStyleParamOffset, StyleCursor: DefaultStyleParamCursor}[p.Style]
	}
	if p.Style == StylePage {
		p.Start = DefaultPageStart
	}
	if r.Start != nil {
		p.Start = b.nonNegative(pk+".start", *r.Start)
	}
	if r.Step != nil {
		p.Step = b.nonNegative(pk+".step", *r.Step)
	}
	p.MaxPages = b.nonNegative(pk+".max_pages", r.MaxPages)
	p.MaxEmptyPages = DefaultMaxEmptyPages
	if r.MaxEmptyPages != nil {
		if p.MaxEmptyPages = *r.MaxEmptyPages; p.MaxEmptyPages < 1 {
			b.fail(pk+".max_empty_pages", "must be at least 1, got %d", p.MaxEmptyPages)
			p.MaxEmptyPages = DefaultMaxEmptyPages
		}
	}
	p.CursorField = b.dotPath(pk+".cursor_field", r.CursorField)
	p.NextField = b.dotPath(pk+".next_field", r.NextField)
	if p.Style == StyleCursor && r.CursorField == "" {
		b.fail(pk+".cursor_field", "required by style cursor: where the next cursor is in the JSON body")
	}
	if p.Style == StyleNextURL && r.NextField == "" {
		b.fail(pk+".next_field", "required by style next_url: where the next page's URL is in the JSON body")
	}
	return p.onlyUsed(uses)
}

// onlyUsed zeroes the keys the style ignores, so they neither reach the
// paginator nor change the Fingerprint.
func (p Pagination) onlyUsed(uses []string) Pagination {
	if !slices.Contains(uses, "param") {
		p.Param = ""
	}
	if !slices.Contains(uses, "start") {
		p.Start = 0
	}
	if !slices.Contains(uses, "step") {
		p.Step = 0
	}
	if !slices.Contains(uses, "cursor_field") {
		p.CursorField = DotPath{}
	}
	if !slices.Contains(uses, "next_field") {
		p.NextField = DotPath{}
	}
	return p
}

func styleList() string {
	names := make([]string, len(styles))
	for i, s := range styles {
		names[i] = string(s)
	}
	return strings.Join(names, "|")
}

func stylesUsing(key string) string {
	var names []string
	for _, s := range styles {
		if slices.Contains(styleKeys[s], key) {
			names = append(names, string(s))
		}
	}
	return strings.Join(names, ", ")
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func (b *builder) task(r *rawTask) *Task {
	if r == nil {
		if b.idx.has("task") {
			b.fail("task.url", "required: task is given but empty (leave task out to output the items themselves)")
		}
		return nil
	}
	t := &Task{Method: DefaultMethod}
	if r.URL == "" {
		b.fail("task.url", `required: the URL template of an item's request (e.g. "{+detail_path}" or "/items/{id}")`)
	} else if tmpl, err := ParseTemplate(r.URL); err != nil {
		b.fail("task.url", "%v", err)
	} else if err := tmpl.checkScheme(); err != nil {
		b.fail("task.url", "%v", err)
	} else {
		t.URL = tmpl
	}
	if r.Method != "" {
		t.Method = strings.ToUpper(r.Method)
		if !slices.Contains(methods, t.Method) {
			b.fail("task.method", "%q is not one of %s", r.Method, strings.Join(methods, "|"))
		}
	}
	return t
}

func (b *builder) limits(r *rawLimits) Limits { return b.limitsAt("limits", r) }

// limitsAt builds the limits at key lk: "limits", or a host's under hosts.
func (b *builder) limitsAt(lk string, r *rawLimits) Limits {
	l := Limits{
		Rate:        r.Rate,
		Burst:       DefaultBurst,
		Concurrency: b.concurrency(lk+".concurrency", &r.Concurrency),
		Timeout:     b.duration(lk+".timeout", r.Timeout, DefaultTimeout),
		Retries:     DefaultRetries,
		Backoff: Backoff{
			Base: b.duration(lk+".backoff.base", r.Backoff.Base, DefaultBackoffBase),
			Max:  b.duration(lk+".backoff.max", r.Backoff.Max, DefaultBackoffMax),
		},
		MaxBody:           b.size(lk+".max_body", r.MaxBody, DefaultMaxBody),
		UnresponsiveAfter: DefaultUnresponsiveAfter,
		UnresponsiveRuns:  DefaultUnresponsiveRuns,
	}
	if math.IsNaN(r.Rate) || math.IsInf(r.Rate, 0) || r.Rate < 0 {
		b.fail(lk+".rate", "must be a number of requests per second >= 0 (0 = no ceiling), got %v", r.Rate)
	}
	if r.Burst != nil {
		l.Burst = b.nonNegative(lk+".burst", *r.Burst)
		if *r.Burst == 0 && r.Rate > 0 {
			b.fail(lk+".burst", "must be at least 1 when %s.rate is set (a bucket of 0 never lets a request through)", lk)
		}
	}
	if r.Retries != nil {
		l.Retries = b.nonNegative(lk+".retries", *r.Retries)
	}
	if r.UnresponsiveAfter != nil {
		l.UnresponsiveAfter = b.nonNegative(lk+".unresponsive_after", *r.UnresponsiveAfter)
	}
	if r.UnresponsiveRuns != nil {
		l.UnresponsiveRuns = b.nonNegative(lk+".unresponsive_runs", *r.UnresponsiveRuns)
	}
	if l.Backoff.Max < l.Backoff.Base {
		b.fail(lk+".backoff.max", "%v is less than %s.backoff.base (%v)", l.Backoff.Max, lk, l.Backoff.Base)
	}
	return l
}

func (b *builder) concurrency(ck string, r *rawConcurrency) Concurrency {
	c := Concurrency{Algorithm: DefaultAlgorithm, Min: DefaultMin, Max: DefaultMax, MaxTotal: DefaultMaxTotal}
	if r.MaxTotal != nil {
		if c.MaxTotal = *r.MaxTotal; c.MaxTotal < 1 {
			b.fail(ck+".max_total", "must be at least 1, got %d", c.MaxTotal)
		}
	}
	if r.Algorithm != "" {
		a, err := limiter.ParseAlgorithm(r.Algorithm)
		if err != nil {
			b.fail(ck+".algorithm", "%v", err)
		}
		c.Algorithm = a
	}
	ok := true
	if r.Min != nil {
		if c.Min = *r.Min; c.Min < 1 {
			b.fail(ck+".min", "must be at least 1, got %d", c.Min)
			ok = false
		}
	}
	if r.Max != nil {
		if c.Max = *r.Max; c.Max < 1 {
			b.fail(ck+".max", "must be at least 1, got %d", c.Max)
			ok = false
		}
	}
	if ok && c.Max < c.Min {
		if r.Max == nil {
			b.fail(ck+".min", "%d is above the default max of %d (set max too)", c.Min, c.Max)
		} else {
			b.fail(ck+".max", "%d is less than min (%d)", c.Max, c.Min)
		}
		ok = false
	}
	if r.Initial == nil {
		if ok {
			// The limiter's own default, brought into [min, max].
			lc, _ := limiter.Config{Min: c.Min, Max: c.Max}.WithDefaults() // min and max are valid here
			c.Initial = lc.Initial
		}
		return c
	}
	c.Initial = *r.Initial
	if ok && (c.Initial < c.Min || c.Initial > c.Max) {
		b.fail(ck+".initial", "%d is outside [min, max] = [%d, %d]", c.Initial, c.Min, c.Max)
	}
	return c
}

func (b *builder) politeness(r *rawPoliteness) Politeness {
	p := Politeness{
		Robots:        DefaultRobots,
		RetryAfterMax: b.duration("politeness.retry_after_max", r.RetryAfterMax, DefaultRetryAfterMax),
	}
	if r.Robots != nil {
		p.Robots = *r.Robots
	}
	return p
}

func (b *builder) nonNegative(key string, n int) int {
	if n < 0 {
		b.fail(key, "must not be negative, got %d", n)
		return 0
	}
	return n
}

// duration parses a positive Go duration; "" (key left out) is def.
func (b *builder) duration(key string, s yamlDuration, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(string(s))
	if err != nil {
		b.fail(key, "%q is not a duration (Go syntax: 250ms, 10s, 5m, 1h30m)", string(s))
		return def
	}
	if d <= 0 {
		b.fail(key, "must be positive, got %s", string(s))
		return def
	}
	return d
}

// size parses a positive size; "" (key left out) is def.
func (b *builder) size(key string, s yamlSize, def int64) int64 {
	if s == "" {
		return def
	}
	n, err := parseSize(string(s))
	if err != nil {
		b.fail(key, "%v", err)
		return def
	}
	return n
}
