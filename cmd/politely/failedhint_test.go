package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/mockapi"
)

func TestCrawlWhereEveryItemFailsSaysWhyTheFirstFailed(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs last: after the mock API closed
	srv := startMockAPI(t, mockapi.Scenario{Items: 12, PerPage: 5, Pagination: mockapi.PaginationLink})
	dir := t.TempDir()
	write := func(name, template string) string {
		path := filepath.Join(dir, name)
		yaml := fmt.Sprintf(`user_agent: "politely-test/1.0"
source:
  url: %q
  pagination: {style: link}
  items_field: items
task:
  url: %q
output: %s
`, srv.URL()+"/items", template, filepath.Join(dir, name+".jsonl"))
		require.NoError(t, os.WriteFile(path, []byte(yaml), 0o644))
		return path
	}

	code, _, stderr := runCLI(t, context.Background(), "crawl", "-c", write("wrong.yaml", "{+detail}"), "--quiet")
	require.Equal(t, exitOK, code, "a crawl that ran to its end exits 0 whatever its items' outcome")
	assert.Contains(t, stderr, "every item failed for good")
	assert.Contains(t, stderr, `the item has no key \"detail\"`, "the first item's error, as the failed file has it")
	assert.Contains(t, stderr, "wrong.yaml.failed.jsonl")

	code, _, stderr = runCLI(t, context.Background(), "crawl", "-c", write("right.yaml", "{+detail_path}"), "--quiet")
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, stderr, "every item failed")
}

func TestFirstFailureReadsTheFailedFilesFirstError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.jsonl")
	assert.Empty(t, firstFailure(path), "no file")
	require.NoError(t, os.WriteFile(path, []byte(`{"url":"http://h/1","error":"http 404","status":404,"attempts":1}`+"\n{}\n"), 0o644))
	assert.Equal(t, "http 404", firstFailure(path))
	require.NoError(t, os.WriteFile(path, []byte("not json\n"), 0o644))
	assert.Empty(t, firstFailure(path))
}
