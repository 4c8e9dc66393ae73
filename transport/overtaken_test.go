package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

// timeoutCtx is a context that ends as a timeout when its test closes done.
type timeoutCtx struct {
	context.Context
	done chan struct{}
}

func (c *timeoutCtx) Done() <-chan struct{} { return c.done }

func (c *timeoutCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// hangThenTimeOut sends a request to srv's /hang, which the server leaves
// hanging, calls meanwhile once the server holds it, then times it out.
func hangThenTimeOut(t *testing.T, r *rig, srvURL string, arrived chan struct{}, meanwhile func()) {
	t.Helper()
	ctx := &timeoutCtx{Context: context.Background(), done: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srvURL+"/hang", nil)
	require.NoError(t, err)
	failed := make(chan error, 1)
	go func() {
		resp, err := r.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		failed <- err
	}()
	<-arrived
	meanwhile()
	close(ctx.done)
	err = <-failed
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "a timeout: %v", err)
}

// hangingServer answers /hang never (until the client gives up), saying on
// arrived that it holds one, and anything else at once.
func hangingServer(t *testing.T, r *rig) (url string, arrived chan struct{}) {
	arrived = make(chan struct{}, 1)
	srv := r.server(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/hang" {
			arrived <- struct{}{}
			<-req.Context().Done()
			return
		}
		fmt.Fprint(w, "ok")
	})
	return srv.URL, arrived
}

// TestATimeoutOvertakenByALaterSuccessIsALostRequest: a request that times
// out after one sent behind it succeeded was lost, not queued: it is
// released Ignored and does not cut the host's concurrency limit.
func TestATimeoutOvertakenByALaterSuccessIsALostRequest(t *testing.T) {
	r := newRig(t, limiter.Config{Initial: 4, Max: 8})
	url, arrived := hangingServer(t, r)
	hangThenTimeOut(t, r, url, arrived, func() {
		code, err := r.get(url + "/ok")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
	})
	s := r.lim.Host(hostOf(t, url)).Snapshot()
	assert.Equal(t, int64(1), s.Successes)
	assert.Equal(t, int64(1), s.Ignored, "the hung request was lost")
	assert.Zero(t, s.Dropped)
}

// TestATimeoutWithoutALaterAnswerIsADrop: a request that times out with
// none sent behind it answered reads as a queue: Dropped.
func TestATimeoutWithoutALaterAnswerIsADrop(t *testing.T) {
	r := newRig(t, limiter.Config{Initial: 4, Max: 8})
	url, arrived := hangingServer(t, r)
	hangThenTimeOut(t, r, url, arrived, func() {})
	s := r.lim.Host(hostOf(t, url)).Snapshot()
	assert.Equal(t, int64(1), s.Dropped)
	assert.Zero(t, s.Ignored)
}

// TestATimeoutFarLongerThanTheHostsAnswersIsALostRequest: at a host whose
// answers take 20 ms, a request sent after them that nothing overtook and
// that waits a second is lost, Ignored; one that waits 100 ms (five of the
// host's answers) is a queue, Dropped.
func TestATimeoutFarLongerThanTheHostsAnswersIsALostRequest(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want limiter.Outcome
	}{{time.Second, limiter.Ignored}, {100 * time.Millisecond, limiter.Dropped}} {
		t.Run(tc.wait.String(), func(t *testing.T) {
			r := newRig(t, limiter.Config{Initial: 4, Max: 8})
			arrived := make(chan struct{}, 1)
			srv := r.server(t, func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == "/hang" {
					arrived <- struct{}{}
					<-req.Context().Done()
					return
				}
				r.fc.Advance(20 * time.Millisecond) // the answer takes 20 ms
				fmt.Fprint(w, "ok")
			})
			for range 40 {
				code, err := r.get(srv.URL + "/ok")
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, code)
			}
			hangThenTimeOut(t, r, srv.URL, arrived, func() { r.fc.Advance(tc.wait) })
			s := r.lim.Host(hostOf(t, srv.URL)).Snapshot()
			assert.Equal(t, int64(40), s.Successes)
			if tc.want == limiter.Ignored {
				assert.Equal(t, int64(1), s.Ignored, "lost")
				assert.Zero(t, s.Dropped)
			} else {
				assert.Equal(t, int64(1), s.Dropped, "queued")
				assert.Zero(t, s.Ignored)
			}
		})
	}
}

// hostOf is the host key of rawURL, a 127.0.0.1 server's.
func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	return HostKey(req)
}
