package crawl

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

const fuzzSecret = "fuzz-SECRET-value"

// FuzzParse checks that Parse never panics, that every error is a
// *ConfigError whose lines all start with the file name and hide header
// values and Go type names, and that what it accepts is valid.
// Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	env := WithLookupEnv(func(name string) (string, bool) { return fuzzSecret, name != "UNSET" })
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, env)
		if err != nil {
			require.Nil(t, cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			for _, line := range strings.Split(err.Error(), "\n") {
				require.True(t, strings.HasPrefix(line, "fuzz.yaml"), "error line %q", line)
			}
			for _, hidden := range []string{fuzzSecret, "crawl.raw", "yamlDuration", "yamlSize", "map[string]string"} {
				if !bytes.Contains(data, []byte(hidden)) {
					require.NotContains(t, err.Error(), hidden)
				}
			}
			return
		}
		require.NotEmpty(t, cfg.UserAgent)
		require.Contains(t, []string{"http", "https"}, cfg.Source.URL.Scheme)
		require.Nil(t, cfg.Source.URL.User)
		require.Contains(t, styles, cfg.Source.Pagination.Style)
		c := cfg.Limits.Concurrency
		require.Contains(t, limiter.Algorithms(), c.Algorithm)
		require.True(t, 1 <= c.Min && c.Min <= c.Initial && c.Initial <= c.Max, "concurrency %+v", c)
		require.Positive(t, cfg.Limits.Timeout)
		require.Positive(t, cfg.Limits.MaxBody)
		require.GreaterOrEqual(t, cfg.Limits.Rate, 0.0)
		require.GreaterOrEqual(t, cfg.Limits.Retries, 0)
		require.Positive(t, cfg.Limits.Backoff.Base)
		require.LessOrEqual(t, cfg.Limits.Backoff.Base, cfg.Limits.Backoff.Max)
		require.Positive(t, cfg.Politeness.RetryAfterMax)
		if cfg.Task != nil {
			require.NotNil(t, cfg.Task.URL)
			require.Contains(t, methods, cfg.Task.Method)
		}
		printed := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)
		if !bytes.Contains(data, []byte(fuzzSecret)) {
			require.NotContains(t, printed, fuzzSecret)
		}
		again, err := Parse("fuzz.yaml", data, env)
		require.NoError(t, err)
		require.Equal(t, cfg.Fingerprint(), again.Fingerprint())
	})
}
