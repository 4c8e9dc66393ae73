package crawl

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeStoredTakesTheWalkersTaskURLAndDecodesTheItemOnlyWhenNeeded(t *testing.T) {
	b, err := encodeStored(listed{Page: "http://a/items?page=2", Item: map[string]any{"id": json.Number("7")},
		target: &target{raw: "http://a/items/7", key: "a:80"}})
	require.NoError(t, err)
	l, err := decodeStored(b, true)
	require.NoError(t, err)
	assert.Equal(t, "http://a/items?page=2", l.Page)
	require.NotNil(t, l.target)
	assert.Equal(t, target{raw: "http://a/items/7", key: "a:80"}, *l.target)
	assert.Nil(t, l.Item, "the item is not decoded when its task URL is known")

	// Without a task the item is the output: decoded, numbers kept as written.
	l, err = decodeStored(b, false)
	require.NoError(t, err)
	assert.Nil(t, l.target)
	assert.Equal(t, map[string]any{"id": json.Number("7")}, l.Item)

	// An entry stored without a task URL (or by an older walker) is resolved by the worker.
	l, err = decodeStored([]byte(`{"p":"http://a/items","i":{"id":12345678901234567890}}`), true)
	require.NoError(t, err)
	assert.Nil(t, l.target)
	assert.Equal(t, map[string]any{"id": json.Number("12345678901234567890")}, l.Item)

	// Escaped strings are read by the JSON decoder.
	l, err = decodeStored([]byte(`{"u":"http://a/x?q=\u0026","h":"a:80","p":"http://a/items","i":null}`), true)
	require.NoError(t, err)
	assert.Equal(t, "http://a/x?q=&", l.target.raw)

	_, err = decodeStored([]byte(`{"p":`), true)
	assert.Error(t, err)
}

// FuzzStored encodes an item with its task URL, host key and page, and
// decodes it as a worker does: with a task it gets them back as they were
// (the item is not decoded), without one it gets the item; arbitrary
// payloads decode or fail without a panic. Seeds: testdata/fuzz/FuzzStored.
func FuzzStored(f *testing.F) {
	f.Fuzz(func(t *testing.T, rawURL, key, page string, id int64, payload []byte) {
		if _, err := decodeStored(payload, true); err != nil {
			_, err = decodeStored(payload, false)
			assert.Error(t, err, "a payload the worker cannot read with a task is unreadable without one too")
		}
		if rawURL == "" {
			return // no task URL: the worker resolves it
		}
		item := map[string]any{"id": json.Number(strconv.FormatInt(id, 10))}
		b, err := encodeStored(listed{Page: page, Item: item, target: &target{raw: rawURL, key: key}})
		require.NoError(t, err)
		var want struct{ U, H, P string }
		require.NoError(t, json.Unmarshal(b, &struct {
			U *string `json:"u"`
			H *string `json:"h"`
			P *string `json:"p"`
		}{&want.U, &want.H, &want.P}))
		l, err := decodeStored(b, true)
		require.NoError(t, err)
		require.NotNil(t, l.target)
		assert.Equal(t, want.U, l.target.raw)
		assert.Equal(t, want.H, l.target.key)
		assert.Equal(t, want.P, l.Page)
		l, err = decodeStored(b, false)
		require.NoError(t, err)
		assert.Equal(t, item, l.Item)
	})
}
