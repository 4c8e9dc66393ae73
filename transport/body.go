package transport

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/politely/politely/limiter"
)

// body holds its request's permit until it is read to the end, fails or is
// closed, whichever comes first, and then releases it exactly once.
type body struct {
	rc   io.ReadCloser
	ex   exchange        // its verdict is what the status and headers said
	ctx  context.Context // the request's, to tell a cancellation from a failure
	done atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.release(b.ex.v.outcome)
	case err != nil:
		o := b.ex.v.outcome
		if o == limiter.Success {
			// The headers were fine but the answer broke off: judge the break.
			o = classifyFailure(b.ctx, err, b.ex.permit, b.ex.t.clock.Since(b.ex.began))
		}
		b.release(o)
	}
	return n, err
}

// Close closes the body and releases the permit with the headers' outcome,
// if reading has not already: a caller that stops reading early still got
// its answer.
func (b *body) Close() error {
	err := b.rc.Close()
	b.release(b.ex.v.outcome)
	return err
}

func (b *body) release(o limiter.Outcome) {
	if b.done.CompareAndSwap(false, true) {
		b.ex.release(o)
	}
}
