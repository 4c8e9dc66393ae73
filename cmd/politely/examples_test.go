package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/politely/politely/crawl"
	"github.com/politely/politely/mockapi"
)

// exampleMockAddr is where the examples expect `politely mock` to listen.
const exampleMockAddr = "http://127.0.0.1:8080"

var mockLine = regexp.MustCompile(`politely mock --scenario (\S+) --pagination (\S+) --addr 127\.0\.0\.1:8080`)

// TestExamplesRunAgainstTheMock runs every example config against the mock
// its header comment names, served on a free port, with fewer items and
// without faults so that the run is short and its result exact.
func TestExamplesRunAgainstTheMock(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	require.NoError(t, err)
	styles := map[string]bool{}
	for _, file := range files {
		if filepath.Base(file) == "alerts.yaml" {
			continue
		}
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		m := mockLine.FindStringSubmatch(string(data))
		require.NotNil(t, m, "%s: no `politely mock` command line in its header", file)
		cfg, err := crawl.Parse(file, data)
		require.NoError(t, err)
		styles[string(cfg.Source.Pagination.Style)] = true

		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			sc, err := mockapi.Preset(m[1])
			require.NoError(t, err)
			sc.Pagination = mockapi.Pagination(m[2])
			sc.Items, sc.Faults = 60, mockapi.Faults{}
			srv := startMockAPI(t, sc)
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "example.yaml")
			require.NoError(t, os.WriteFile(cfgPath, []byte(strings.ReplaceAll(string(data), exampleMockAddr, srv.URL())), 0o644))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			code, stdout, stderr := runCLI(t, ctx, "crawl", "-c", cfgPath, "--out", filepath.Join(dir, "out.jsonl"), "--quiet")
			require.Equal(t, exitOK, code, stderr)
			var sum crawl.Summary
			require.NoError(t, json.Unmarshal([]byte(stdout), &sum))
			private := int64(sc.Items / sc.Robots.PrivateEvery)
			assert.Equal(t, int64(60), sum.Items)
			assert.Equal(t, 60-private, sum.Succeeded)
			assert.Equal(t, private, sum.Failed, "the private items robots.txt disallows")
			assert.Zero(t, srv.Stats().RobotsViolations)
		})
	}
	assert.Len(t, styles, 6, "one example per pagination style: %v", styles)
}

// TestAlertRulesUseTheCrawlMetrics checks that examples/alerts.yaml is well
// formed and names only metrics the crawl registers.
func TestAlertRulesUseTheCrawlMetrics(t *testing.T) {
	data, err := os.ReadFile("../../examples/alerts.yaml")
	require.NoError(t, err)
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&rules))

	srv := startMockAPI(t, mockapi.Scenario{Items: 1})
	cfgPath, dir := writeConfig(t, srv.URL()+"/items", "")
	cfg, err := crawl.Load(cfgPath)
	require.NoError(t, err)
	cfg.Output = filepath.Join(dir, "o.jsonl")
	reg := &namesRegisterer{Registerer: prometheus.NewRegistry(), names: map[string]bool{}}
	_, err = crawl.Run(context.Background(), cfg, crawl.WithRegisterer(reg))
	require.NoError(t, err)

	metric := regexp.MustCompile(`politely_[a-z_]+`)
	require.NotEmpty(t, rules.Groups)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			assert.NotEmpty(t, r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
			_, err := time.ParseDuration(r.For)
			assert.NoError(t, err, r.Alert)
			names := metric.FindAllString(r.Expr, -1)
			assert.NotEmpty(t, names, r.Alert)
			for _, n := range names {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
				assert.True(t, reg.names[base], "%s: %s is not a crawl metric (have %v)", r.Alert, n, reg.names)
			}
		}
	}
}

// namesRegisterer records the names of the metrics registered through it.
type namesRegisterer struct {
	prometheus.Registerer
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *namesRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	c.Describe(ch)
	close(ch)
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return r.Registerer.Register(c)
}
