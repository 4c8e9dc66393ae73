package transport_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/transport"
)

// A plain net/http client becomes polite by wrapping its transport; with
// colly, pass the same Transport to Collector.WithTransport. The handler's
// error comes from transport.Check, which the engine knows how to retry.
func Example() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Policy", `"default";q=100;w=60`)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "hello")
	}))
	defer api.Close()

	lim, err := limiter.New(limiter.Config{Rate: 50})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: transport.New(lim), Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	fetch := func(url string) error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close() // releases the host's permit
		if err := transport.Check(resp); err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		fmt.Printf("%s", body)
		return err
	}

	fmt.Println(fetch(api.URL + "/hello"))
	err = fetch(api.URL + "/missing")
	var se *transport.StatusError
	fmt.Println(err, errors.As(err, &se) && se.Permanent())
	s := lim.Snapshots()[0]
	fmt.Printf("successes %d, ignored %d, in flight %d\n", s.Successes, s.Ignored, s.InFlight)
	// Output:
	// hello
	// <nil>
	// http 404 Not Found true
	// successes 1, ignored 1, in flight 0
}

func ExampleCheck() {
	at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"30"}}}

	err := transport.CheckAt(resp, at)
	var ra *limiter.RetryAfterError
	fmt.Println(errors.Is(err, limiter.ErrThrottled), errors.As(err, &ra), ra.Until.Sub(at))
	// Output: true true 30s
}
