package crawl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/politely/politely/limiter"
)

func TestLoadReadsTheSpecExampleVerbatim(t *testing.T) {
	cfg, err := Load("testdata/spec-example.yaml", WithLookupEnv(testEnv))
	require.NoError(t, err)

	assert.Equal(t, "testdata/spec-example.yaml", cfg.File)
	assert.Equal(t, "acme-sync/1.2 (+mailto:ops@acme.example)", cfg.UserAgent)
	assert.Equal(t, "http://127.0.0.1:8080/items?per_page=50", cfg.Source.URL.String())
	// style link uses none of param, start, step, cursor_field, next_field:
	// they are ignored, with a warning each.
	assert.Equal(t, Pagination{Style: StyleLink, MaxEmptyPages: 10}, cfg.Source.Pagination)
	require.Len(t, cfg.Warnings, 5)
	assert.Equal(t, `testdata/spec-example.yaml:7: source.pagination.param: not used by style "link" (only by page, cursor, offset); ignored`, cfg.Warnings[0])
	assert.Equal(t, "items", cfg.Source.ItemsField.String())
	require.NotNil(t, cfg.Task)
	assert.Equal(t, "{+detail_path}", cfg.Task.URL.String())
	assert.Equal(t, "GET", cfg.Task.Method)
	assert.Equal(t, http.Header{"Authorization": {"Bearer tok-SECRET-123"}}, cfg.Headers.HTTPHeader())
	assert.Equal(t, HeaderHosts{"api.example.com:80", "api.example.com:443"}, cfg.HeaderHosts)
	assert.Equal(t, Limits{
		Rate:        50,
		Burst:       10,
		Concurrency: Concurrency{Algorithm: limiter.Auto, Initial: 4, Min: 1, Max: 256, MaxTotal: 1024},
		Timeout:     10 * time.Second,
		Retries:     4,
		Backoff:     Backoff{Base: 250 * time.Millisecond, Max: 30 * time.Second},
		MaxBody:     10 << 20,

		UnresponsiveAfter: DefaultUnresponsiveAfter, // not in the spec's example
		UnresponsiveRuns:  DefaultUnresponsiveRuns,
	}, cfg.Limits)
	assert.Equal(t, Politeness{Robots: true, RetryAfterMax: 5 * time.Minute}, cfg.Politeness)
	assert.Equal(t, "out.jsonl", cfg.Output)
	assert.Equal(t, "out.failed.jsonl", cfg.FailedPath())
	assert.Equal(t, ".politely-state/", cfg.State)
	assert.NoError(t, cfg.CheckPaths())
}

func TestParseFillsDefaults(t *testing.T) {
	cfg, err := parseTest(minimalYAML)
	require.NoError(t, err)
	assert.Nil(t, cfg.Task)
	assert.Nil(t, cfg.Headers)
	assert.Empty(t, cfg.Warnings)
	assert.True(t, cfg.Source.ItemsField.IsZero(), "items_field defaults to the whole body")
	assert.Equal(t, Limits{
		Rate:        0,
		Burst:       DefaultBurst,
		Concurrency: Concurrency{Algorithm: DefaultAlgorithm, Initial: DefaultInitial, Min: DefaultMin, Max: DefaultMax, MaxTotal: DefaultMaxTotal},
		Timeout:     DefaultTimeout,
		Retries:     DefaultRetries,
		Backoff:     Backoff{Base: DefaultBackoffBase, Max: DefaultBackoffMax},
		MaxBody:     DefaultMaxBody,

		UnresponsiveAfter: DefaultUnresponsiveAfter,
		UnresponsiveRuns:  DefaultUnresponsiveRuns,
	}, cfg.Limits)
	assert.Equal(t, Politeness{Robots: DefaultRobots, RetryAfterMax: DefaultRetryAfterMax}, cfg.Politeness)
	assert.Equal(t, "out.failed.jsonl", cfg.FailedPath())
	assert.Empty(t, cfg.State)
}

