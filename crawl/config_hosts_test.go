package crawl

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/limiter"
)

func TestHostsOverrideTheLimitsTheySet(t *testing.T) {
	cfg, err := parseTest(minimalYAML + `limits:
  rate: 50
  timeout: 10s
  concurrency: {max: 64, max_total: 100}
hosts:
  CDN.example.com.: {rate: 20, concurrency: {max: 8}}
  "api.example.com:8443": {timeout: 2s, max_body: 1KiB, concurrency: {algorithm: fixed, initial: 3}}
`)
	require.NoError(t, err)
	cdn := cfg.LimitsFor("cdn.example.com:443")
	assert.Equal(t, 20.0, cdn.Rate)
	assert.Equal(t, 8, cdn.Concurrency.Max)
	assert.Equal(t, 4, cdn.Concurrency.Initial)
	assert.Equal(t, 10*time.Second, cdn.Timeout, "not set for the host: limits' own")
	api := cfg.LimitsFor("api.example.com:8443")
	assert.Equal(t, limiter.Fixed, api.Concurrency.Algorithm)
	assert.Equal(t, 3, api.Concurrency.Initial)
	assert.Equal(t, 64, api.Concurrency.Max)
	assert.Equal(t, 50.0, api.Rate)
	assert.Equal(t, 2*time.Second, api.Timeout)
	assert.Equal(t, int64(1024), api.MaxBody)
	assert.Equal(t, map[string]int64{"api.example.com:8443": 1024}, hostMaxBodies(cfg))
	assert.Equal(t, cfg.Limits, cfg.LimitsFor("api.example.com:443"), "another port of a host:port key")
	assert.Equal(t, cfg.Limits, cfg.LimitsFor("other.example.com:443"))
	assert.Equal(t, 100, cfg.Limits.Concurrency.MaxTotal)
}

func TestHostsOverrideRetriesAndBackoff(t *testing.T) {
	cfg, err := parseTest(minimalYAML + `limits:
  retries: 2
  backoff: {base: 100ms, max: 10s}
hosts:
  flaky.example.com: {retries: 6, backoff: {max: 1m}, unresponsive_after: 0}
  "fast.example.com:8443": {retries: 0}
  slow.example.com: {backoff: {base: 1s}}
`)
	require.NoError(t, err)
	flaky := cfg.LimitsFor("flaky.example.com:443")
	assert.Equal(t, 6, flaky.Retries)
	assert.Equal(t, 0, flaky.UnresponsiveAfter, "never held unresponsive")
	assert.Equal(t, Backoff{Base: 100 * time.Millisecond, Max: time.Minute}, flaky.Backoff, "base not set for the host: limits' own")
	fast := cfg.LimitsFor("fast.example.com:8443")
	assert.Equal(t, 0, fast.Retries)
	assert.Equal(t, cfg.Limits.Backoff, fast.Backoff)
	slow := cfg.LimitsFor("slow.example.com:443")
	assert.Equal(t, 2, slow.Retries)
	assert.Equal(t, DefaultUnresponsiveAfter, slow.UnresponsiveAfter)
	assert.Equal(t, Backoff{Base: time.Second, Max: 10 * time.Second}, slow.Backoff)
	assert.Equal(t, map[string]engine.Retry{
		"flaky.example.com":     {MaxAttempts: 7, Base: 100 * time.Millisecond, Max: time.Minute, RetryAfterMax: DefaultRetryAfterMax},
		"fast.example.com:8443": {MaxAttempts: 1, Base: 100 * time.Millisecond, Max: 10 * time.Second, RetryAfterMax: DefaultRetryAfterMax},
		"slow.example.com":      {MaxAttempts: 3, Base: time.Second, Max: 10 * time.Second, RetryAfterMax: DefaultRetryAfterMax},
	}, hostRetries(cfg))
	plain, err := parseTest(minimalYAML)
	require.NoError(t, err)
	assert.Equal(t, plain.Fingerprint(), cfg.Fingerprint(), "retries and backoff change nothing that is crawled")
}

