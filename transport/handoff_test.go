package transport

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

func TestRoundTripUsesTheHandedOffPermitOfItsHost(t *testing.T) {
	r := newRig(t, limiter.Config{Initial: 1, Algorithm: limiter.Fixed})
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	h := r.lim.Host(u.Host)
	p, _, ok := h.TryAcquire()
	require.True(t, ok, "the host's only slot is taken")
	ctx := limiter.NewHandoff(context.Background(), p)

	// Acquiring again would wait forever: the request must use the permit.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, 0, h.Snapshot().InFlight, "the transport released the permit")
	assert.Equal(t, int64(1), h.Snapshot().Successes)
	_, ok = ctx.Reclaim()
	assert.False(t, ok, "the request took the permit")

	// A second request under the same context acquires as usual.
	status, err := r.get(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, int64(2), h.Snapshot().Successes)
}

func TestRoundTripToAnotherHostAcquiresItsOwnPermit(t *testing.T) {
	r := newRig(t, limiter.Config{Initial: 1, Algorithm: limiter.Fixed})
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {})
	p, _, ok := r.lim.Host("elsewhere:80").TryAcquire()
	require.True(t, ok)
	ctx := limiter.NewHandoff(context.Background(), p)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	back, ok := ctx.Reclaim()
	require.True(t, ok, "the permit of another host stays with its owner")
	back.Release(limiter.Ignored)
	assert.Equal(t, int64(1), r.snapshot(t, srv).Successes)
}

func TestAuxiliaryRequestsLeaveTheHandedOffPermitToTheTask(t *testing.T) {
	r := newRig(t, limiter.Config{Initial: 1, Algorithm: limiter.Fixed})
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {})
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	p, _, ok := r.lim.Host(u.Host).TryAcquire()
	require.True(t, ok, "the task holds the host's only slot")
	ho := limiter.NewHandoff(context.Background(), p)

	// A prerequisite (robots.txt) needs no slot: it does not wait for the task.
	req, err := http.NewRequestWithContext(Prerequisite(ho), http.MethodGet, srv.URL+"/robots.txt", nil)
	require.NoError(t, err)
	resp, err := r.client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	back, ok := ho.Reclaim()
	require.True(t, ok, "the prerequisite left the task's permit alone")
	back.Release(limiter.Ignored)
}
