package crawl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/transport"
)

// fetcher sends the crawl's requests: every one through the same client (so
// through the same limiter), with the config's headers and User-Agent, and
// reads bodies up to max_body.
type fetcher struct {
	client  *http.Client
	header  http.Header
	maxBody int64
}

// response is an answer whose status says success and whose body was read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// attemptError is a failed attempt with the last status seen (0 when no
// answer came), for the failed file. Whether it is retried is decided by the
// error it wraps.
type attemptError struct {
	status int
	err    error
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// statusOf returns the last HTTP status recorded in err's chain, or 0.
func statusOf(err error) int {
	var ae *attemptError
	if errors.As(err, &ae) {
		return ae.status
	}
	return 0
}

// get sends one request to rawURL and returns its answer when the status is
// a success. Errors are *attemptError; a body over max_body is permanent,
// other failures follow transport.Check (a 404 is permanent, a 500 or a reset
// is retried, a 429 waits for its Retry-After).
func (f *fetcher) get(ctx context.Context, method, rawURL string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return response{}, &attemptError{err: engine.Permanent(err)}
	}
	req.Header = f.header.Clone()
	resp, err := f.client.Do(req)
	if err != nil {
		return response{}, &attemptError{err: err}
	}
	defer resp.Body.Close() // releases the host's permit
	if err := transport.Check(resp); err != nil {
		return response{}, &attemptError{status: resp.StatusCode, err: err}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return response{}, &attemptError{status: resp.StatusCode, err: fmt.Errorf("read body: %w", err)}
	}
	if int64(len(body)) > f.maxBody {
		return response{}, &attemptError{status: resp.StatusCode,
			err: engine.Permanent(fmt.Errorf("body larger than max_body (%d bytes)", f.maxBody))}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// decodeJSON decodes a body, keeping numbers exact (json.Number) so that
// large IDs insert into templates unchanged. A malformed body is a retryable
// error: a body cut short by a failing server may come whole next time.
func decodeJSON(r response) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &attemptError{status: r.status, err: fmt.Errorf("malformed JSON body: %w", err)}
	}
	if dec.More() {
		return nil, &attemptError{status: r.status, err: errors.New("malformed JSON body: data after the first value")}
	}
	return v, nil
}

// rawJSON checks a task's body and returns it for the output line as it is;
// an empty body (HEAD, 204) is null.
func rawJSON(r response) (json.RawMessage, error) {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(r.body) {
		_, err := decodeJSON(r) // for the parser's message
		if err == nil {
			err = &attemptError{status: r.status, err: errors.New("malformed JSON body")}
		}
		return nil, err
	}
	return json.RawMessage(r.body), nil
}
