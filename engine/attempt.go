package engine

import "context"

// attemptKey is the context key of the attempt number.
type attemptKey struct{}

// Attempt returns which attempt of its item a handler's context belongs to:
// 1 for the first, 2 for the first retry, and so on; 1 for a context that Run
// did not give. A handler that counts retries reads it instead of keeping
// its own record of the items it has seen.
func Attempt(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok {
		return n
	}
	return 1
}

// withAttempt marks ctx with attempt n. A first attempt gets ctx itself, so
// only retries pay for the context.
func withAttempt(ctx context.Context, n int) context.Context {
	if n <= 1 {
		return ctx
	}
	return context.WithValue(ctx, attemptKey{}, n)
}
