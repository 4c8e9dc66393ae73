package crawl

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLineWriterWritesWholeLinesAndCountsFlushedBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	w, err := createLineWriter(path)
	require.NoError(t, err)

	require.NoError(t, w.WriteJSON(map[string]int{"a": 1}))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, data, "buffered until a flush")

	off, err := w.Flush()
	require.NoError(t, err)
	assert.Equal(t, int64(len(`{"a":1}`+"\n")), off)

	// A line larger than the buffer goes out whole, after what was buffered.
	big := strings.Repeat("x", 100<<10)
	require.NoError(t, w.WriteJSON(map[string]int{"b": 2}))
	require.NoError(t, w.WriteJSON(map[string]string{"big": big}))
	require.NoError(t, w.Close())

	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`+"\n"+`{"b":2}`+"\n"+`{"big":"`+big+`"}`+"\n", string(data))
}

func TestLineWriterKeepsConcurrentLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	w, err := createLineWriter(path)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				assert.NoError(t, w.WriteJSON(map[string]any{"g": g, "i": i, "pad": strings.Repeat("p", i*37)}))
				if i%50 == 0 {
					_, err := w.Flush()
					assert.NoError(t, err)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())
	lines := readLines[map[string]any](t, path)
	assert.Len(t, lines, 8*200)
}

func TestLineWriterReportsWhatItCannotWrite(t *testing.T) {
	_, err := createLineWriter(filepath.Join(t.TempDir(), "no", "such", "dir", "out.jsonl"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "create ")

	w, err := createLineWriter(filepath.Join(t.TempDir(), "out.jsonl"))
	require.NoError(t, err)
	assert.ErrorContains(t, w.WriteJSON(func() {}), "encode line")
	require.NoError(t, w.Close())
}
