package crawl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
)

// startMock serves sc on 127.0.0.1 until the test ends.
func startMock(t *testing.T, sc mockapi.Scenario) *mockapi.Server {
	t.Helper()
	srv, err := mockapi.Start(mockapi.Config{Scenario: sc})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// crawlYAML is a config for tests: fast retries, short timeouts. The %s
// verbs are, in order: source.url, the pagination block, the rest (task,
// headers...), the limits block and the output path.
const crawlYAML = `
user_agent: "politely-test/1.0"
source:
  url: %q
  pagination:
%s
  items_field: items
%s
%s
output: %q
`

// testLimits are the limits of testConfig.
const testLimits = `limits:
  concurrency: {initial: 4, max: 32}
  timeout: 2s
  retries: 4
  backoff: {base: 5ms, max: 50ms}`

// testConfig parses a crawlYAML config with env as the environment.
func testConfig(t *testing.T, url, pagination, rest string, env map[string]string) *Config {
	t.Helper()
	return testConfigLimits(t, url, pagination, rest, testLimits, env)
}

// testConfigLimits is testConfig with other limits.
func testConfigLimits(t *testing.T, url, pagination, rest, limits string, env map[string]string) *Config {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	cfg, err := Parse("test.yaml", fmt.Appendf(nil, crawlYAML, url, pagination, rest, limits, out),
		WithLookupEnv(func(name string) (string, bool) { v, ok := env[name]; return v, ok }))
	require.NoError(t, err)
	return cfg
}

// runTest runs cfg with a deadline that no test should reach.
func runTest(t *testing.T, cfg *Config, opts ...RunOption) (Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, cfg, opts...)
}

// readLines decodes every line of a JSONL file into T.
func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), "line %q", sc.Text())
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	return out
}

// outLine is an output line as a test reads it.
type outLine struct {
	URL    string         `json:"url"`
	Status int            `json:"status"`
	Data   map[string]any `json:"data"`
}

// ids returns the "id" of each line's data, as ints.
func ids(t *testing.T, lines []outLine) []int {
	t.Helper()
	out := make([]int, 0, len(lines))
	for _, l := range lines {
		id, ok := l.Data["id"].(float64)
		require.True(t, ok, "line without a numeric id: %+v", l)
		out = append(out, int(id))
	}
	return out
}

// seq returns 1..n without the ids in skip.
func seq(n int, skip ...int) []int {
	drop := map[int]bool{}
	for _, s := range skip {
		drop[s] = true
	}
	var out []int
	for i := 1; i <= n; i++ {
		if !drop[i] {
			out = append(out, i)
		}
	}
	return out
}

const detailTask = "task:\n  url: \"{+detail_path}\""
