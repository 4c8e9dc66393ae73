package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/limiter"
)

func response(code int, kv ...string) *http.Response {
	return &http.Response{StatusCode: code, Header: header(kv...)}
}

func TestCheckAt(t *testing.T) {
	type want struct {
		ok        bool          // nil error
		throttled bool          // errors.Is(err, limiter.ErrThrottled), a *RetryAfterError
		wait      time.Duration // Until - now, for a *RetryAfterError
		permanent bool
	}
	tests := []struct {
		name string
		resp *http.Response
		want want
	}{
		{name: "200", resp: response(200), want: want{ok: true}},
		{name: "204", resp: response(204), want: want{ok: true}},
		{name: "304", resp: response(304), want: want{ok: true}},
		{name: "200 with an exhausted quota is still a success",
			resp: response(200, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"), want: want{ok: true}},
		{name: "429 with Retry-After", resp: response(429, "Retry-After", "30"), want: want{throttled: true, wait: 30 * time.Second}},
		{name: "429 without a time: retry now, paced by the limiter", resp: response(429), want: want{throttled: true}},
		{name: "429 with a garbage Retry-After", resp: response(429, "Retry-After", "soon"), want: want{throttled: true}},
		{name: "429 with a negative Retry-After", resp: response(429, "Retry-After", "-30"), want: want{throttled: true}},
		{name: "429 with a Retry-After of a year is capped", resp: response(429, "Retry-After", "31536000"),
			want: want{throttled: true, wait: MaxRetryAfter}},
		{name: "429 with a Retry-After of 2^63 is capped", resp: response(429, "Retry-After", "9223372036854775808"),
			want: want{throttled: true, wait: MaxRetryAfter}},
		{name: "429 with a Retry-After date in the past", resp: response(429, "Retry-After", "Wed, 25 Nov 2026 02:00:00 GMT"),
			want: want{throttled: true}},
		{name: "429 with an exhausted quota waits for the later reset",
			resp: response(429, "Retry-After", "5", "RateLimit-Remaining", "0", "RateLimit-Reset", "40"),
			want: want{throttled: true, wait: 40 * time.Second}},
		{name: "403 with an exhausted quota is a throttle",
			resp: response(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "20"), want: want{throttled: true, wait: 20 * time.Second}},
		{name: "403 with a Retry-After is a throttle", resp: response(403, "Retry-After", "60"), want: want{throttled: true, wait: time.Minute}},
		{name: "403 with quota left is permanent",
			resp: response(403, "X-RateLimit-Remaining", "10", "X-RateLimit-Reset", "20"), want: want{permanent: true}},
		{name: "plain 403 is permanent", resp: response(403), want: want{permanent: true}},
		{name: "503 with Retry-After", resp: response(503, "Retry-After", "12"), want: want{throttled: true, wait: 12 * time.Second}},
		{name: "503 without Retry-After is temporary", resp: response(503), want: want{}},
		{name: "502", resp: response(502), want: want{}},
		{name: "504", resp: response(504), want: want{}},
		{name: "500 is temporary", resp: response(500), want: want{}},
		{name: "501 is permanent", resp: response(501), want: want{permanent: true}},
		{name: "404 is permanent", resp: response(404), want: want{permanent: true}},
		{name: "400 is permanent", resp: response(400), want: want{permanent: true}},
		{name: "408 is temporary", resp: response(408), want: want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAt(tt.resp, now)
			if tt.want.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var se *StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.resp.StatusCode, se.Code)
			var ra *limiter.RetryAfterError
			assert.Equal(t, tt.want.throttled, errors.As(err, &ra), "a *limiter.RetryAfterError")
			assert.Equal(t, tt.want.throttled, errors.Is(err, limiter.ErrThrottled), "errors.Is ErrThrottled")
			if ra != nil {
				assert.Equal(t, tt.want.wait, ra.Until.Sub(now), "Until - now")
			}
			// What the engine looks for, without importing transport.
			var p interface{ Permanent() bool }
			require.ErrorAs(t, err, &p)
			assert.Equal(t, tt.want.permanent, p.Permanent(), "Permanent()")
		})
	}
}

