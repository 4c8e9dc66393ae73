package crawl

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// maxRedirects is how many redirects a request may follow (the crawl
// spec's 10 hops).
const maxRedirects = 10

// The ways a redirect fails an item for good: trying again would meet the
// same redirect.
var (
	errRedirectLoop       = errors.New("redirect loop")
	errTooManyRedirects   = fmt.Errorf("more than %d redirects", maxRedirects)
	errRedirectScheme     = errors.New("redirect to a non-http(s) URL")
	errRedirectLocation   = errors.New("redirect without a valid Location")
	errRedirectDisallowed = errors.New("redirect target disallowed by robots.txt")
)

// isRedirect reports whether code asks the client to go to its Location.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// nextHop returns where a redirect answer to the request for chain's last
// URL leads: location resolved against it, without its fragment. chain
// holds every URL the request visited, the first one included. The error
// (one of the errRedirect… above, never retried) says why the redirect must
// not be followed: a Location that is missing or not a URL, a target that
// is not http(s) with a host, one the chain visited already, or a chain
// already maxRedirects hops long.
func nextHop(chain []*url.URL, location string) (*url.URL, error) {
	if len(chain) > maxRedirects {
		return nil, errTooManyRedirects
	}
	if location == "" {
		return nil, errRedirectLocation
	}
	ref, err := url.Parse(location)
	if err != nil {
		return nil, errRedirectLocation
	}
	next := chain[len(chain)-1].ResolveReference(ref)
	next.Fragment, next.RawFragment = "", ""
	if next.Scheme != "http" && next.Scheme != "https" {
		return nil, fmt.Errorf("%w (scheme %q)", errRedirectScheme, next.Scheme)
	}
	if next.Host == "" || next.Hostname() == "" {
		return nil, errRedirectLocation
	}
	target := next.String()
	if slices.ContainsFunc(chain, func(u *url.URL) bool { return sameURL(u, target) }) {
		return nil, errRedirectLoop
	}
	return next, nil
}

// sameURL reports whether u is target, ignoring u's fragment.
func sameURL(u *url.URL, target string) bool {
	c := *u
	c.Fragment, c.RawFragment = "", ""
	return c.String() == target
}

// redirectMethod is the method of the request that follows a redirect
// (RFC 9110 section 15.4, as browsers and Go's client do it): 303 turns
// everything but HEAD into GET, 301 and 302 turn POST into GET, 307 and 308
// keep the method.
func redirectMethod(method string, code int) string {
	switch {
	case code == http.StatusSeeOther && method != http.MethodHead:
		return http.MethodGet
	case (code == http.StatusMovedPermanently || code == http.StatusFound) && method == http.MethodPost:
		return http.MethodGet
	}
	return method
}

// unfollowable reports whether err is a redirect that was not followed
// because of where it led (not because robots.txt disallowed its target).
func unfollowable(err error) bool {
	for _, e := range []error{errRedirectLoop, errTooManyRedirects, errRedirectScheme, errRedirectLocation} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
