package transport

import (
	"context"
	"net/http"

	"github.com/politely/politely/limiter"
)

type auxiliaryKey struct{}

// Auxiliary returns a context whose requests are not like their host's work
// (a robots.txt, a listing page of the items to fetch): they take permits,
// wait for gates and tokens and report throttles, drops and quota headers
// like any request, but their latency is not a sample for the host's
// concurrency limit, so a robots.txt answered at once or a slow listing page
// does not mislead its RTT baseline and slow start; and they never take a
// permit handed off through the context (limiter.Handoff): that one is the
// task's.
func Auxiliary(ctx context.Context) context.Context {
	return context.WithValue(ctx, auxiliaryKey{}, auxiliary)
}

// Prerequisite returns a context whose requests are auxiliary (see
// Auxiliary) and are what other requests to their host wait for (a
// robots.txt): they wait for the gate and a token but for no concurrency
// slot (limiter.Host.AcquireAuxiliary), so that tasks holding every slot of
// a host while they wait for its robots.txt do not deadlock.
func Prerequisite(ctx context.Context) context.Context {
	return context.WithValue(ctx, auxiliaryKey{}, prerequisite)
}

// PacedApart returns a context whose requests are auxiliary (see
// Auxiliary) and may go to an endpoint limited apart from their host's
// others: an endpoint with a rate limit of its own on a host (a listing or
// search endpoint's), which the caller then paces itself. apart is asked
// when each answer comes. While it reports false, the requests are like any
// auxiliary request: their answers' quota headers and throttles are the
// host's, as where the endpoint shares the host's quota (the common case).
// Once it reports true, the quota headers of their answers are not applied
// to the host (they describe the endpoint's quota; the caller reads them),
// and a throttle of theirs (a 429, or a 403 that announces a quota or a
// Retry-After) still closes the host's gate until its Retry-After, since the
// server asked the client to wait, and counts as throttled for
// WithObserver, but their permit is released Ignored: the host's rate and
// concurrency limit learn nothing from it, so that the endpoint's rate does
// not pace the host's other requests. A 503 and other drops are the host's,
// as for any request. A nil apart is always false.
func PacedApart(ctx context.Context, apart func() bool) context.Context {
	if apart == nil {
		return Auxiliary(ctx)
	}
	return context.WithValue(Auxiliary(ctx), apartKey{}, apart)
}

type apartKey struct{}

// isApart reports whether the answer to a request made under ctx is its
// endpoint's alone (see PacedApart), asking at the answer.
func isApart(ctx context.Context) bool {
	apart, _ := ctx.Value(apartKey{}).(func() bool)
	return apart != nil && apart()
}

// The kinds of auxiliary requests.
const (
	auxiliary    = 1
	prerequisite = 2
)

// auxKind is the kind of auxiliary request ctx's requests are (auxiliary
// or prerequisite), 0 for the work's. RoundTrip reads it once a request:
// the lookup walks the whole context chain.
func auxKind(ctx context.Context) int {
	aux, _ := ctx.Value(auxiliaryKey{}).(int)
	return aux
}

// sampleOnly adjusts permit so its latency sample covers only the host's
// work: an auxiliary request's (aux, see auxKind) is no sample.
func sampleOnly(aux int, permit limiter.Permit) limiter.Permit {
	if aux != 0 {
		return permit.Unsampled()
	}
	return permit
}

// sampleAnswer adjusts permit for the answer's status code: a redirect (301,
// 302, 303, 307, 308) is a pointer to the work, answered without doing it,
// often from a cache or a rewrite rule in a fraction of the work's time, so
// its latency is no sample. Mixed with the work's answers (items moved to a
// canonical URL, a share of them redirected in a loop) such answers would
// set the host's RTT baseline far below the work and every real answer would
// read as a queue. It still counts as a success. A 304 Not Modified is the
// answer to a conditional request, the work of a recrawl, and stays a sample.
func sampleAnswer(code int, permit limiter.Permit) limiter.Permit {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return permit.Unsampled()
	}
	return permit
}
