package crawl

import (
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadBodyReadsToTheEndOrTheMostWhateverTheAnnouncedSize(t *testing.T) {
	body := strings.Repeat("x", 100)
	tests := []struct {
		name       string
		most, size int64
		want       int
	}{
		{name: "size announced", most: 1000, size: 100, want: 100},
		{name: "size unknown", most: 1000, size: -1, want: 100},
		{name: "announced shorter than the body", most: 1000, size: 10, want: 100},
		{name: "announced longer than the body", most: 1000, size: 500, want: 100},
		{name: "announced zero", most: 1000, size: 0, want: 100},
		{name: "cut at most, size announced", most: 51, size: 50, want: 51},
		{name: "cut at most, announced shorter", most: 51, size: 10, want: 51},
		{name: "cut at most, size unknown", most: 51, size: -1, want: 51},
		{name: "cut at most, announced beyond it", most: 51, size: 100, want: 51},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(body), tt.most, tt.size)
			require.NoError(t, err)
			assert.Equal(t, body[:tt.want], string(got))
			got, err = readBody(iotest.OneByteReader(strings.NewReader(body)), tt.most, tt.size)
			require.NoError(t, err)
			assert.Equal(t, body[:tt.want], string(got), "read one byte at a time")
		})
	}
	_, err := readBody(iotest.ErrReader(assert.AnError), 10, 5)
	assert.ErrorIs(t, err, assert.AnError)
}