func TestHostsRejectsWhatCannotBePerHost(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"negative retries", "hosts:\n  cdn.example.com: {retries: -1}\n",
			"api.yaml:8: hosts.cdn.example.com.retries: must not be negative, got -1"},
		{"negative unresponsive_after", "hosts:\n  cdn.example.com: {unresponsive_after: -2}\n",
			"api.yaml:8: hosts.cdn.example.com.unresponsive_after: must not be negative, got -2"},
		{"bad backoff", "hosts:\n  cdn.example.com:\n    backoff: {base: soon}\n",
			"api.yaml:9: hosts.cdn.example.com.backoff.base:"},
		{"backoff max under base", "hosts:\n  cdn.example.com:\n    backoff: {base: 2s, max: 1s}\n",
			"api.yaml:9: hosts.cdn.example.com.backoff.max: 1s is less than hosts.cdn.example.com.backoff.base (2s)"},
		{"max_total", "hosts:\n  cdn.example.com: {concurrency: {max_total: 2}}\n",
			"api.yaml:8: hosts.cdn.example.com.concurrency.max_total: cannot be set per host"},
		{"unresponsive_runs", "hosts:\n  cdn.example.com: {unresponsive_runs: 1}\n",
			"api.yaml:8: hosts.cdn.example.com.unresponsive_runs: cannot be set per host"},
		{"not a host", "hosts:\n  \"http://cdn.example.com/\": {rate: 1}\n",
			`is not a host or host:port`},
		{"bad value", "hosts:\n  cdn.example.com: {concurrency: {min: 0}}\n",
			"api.yaml:8: hosts.cdn.example.com.concurrency.min: must be at least 1, got 0"},
		{"unknown key", "hosts:\n  cdn.example.com: {rat: 1}\n",
			`api.yaml:8: hosts.cdn.example.com.rat: unknown key (did you mean "rate"?)`},
		{"unknown key one level down in a dotted host", "hosts:\n  cdn.example.com: {concurrency: {mx: 2}}\n",
			`api.yaml:8: hosts.cdn.example.com.concurrency.mx: unknown key (did you mean "max"?)`},
		{"wrong type one level down in a dotted host", "hosts:\n  cdn.example.com:\n    concurrency: {max: [2]}\n",
			"api.yaml:9: hosts.cdn.example.com.concurrency.max: want a whole number"},
		{"max total zero", "limits: {concurrency: {max_total: 0}}\n",
			"limits.concurrency.max_total: must be at least 1, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTest(minimalYAML + tt.yaml)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRunnerGivesHostsTheirOwnLimitsAndTimeouts(t *testing.T) {
	cfg, err := parseTest(minimalYAML + `hosts:
  cdn.example.com: {timeout: 2s, concurrency: {algorithm: fixed, initial: 3}}
`)
	require.NoError(t, err)
	r, err := newRunner(cfg, runOptions{log: zap.NewNop()})
	require.NoError(t, err)
	assert.Equal(t, 3, r.lim.Host("cdn.example.com:443").Snapshot().Limit)
	assert.Equal(t, cfg.Limits.Concurrency.Initial, r.lim.Host("api.example.com:443").Snapshot().Limit)
	assert.Equal(t, map[string]time.Duration{"cdn.example.com": 2 * time.Second}, hostTimeouts(cfg))
}

func TestBodyLimitIsTheHostsOwn(t *testing.T) {
	f := &fetcher{maxBody: 100, hosts: map[string]int64{"cdn.example.com": 10, "api.example.com:8443": 20}}
	tests := []struct {
		url  string
		want int64
	}{
		{"http://CDN.example.com/a", 10},
		{"https://cdn.example.com:8443/a", 10},
		{"https://api.example.com:8443/a", 20},
		{"https://api.example.com/a", 100},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(http.MethodGet, tt.url, nil)
		require.NoError(t, err)
		assert.Equal(t, tt.want, f.bodyLimit(req), tt.url)
	}
	assert.Equal(t, int64(100), f.bodyLimit(nil))
}