func TestParseKeepsExplicitZeros(t *testing.T) {
	cfg, err := parseTest(minimalYAML + "limits:\n  retries: 0\n  burst: 0\n  unresponsive_after: 0\n  unresponsive_runs: 0\npoliteness:\n  robots: false\n")
	require.NoError(t, err)
	assert.Equal(t, 0, cfg.Limits.Retries)
	assert.Equal(t, 0, cfg.Limits.UnresponsiveAfter, "unresponsive_after 0: no host is ever held unresponsive")
	assert.Equal(t, 0, cfg.Limits.UnresponsiveRuns, "unresponsive_runs 0: no item is left for the next run")
	assert.Equal(t, 0, cfg.Limits.Burst, "burst 0 is allowed without a rate")
	assert.False(t, cfg.Politeness.Robots)
}

func TestParsePaginationStylesAndTheirDefaults(t *testing.T) {
	tests := []struct {
		name       string
		pagination string
		want       Pagination
	}{
		{"link", "{style: link, max_pages: 3}", Pagination{Style: StyleLink, MaxPages: 3}},
		{"none", "{style: none}", Pagination{Style: StyleNone}},
		{"page defaults", "{style: page}", Pagination{Style: StylePage, Param: "page", Start: 1}},
		{"page from zero", "{style: page, param: p, start: 0}", Pagination{Style: StylePage, Param: "p", Start: 0}},
		{"offset defaults", "{style: offset}", Pagination{Style: StyleOffset, Param: "offset"}},
		{"offset with step", "{style: offset, param: skip, start: 10, step: 50}", Pagination{Style: StyleOffset, Param: "skip", Start: 10, Step: 50}},
		{"cursor", "{style: cursor, cursor_field: meta.next_cursor}",
			Pagination{Style: StyleCursor, Param: "cursor", CursorField: mustDotPath(t, "meta.next_cursor")}},
		{"next_url", "{style: next_url, next_field: links.next}",
			Pagination{Style: StyleNextURL, NextField: mustDotPath(t, "links.next")}},
		{"max_empty_pages", "{style: cursor, cursor_field: c, max_empty_pages: 3}",
			Pagination{Style: StyleCursor, Param: "cursor", CursorField: mustDotPath(t, "c"), MaxEmptyPages: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseTest(strings.Replace(minimalYAML, "\n    style: link", " "+tt.pagination, 1))
			require.NoError(t, err)
			if tt.want.MaxEmptyPages == 0 {
				tt.want.MaxEmptyPages = DefaultMaxEmptyPages
			}
			assert.Equal(t, tt.want, cfg.Source.Pagination)
			assert.Empty(t, cfg.Warnings)
		})
	}
}

func mustDotPath(t *testing.T, s string) DotPath {
	t.Helper()
	p, err := ParseDotPath(s)
	require.NoError(t, err)
	return p
}

func TestParseClampsTheDefaultInitialLimitIntoItsBounds(t *testing.T) {
	tests := []struct {
		name        string
		concurrency string
		want        Concurrency
	}{
		{"max below default initial", "{max: 2}", Concurrency{Algorithm: limiter.Auto, Initial: 2, Min: 1, Max: 2, MaxTotal: 1024}},
		{"min above default initial", "{min: 8}", Concurrency{Algorithm: limiter.Auto, Initial: 8, Min: 8, Max: 256, MaxTotal: 1024}},
		{"fixed", "{algorithm: fixed, initial: 16}", Concurrency{Algorithm: limiter.Fixed, Initial: 16, Min: 1, Max: 256, MaxTotal: 1024}},
		{"vegas", "{algorithm: vegas}", Concurrency{Algorithm: limiter.Vegas, Initial: 4, Min: 1, Max: 256, MaxTotal: 1024}},
		{"gradient2", "{algorithm: gradient2}", Concurrency{Algorithm: limiter.Gradient2, Initial: 4, Min: 1, Max: 256, MaxTotal: 1024}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseTest(minimalYAML + "limits:\n  concurrency: " + tt.concurrency + "\n")
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Limits.Concurrency)
		})
	}
}

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"4096", 4096},
		{"300B", 300},
		{"512KiB", 512 << 10},
		{"10 MiB", 10 << 20},
		{"2GiB", 2 << 30},
		{"8589934591GiB", 8589934591 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			cfg, err := parseTest(minimalYAML + "limits:\n  max_body: " + tt.in + "\n")
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Limits.MaxBody)
		})
	}
}

