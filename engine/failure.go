package engine

import (
	"errors"
	"fmt"

	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
)

// Permanent marks err as not worth retrying: the item fails for good at once.
// It returns nil for a nil err. errors.Is and errors.As see through it.
//
// Any error in the chain with a method Permanent() bool that returns true is
// permanent too, so that a lower layer (transport marks a 404 this way) need
// not import this package.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() error   { return e.err }
func (e *permanentError) Permanent() bool { return true }

// IsPermanent reports whether the first error in err's chain that has a
// method Permanent() bool says true.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// PanicError is the error of an attempt whose handler panicked. The stack is
// in Failure.Stack.
type PanicError struct {
	Value any // what the handler panicked with
}

func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }

// Reason says why an item did not succeed.
type Reason int

// The reasons a Failure carries.
const (
	// ReasonPermanent: the handler returned a permanent error (see Permanent).
	ReasonPermanent Reason = iota + 1
	// ReasonPanic: the handler panicked; the item is not retried.
	ReasonPanic
	// ReasonAttempts: every allowed attempt failed with a retryable error
	// (throttled attempts are not counted: see Retry).
	ReasonAttempts
	// ReasonInterrupted: the run stopped before the item was finished: it was
	// queued, waiting to be retried, or its attempt was cut at the drain
	// timeout. It is not finished, so a checkpoint never counts it as done and
	// a resumed run does it again.
	ReasonInterrupted
)

func (r Reason) String() string {
	switch r {
	case ReasonPermanent:
		return "permanent error"
	case ReasonPanic:
		return "handler panicked"
	case ReasonAttempts:
		return "attempts exhausted"
	case ReasonInterrupted:
		return "interrupted"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Failure describes an item that did not succeed, as given to the sink set
// with Job.WithFailureSink.
type Failure[T any] struct {
	Item     source.Item[T]
	Reason   Reason
	Attempts int    // attempts made, throttled ones included; 0 when the item never started
	Err      error  // the last attempt's error; nil for an item that never started
	Stack    []byte // the handler's stack when Reason is ReasonPanic
}

// kind is what an attempt's result means for the item and for the limiter.
type kind int

const (
	kindSuccess   kind = iota + 1
	kindPermanent      // fail for good
	kindPanic          // fail for good
	kindRetry          // retry with backoff
	kindTimeout        // the task timeout fired: retry with backoff
	kindThrottled      // retry no earlier than the Retry-After
	kindCut            // the run cancelled the attempt while stopping
)

// outcome maps k to what the limiter learns from it: timeouts and other
// retryable errors are overload, permanent errors and panics say nothing
// about load, and neither does an attempt the run cut short.
func (k kind) outcome() limiter.Outcome {
	switch k {
	case kindSuccess:
		return limiter.Success
	case kindThrottled:
		return limiter.Throttled
	case kindRetry, kindTimeout:
		return limiter.Dropped
	}
	return limiter.Ignored
}
