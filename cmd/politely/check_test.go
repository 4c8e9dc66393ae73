package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingAPI is a server that counts the requests it gets and answers none
// usefully: a crawl that is refused before it starts must send it nothing.
func countingAPI(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(api.Close)
	return api, &n
}

// entries lists dir's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func TestCrawlCheckValidatesWithoutARequest(t *testing.T) {
	api, requests := countingAPI(t)
	cfgPath, dir := writeConfig(t, api.URL+"/items", "state: "+filepath.Join(t.TempDir(), "st")+"\n")
	out := filepath.Join(dir, "out.jsonl")

	code, stdout, stderr := runCLI(t, context.Background(), "crawl", "--check", "-c", cfgPath, "--out", out, "--stats", filepath.Join(dir, "s.json"))
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "valid")
	assert.Zero(t, requests.Load(), "--check sends no request")
	assert.Equal(t, []string{"api.yaml"}, entries(t, dir), "--check writes nothing")
}

func TestCrawlRefusesUnwritablePathsNamingTheKey(t *testing.T) {
	api, requests := countingAPI(t)
	cfgPath, dir := writeConfig(t, api.URL+"/items", "")
	state := filepath.Join(dir, "st")
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{name: "output in a missing directory", args: []string{"--out", filepath.Join(dir, "missing", "o.jsonl")},
			msg: "output: directory " + filepath.Join(dir, "missing") + " does not exist"},
		{name: "output is the state directory", args: []string{"--out", state, "--state", state},
			msg: "output: " + state + " is the state directory"},
		{name: "output inside the state directory", args: []string{"--out", filepath.Join(state, "o.jsonl"), "--state", state},
			msg: "output: " + filepath.Join(state, "o.jsonl") + " is inside the state directory"},
		{name: "stats is the output", args: []string{"--out", filepath.Join(dir, "o.jsonl"), "--stats", filepath.Join(dir, "o.jsonl")},
			msg: "--stats: " + filepath.Join(dir, "o.jsonl") + " is the output file"},
		{name: "output is the config file", args: []string{"--out", cfgPath},
			msg: "output: " + cfgPath + " is the config file"},
		{name: "stats in a missing directory", args: []string{"--out", filepath.Join(dir, "o.jsonl"), "--stats", filepath.Join(dir, "no", "s.json")},
			msg: "--stats: directory " + filepath.Join(dir, "no") + " does not exist"},
	}
	for _, tt := range tests {
		for _, check := range []bool{false, true} {
			name := tt.name
			if check {
				name += " (--check)"
			}
			t.Run(name, func(t *testing.T) {
				args := append([]string{"crawl", "-c", cfgPath, "--quiet"}, tt.args...)
				if check {
					args = append(args, "--check")
				}
				code, stdout, stderr := runCLI(t, context.Background(), args...)
				assert.Equal(t, exitUsage, code, stderr)
				assert.Contains(t, stderr, tt.msg)
				assert.Empty(t, stdout)
				assert.Zero(t, requests.Load())
				assert.Equal(t, []string{"api.yaml"}, entries(t, dir), "nothing left behind (no state.db)")
			})
		}
	}
}
