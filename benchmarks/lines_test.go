package benchmarks

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEachLineDecodesEveryLineAndNamesABadOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(`{"url":"http://h/1"}`+"\n"+`{"url":"http://h/2","status":200}`+"\n"), 0o644))
	var urls []string
	require.NoError(t, eachLine(path, false, func(l urlLine) { urls = append(urls, l.URL) }))
	assert.Equal(t, []string{"http://h/1", "http://h/2"}, urls)

	none := filepath.Join(t.TempDir(), "none.jsonl")
	assert.NoError(t, eachLine(none, true, func(urlLine) { t.Fatal("a missing file has no lines") }))
	assert.ErrorIs(t, eachLine(none, false, func(urlLine) {}), fs.ErrNotExist, "a file that must be there")

	require.NoError(t, os.WriteFile(path, []byte(`{"url":"http://h/1"}`+"\n{not json\n"), 0o644))
	assert.ErrorContains(t, eachLine(path, false, func(urlLine) {}), path+":2: a line that is not JSON")
}
