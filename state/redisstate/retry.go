package redisstate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// retrier waits out a Redis outage (a restart, a failover): a call that
// fails for a connection error is tried again with capped exponential
// backoff and jitter for up to outage. The first failure of a streak is
// logged, and so is the recovery.
type retrier struct {
	log     *zap.Logger
	outage  time.Duration
	url     string
	failing atomic.Bool
}

const (
	retryBase = 50 * time.Millisecond
	retryMax  = 2 * time.Second
)

// do runs op, with each try bounded by commandTimeout, until it succeeds,
// fails for a reason other than Redis being unreachable, ctx ends, or the
// outage lasts longer than allowed.
func (r *retrier) do(ctx context.Context, what string, op func(context.Context) error) error {
	var start time.Time
	delay := retryBase
	for {
		cctx, cancel := context.WithTimeout(ctx, commandTimeout)
		err := op(cctx)
		cancel()
		if err == nil || errors.Is(err, redis.Nil) {
			if r.failing.Load() && r.failing.Swap(false) {
				r.log.Info("redis is back", zap.String("redis", r.url))
			}
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("redis %s: %s: %w", r.url, what, ctx.Err())
		}
		if !transient(err) {
			return fmt.Errorf("redis %s: %s: %w", r.url, what, err)
		}
		if start.IsZero() {
			start = time.Now()
		}
		if time.Since(start) > r.outage {
			return fmt.Errorf("redis %s: %s: unreachable for %v: %w", r.url, what, r.outage.Round(time.Second), err)
		}
		if !r.failing.Swap(true) {
			r.log.Warn("redis unavailable: retrying with backoff", zap.String("redis", r.url),
				zap.String("doing", what), zap.Error(err))
		}
		t := time.NewTimer(rand.N(delay) + delay/2)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redis %s: %s: %w", r.url, what, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, retryMax)
	}
}

// transient reports whether err says Redis is (for now) unreachable or not
// serving: a connection error, a timeout, a server loading its data or a
// replica that is not yet a master.
func transient(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	s := err.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "EOF", "connection reset", "broken pipe", "connection refused"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
