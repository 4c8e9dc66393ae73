package transport

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/politely/politely/limiter"
)

func TestHeaderValuesAndURLsAreNeverLogged(t *testing.T) {
	const secret = "s3cr3t-tok_live_8f3a9c"
	core, logs := observer.New(zapcore.DebugLevel)
	logger := zap.New(core)
	r := newRig(t, limiter.Config{}, WithLogger(logger))
	var hits atomic.Int32
	srv := r.server(t, func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Set-Cookie", "session="+secret)
		switch hits.Add(1) {
		case 1: // every header broken, each quoting the secret
			h.Set("Retry-After", secret)
			h.Set("RateLimit", `"`+secret+`";r=`+secret)
			h.Set("RateLimit-Policy", secret+`;q=x`)
			h.Set("X-RateLimit-Remaining", secret)
			h.Set("X-RateLimit-Reset", "1")
			h.Set("RateLimit-Remaining", "1")
			h.Set("RateLimit-Reset", secret)
			w.WriteHeader(http.StatusTooManyRequests)
		case 2: // a Retry-After of a year, which the limiter caps with a warning
			h.Set("Retry-After", "31536000")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	target := strings.Replace(srv.URL, "http://", "http://user:"+secret+"@", 1) + "/" + secret + "?key=" + secret
	drive(r.fc, time.Minute, func() {
		for range 3 {
			req, err := http.NewRequest(http.MethodGet, target, nil)
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("Authorization", "Bearer "+secret)
			resp, err := r.client.Do(req)
			if assert.NoError(t, err) {
				assert.NoError(t, resp.Body.Close())
			}
		}
	})
	require.Equal(t, int32(3), hits.Load())

	entries := logs.All()
	var warned bool
	for _, e := range entries {
		warned = warned || e.Level == zapcore.WarnLevel
		text := e.Message + " " + fmt.Sprint(e.ContextMap())
		assert.NotContains(t, text, secret, "logged: %s", text)
	}
	assert.True(t, warned, "the broken headers should have been warned about")
	assert.GreaterOrEqual(t, len(entries), 3, "debug entries for the refusals")
}

func TestAHeaderBrokenOnEveryResponseIsWarnedAboutOncePerHost(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	r := newRig(t, limiter.Config{}, WithLogger(zap.New(core)))
	broken := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "lots")
		w.Header().Set("X-RateLimit-Reset", "60")
	}
	a, b := r.server(t, broken), r.server(t, broken)
	drive(r.fc, time.Minute, func() {
		for _, u := range []string{a.URL, a.URL, a.URL, a.URL, b.URL, b.URL} {
			resp, err := r.client.Get(u)
			if assert.NoError(t, err) {
				assert.NoError(t, resp.Body.Close())
			}
		}
	})

	warned := map[string]int{}
	debug := 0
	for _, e := range logs.FilterMessageSnippet("response headers ignored").All() {
		switch e.Level {
		case zapcore.WarnLevel:
			warned[e.ContextMap()["host"].(string)]++
			assert.Equal(t, "X-RateLimit-Remaining: not a non-negative number", e.ContextMap()["error"])
		case zapcore.DebugLevel:
			debug++
		}
	}
	assert.Len(t, warned, 2, "each host is warned about: %v", warned)
	for host, n := range warned {
		assert.Equal(t, 1, n, "host %s warned once", host)
	}
	assert.Equal(t, 4, debug, "the repeats are logged at debug level")
}