func TestParseTaskMethodIsUpperCased(t *testing.T) {
	cfg, err := parseTest(minimalYAML + "task:\n  url: /items/{id}\n  method: head\n")
	require.NoError(t, err)
	assert.Equal(t, "HEAD", cfg.Task.Method)
}

func TestHeaderExpansion(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"variable", "Bearer ${API_TOKEN}", "Bearer tok-SECRET-123"},
		{"twice", "${API_TOKEN}:${API_TOKEN}", "tok-SECRET-123:tok-SECRET-123"},
		{"empty variable", "x${EMPTY}y", "xy"},
		{"escaped dollar", "cost $$5", "cost $5"},
		{"escaped expression", "$${API_TOKEN}", "${API_TOKEN}"},
		{"lone dollar", "a$b $", "a$b $"},
		{"no dollar", "plain", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseTest(minimalYAML + "headers:\n  x-api-key: '" + tt.value + "'\n")
			require.NoError(t, err)
			assert.Equal(t, Headers{"X-Api-Key": tt.want}, cfg.Headers, "names are canonical")
		})
	}
}

func TestParseReadsTheEnvironmentByDefault(t *testing.T) {
	t.Setenv("POLITELY_TEST_TOKEN", "from-env")
	cfg, err := Parse("api.yaml", []byte(minimalYAML+"headers:\n  X-Token: ${POLITELY_TEST_TOKEN}\n"))
	require.NoError(t, err)
	assert.Equal(t, "from-env", cfg.Headers["X-Token"])
}

func TestHeadersNeverPrintTheirValues(t *testing.T) {
	cfg, err := parseTest(minimalYAML + "headers:\n  Authorization: Bearer ${API_TOKEN}\n  X-Trace: trace-VALUE-9\n")
	require.NoError(t, err)
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprintf("%s", cfg.Headers), fmt.Sprintf("%d", cfg.Headers), fmt.Sprintf("%q", cfg.Headers),
		cfg.Headers.String(), string(js),
	} {
		assert.NotContains(t, s, "tok-SECRET-123")
		assert.NotContains(t, s, "trace-VALUE-9")
	}
	assert.Equal(t, "{Authorization: [redacted], X-Trace: [redacted]}", cfg.Headers.String())
	assert.Contains(t, string(js), `"Headers":{"Authorization":"[redacted]","X-Trace":"[redacted]"}`)
	assert.Contains(t, string(js), `"ItemsField":""`, "dot paths marshal as written")
}

func TestFailedPathDerivesFromOutput(t *testing.T) {
	tests := []struct{ output, failed, want string }{
		{"out.jsonl", "", "out.failed.jsonl"},
		{"data/run.v2/out.jsonl", "", "data/run.v2/out.failed.jsonl"},
		{"out", "", "out.failed"},
		{"dir/.hidden", "", "dir/.hidden.failed"},
		{"out.tar.gz", "", "out.tar.failed.gz"},
		{"out.jsonl", "errors.jsonl", "errors.jsonl"},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.output, func(t *testing.T) {
			c := Config{Output: tt.output, Failed: tt.failed}
			assert.Equal(t, tt.want, c.FailedPath())
		})
	}
}

