package limiter_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/politely/politely/limiter"
)

// A request takes a permit for its host and releases it with what the answer
// said about the host's load.
func ExampleLimiter() {
	l, err := limiter.New(limiter.Config{Rate: 20}) // at most 20 requests/s per host
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p, err := l.Acquire(ctx, "api.example.com:443")
	if err != nil {
		panic(err)
	}
	// ... send the request; suppose the server answered 200 OK.
	p.Release(limiter.Success)

	s := l.Host("api.example.com:443").Snapshot()
	fmt.Println(s.Key, s.Rate, s.Limit, s.Successes)
	// Output: api.example.com:443 20 4 1
}

// A 429 with Retry-After closes the host's gate and teaches the limiter that
// the host throttles.
func ExampleHost_Gate() {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, _ := limiter.New(limiter.Config{}, limiter.WithClock(clk))
	h := l.Host("api.example.com:443")

	p, _ := h.Acquire(context.Background())
	// The server answered 429 with Retry-After: 30.
	h.Gate(clk.Now().Add(30 * time.Second))
	p.Release(limiter.Throttled)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := h.Acquire(ctx) // no request starts before the gate opens
	fmt.Println(errors.Is(err, context.DeadlineExceeded), h.Snapshot().GateUntil.Format(time.TimeOnly))
	// Output: true 00:00:30
}

// An announced quota is spread over the time to its reset.
func ExampleHost_SetQuota() {
	clk := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, _ := limiter.New(limiter.Config{}, limiter.WithClock(clk))
	h := l.Host("api.github.com:443")

	// X-RateLimit-Limit: 5000, X-RateLimit-Remaining: 850, reset in 60 s:
	// until a Reset shows the quota refills then, 5000/20 stay in reserve.
	h.SetQuota(limiter.Quota{Limit: 5000, Remaining: 850, Reset: clk.Now().Add(time.Minute)})
	fmt.Println(h.Snapshot().Rate, "requests/s")
	// Output: 10 requests/s
}

// Event loops and simulations drive the non-blocking core with their own time.
func ExampleHost_TryAcquireAt() {
	l, _ := limiter.New(limiter.Config{Rate: 2, Burst: 1})
	h := l.Host("slow.example.com:443")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	p, _, ok := h.TryAcquireAt(now)
	fmt.Println(ok)
	_, retryAt, ok := h.TryAcquireAt(now)
	fmt.Println(ok, retryAt.Sub(now))
	p.ReleaseAt(now.Add(40*time.Millisecond), limiter.Success)
	// Output:
	// true
	// false 500ms
}
