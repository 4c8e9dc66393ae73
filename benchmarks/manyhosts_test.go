package benchmarks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewManyHostsKeepsTheDefaultShapeAndTakesAnother(t *testing.T) {
	mh, err := NewManyHosts(1, ManyHostsShape{})
	require.NoError(t, err)
	assert.Equal(t, 8, mh.Healthy)
	assert.Equal(t, 1, mh.Gated)
	assert.Equal(t, 1, mh.Slow)
	assert.Equal(t, 500, mh.ItemsPerHost, "2.5 s at 200 req/s")
	assert.Equal(t, 20*time.Millisecond, mh.Latency)
	assert.Zero(t, mh.MaxTotal)

	mh, err = NewManyHosts(1, ManyHostsShape{Healthy: 100, Gated: 5, Slow: -1, Latency: 200 * time.Millisecond, MaxTotal: 50, Mixed: true})
	require.NoError(t, err)
	assert.Equal(t, 100, mh.Healthy)
	assert.Equal(t, 5, mh.Gated)
	assert.Zero(t, mh.Slow)
	assert.Equal(t, 50, mh.ItemsPerHost, "2.5 s at 20 req/s")
	assert.Equal(t, 50, mh.MaxTotal)
	assert.True(t, mh.Mixed)
	assert.InDelta(t, 0.5, mh.fairShare(), 1e-9, "50 over the 100 hosts that are not gated")
}

func TestNewManyHostsRejectsANegativeShape(t *testing.T) {
	for _, shape := range []ManyHostsShape{{Healthy: -1}, {Gated: -2}, {Slow: -3}, {Latency: -time.Second}, {MaxTotal: -1}} {
		_, err := NewManyHosts(1, shape)
		assert.ErrorContains(t, err, "want no count below zero", "%+v", shape)
	}
	_, err := NewManyHosts(2, ManyHostsShape{})
	assert.ErrorContains(t, err, "scale")
}