func TestCheckPathsAfterCommandLineOverrides(t *testing.T) {
	cfg, err := parseTest(strings.Replace(minimalYAML, "output: out.jsonl\n", "", 1))
	require.NoError(t, err, "output may come from --out")
	assert.EqualError(t, cfg.CheckPaths(), "api.yaml: output: required (or pass --out)")

	cfg.Output = "flag.jsonl" // --out
	require.NoError(t, cfg.CheckPaths())
	assert.Equal(t, "flag.failed.jsonl", cfg.FailedPath())

	cfg.Failed = "./flag.jsonl"
	var ce *ConfigError
	require.ErrorAs(t, cfg.CheckPaths(), &ce)
	assert.Equal(t, "failed", ce.Key)
}

func TestFingerprintCountsOnlyWhatIsCrawled(t *testing.T) {
	base := minimalYAML + "task:\n  url: /items/{id}\n"
	ref, err := parseTest(base)
	require.NoError(t, err)

	same := map[string]string{
		"limits":            base + "limits: {rate: 3, timeout: 1s, concurrency: {max: 9}}\n",
		"politeness":        base + "politeness: {robots: false}\n",
		"headers":           base + "headers: {X-Key: k}\n",
		"paths":             strings.Replace(base, "out.jsonl", "other.jsonl", 1) + "state: st/\nfailed: f.jsonl\n",
		"user_agent":        strings.Replace(base, "test/1.0", "test/2.0", 1),
		"default written":   base + "  method: GET\n",
		"unused style keys": strings.Replace(base, "style: link", "style: link\n    param: p\n    start: 5", 1),
	}
	for name, yaml := range same {
		t.Run("same/"+name, func(t *testing.T) {
			cfg, err := parseTest(yaml)
			require.NoError(t, err)
			assert.Equal(t, ref.Fingerprint(), cfg.Fingerprint())
		})
	}
	differ := map[string]string{
		"source url":  strings.Replace(base, "/items\n", "/things\n", 1),
		"style":       strings.Replace(base, "style: link", "style: page", 1),
		"max_pages":   strings.Replace(base, "style: link", "style: link\n    max_pages: 2", 1),
		"items_field": strings.Replace(base, "output:", "  items_field: data\noutput:", 1),
		"task url":    strings.Replace(base, "{id}", "{+id}", 1),
		"task method": base + "  method: HEAD\n",
		"no task":     minimalYAML,
	}
	for name, yaml := range differ {
		t.Run("differs/"+name, func(t *testing.T) {
			cfg, err := parseTest(yaml)
			require.NoError(t, err)
			assert.NotEqual(t, ref.Fingerprint(), cfg.Fingerprint())
		})
	}
	assert.Len(t, ref.Fingerprint(), 64)
}

func TestParseFollowsAnchorsAndMergeKeys(t *testing.T) {
	cfg, err := parseTest(minimalYAML + "x_defaults: &d {retries: 2}\n")
	require.Error(t, err, "an unknown top-level key stays unknown even as an anchor holder")
	assert.Nil(t, cfg)

	cfg, err = parseTest(minimalYAML + "limits:\n  backoff: &b {base: 1s}\n  concurrency: {min: 2}\npoliteness:\n  <<: {robots: false}\n")
	require.NoError(t, err)
	assert.False(t, cfg.Politeness.Robots)
	assert.Equal(t, time.Second, cfg.Limits.Backoff.Base)
}

func BenchmarkParseSpecExample(b *testing.B) {
	data, err := os.ReadFile("testdata/spec-example.yaml")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("api.yaml", data, WithLookupEnv(testEnv)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseBaseline is a plain, non-strict yaml.Unmarshal of the same
// file, the ratio for BenchmarkParseSpecExample.
func BenchmarkParseBaseline(b *testing.B) {
	data, err := os.ReadFile("testdata/spec-example.yaml")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		var raw rawConfig
		if err := yaml.Unmarshal(data, &raw); err != nil {
			b.Fatal(err)
		}
	}
}