func TestCheckOfNilResponse(t *testing.T) {
	require.EqualError(t, Check(nil), "transport: Check of a nil *http.Response")
}

func TestStatusErrorMessage(t *testing.T) {
	assert.Equal(t, "http 404 Not Found", (&StatusError{Code: 404}).Error())
	assert.Equal(t, "http 599 status 599", (&StatusError{Code: 599}).Error())
	err := CheckAt(response(429, "Retry-After", "30"), now)
	assert.Equal(t, "http 429 Too Many Requests: retry after 2026-11-25T03:00:30Z", err.Error())
}

func TestRetryAfterDateIsReadOnTheServerClock(t *testing.T) {
	// The server's clock is 2 minutes behind ours: its "30 s from now" is
	// 30 s from our now, not 90 s in our past.
	serverNow := now.Add(-2 * time.Minute)
	h := header("Date", serverNow.Format(http.TimeFormat), "Retry-After", serverNow.Add(30*time.Second).Format(http.TimeFormat))
	r := read(h, now, clockRef{h: h, now: now})
	require.NoError(t, r.err)
	assert.Equal(t, now.Add(30*time.Second), r.retryAt)

	h = header("Date", "not a date", "Retry-After", "30")
	r = read(h, now, clockRef{h: h, now: now})
	require.NoError(t, r.err)
	assert.Equal(t, now.Add(30*time.Second), r.retryAt, "a delay does not depend on Date")
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

func TestClassifyError(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want limiter.Outcome
	}{
		{"cancelled by the caller", cancelled, fmt.Errorf("net/http: request canceled: %w", context.Canceled), limiter.Ignored},
		{"canceled error on a live context", live, context.Canceled, limiter.Ignored},
		{"deadline exceeded", live, fmt.Errorf("wrapped: %w", context.DeadlineExceeded), limiter.Dropped},
		{"net timeout", live, &net.OpError{Op: "read", Err: timeoutError{}}, limiter.Dropped},
		{"os deadline", live, os.ErrDeadlineExceeded, limiter.Dropped},
		{"connection reset", live, &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, limiter.Dropped},
		{"connection refused", live, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, limiter.Dropped},
		{"broken pipe", live, syscall.EPIPE, limiter.Dropped},
		{"server closed the connection", live, io.EOF, limiter.Dropped},
		{"body cut short", live, io.ErrUnexpectedEOF, limiter.Dropped},
		{"unknown host", live, &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, limiter.Ignored},
		{"anything else", live, errors.New("x509: certificate signed by unknown authority"), limiter.Ignored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, classifyError(tt.ctx, tt.err))
		})
	}
}

func TestCheckOfASuccessReadsNoHeaders(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{
		"Ratelimit":        {`"default";r=50;t=30`},
		"Ratelimit-Policy": {`"default";q=100;w=60`},
		"Retry-After":      {"5"},
	}}
	allocs := testing.AllocsPerRun(100, func() {
		if err := CheckAt(resp, now); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "the transport applied the headers already; a 2xx is a success whatever they say")
}

func TestHeadersDecideOnlyWhereTheyChangeTheVerdict(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	headers := []http.Header{
		{"Retry-After": {"7"}},
		{"X-Ratelimit-Limit": {"60"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1700000100"}},
		{"Ratelimit": {`"default";r=0;t=30`}, "Ratelimit-Policy": {`"default";q=100;w=60`}},
		{"Ratelimit-Limit": {"10"}, "Ratelimit-Remaining": {"3"}, "Ratelimit-Reset": {"9"}},
	}
	for code := 100; code < 600; code++ {
		if headersDecide(code) {
			continue
		}
		for _, h := range headers {
			assert.Equal(t, reading{}.classify(code), read(h, now, clockRef{h: h, now: now}).classify(code), "code %d, headers %v", code, h)
		}
	}
}

// BenchmarkCheck is Check of a 2xx that carries quota headers, as a handler
// calls it after every request:
//
//	go test ./transport -run '^$' -bench Check -benchmem
func BenchmarkCheck(b *testing.B) {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{
		"Ratelimit":        {`"default";r=50;t=30`},
		"Ratelimit-Policy": {`"default";q=100;w=60`},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(resp); err != nil {
			b.Fatal(err)
		}
	}
}
