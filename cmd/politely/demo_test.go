package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/crawl"
)

func TestDemoCrawlsTheMockAPIAndWritesAPlot(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	began := time.Now()
	code := run(ctx, []string{"demo", "--dir", dir, "--quiet"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, "stderr: %s\nstdout: %s", stderr.String(), stdout.String())
	t.Logf("demo took %v:\n%s", time.Since(began), stdout.String())

	var sum crawl.Summary
	for line := range strings.Lines(stdout.String()) {
		if strings.HasPrefix(line, "{") {
			require.NoError(t, json.Unmarshal([]byte(line), &sum))
		}
	}
	assert.Equal(t, int64(500), sum.Items)
	assert.Equal(t, int64(500), sum.Succeeded+sum.Failed)
	assert.GreaterOrEqual(t, sum.Failed, int64(10), "the 10 private items at least")
	assert.Contains(t, stdout.String(), "crawling into "+dir)
	assert.Contains(t, stdout.String(), "0 to paths robots.txt disallows")

	out, err := os.ReadFile(filepath.Join(dir, "items.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, int(sum.Succeeded), strings.Count(string(out), "\n"))
	png, err := os.ReadFile(filepath.Join(dir, "demo.png"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "a PNG")
}
