package crawl

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/transport"
)

// fetcher sends the crawl's requests: every one through the same client (so
// through the same limiter), with the User-Agent and Accept, the config's
// headers only to header_hosts, and reads bodies up to max_body. It follows
// redirects itself, one request per hop, so that every hop goes through its
// host's limiter and robots.txt and gets its own host's headers.
type fetcher struct {
	client  *http.Client // its Transport sends each request; it does not follow redirects (see noRedirects)
	header  http.Header  // the config's headers, User-Agent and Accept: for trusted hosts
	plain   http.Header  // User-Agent and Accept: for every other host
	robots  http.Header  // User-Agent and Accept: text/plain: for robots.txt
	trusted HeaderHosts
	extra   bool // whether the config has headers: else header is plain
	maxBody int64
	hosts   map[string]int64 // max_body of the hosts (keyed as Config.Hosts) whose own differs
	// allowed checks a URL against robots.txt, before its request and
	// before each redirect hop; nil when politeness.robots is off.
	allowed func(context.Context, *url.URL) (bool, error)
	// silent admits a task's redirect hop to another host as that host's
	// own tasks are (see hopAdmitted); nil when no host is ever unresponsive.
	silent *silences
}

// newFetcher returns a fetcher sending requests with client.
func newFetcher(client *http.Client, cfg *Config) *fetcher {
	plain := http.Header{}
	plain.Set("User-Agent", cfg.UserAgent)
	plain.Set("Accept", "application/json")
	if accept := cfg.Headers["Accept"]; accept != "" {
		plain.Set("Accept", accept)
	}
	header := cfg.Headers.HTTPHeader()
	header.Set("User-Agent", cfg.UserAgent)
	header.Set("Accept", plain.Get("Accept"))
	robots := http.Header{}
	robots.Set("User-Agent", cfg.UserAgent)
	robots.Set("Accept", "text/plain, */*;q=0.5") // an API's Accept could draw a 406, which reads as no rules
	return &fetcher{client: client, header: header, plain: plain, robots: robots,
		trusted: cfg.HeaderHosts, extra: len(cfg.Headers) > 0, maxBody: cfg.Limits.MaxBody, hosts: hostMaxBodies(cfg)}
}

// noRedirects is the crawl client's CheckRedirect: the fetcher follows
// redirects itself.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// response is an answer whose status says success and whose body was read.
type response struct {
	status int
	header http.Header
	body   []byte
	url    *url.URL // where the answer came from: the last hop's URL
	hops   int      // redirects followed
}

// resolve resolves a link found in the answer (a next page's URL) against
// the URL the answer came from, when it was redirected; otherwise it is left
// to the caller, which resolves it against the URL it asked for.
func (r response) resolve(link string) string {
	if r.hops == 0 || link == "" {
		return link
	}
	ref, err := url.Parse(link)
	if err != nil {
		return link // the caller reports it
	}
	return r.url.ResolveReference(ref).String()
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

// get sends one request to rawURL, following redirects, and returns the
// answer when its status is a success. With robots.txt obeyed, rawURL and
// every redirect target are checked first: a disallowed rawURL is
// errDisallowed and never requested. Errors are *attemptError; a body over
// max_body and a redirect that must not be followed (see nextHop, and a
// target robots.txt disallows) are permanent, other failures follow
// transport.Check (a 404 is permanent, a 500 or a reset is retried, a 429
// waits for its Retry-After).
//
// The body is read into into's buffer when into is not nil (growing it,
// and keeping the grown buffer in into), so that it can be reused once the
// answer is no longer needed; with a nil into it is a buffer of its own.
func (f *fetcher) get(ctx context.Context, method, rawURL string, into *[]byte) (response, error) {
	return f.getAs(ctx, method, rawURL, crawled, into)
}

// getTask is get for a task's URL. A redirect hop to another host is
// admitted as that host's own tasks are (see hopAdmitted).
func (f *fetcher) getTask(ctx context.Context, method, rawURL string, into *[]byte) (response, error) {
	req, err := newTaskRequest(ctx, method, rawURL)
	if err != nil {
		return response{}, err
	}
	return f.follow(ctx, req, task, into)
}

// getAs is get for a request of kind.
func (f *fetcher) getAs(ctx context.Context, method, rawURL string, kind requestKind, into *[]byte) (response, error) {
	req, err := newRequest(ctx, method, rawURL)
	if err != nil {
		return response{}, err
	}
	return f.follow(ctx, req, kind, into)
}

// getRobots is get for a robots.txt: it never carries the config's
// headers, and its redirects are not checked against robots.txt.
func (f *fetcher) getRobots(ctx context.Context, rawURL string) (response, error) {
	req, err := newRequest(ctx, http.MethodGet, rawURL)
	if err != nil {
		return response{}, err
	}
	return f.follow(ctx, req, robotsTxt, nil)
}

// requestKind says what a request carries and what it is checked against.
type requestKind int

const (
	crawled   requestKind = iota + 1 // a page: headers to header_hosts, every URL checked against robots.txt
	task                             // a task: as a page, and a hop to another host is admitted as its tasks are
	robotsTxt                        // a robots.txt: User-Agent and Accept only, not checked
)

// follow sends req and follows its redirects, as get describes.
func (f *fetcher) follow(ctx context.Context, req *http.Request, kind requestKind, into *[]byte) (response, error) {
	method, u := req.Method, req.URL
	if err := f.check(ctx, u, kind, 0); err != nil {
		return response{}, err
	}
	chain := []*url.URL{u}
	for {
		resp, err := f.send(req, f.headerFor(kind, u))
		if err != nil {
			return response{}, err
		}
		if !isRedirect(resp.StatusCode) {
			r, err := f.read(resp, kind, into)
			r.url, r.hops = u, len(chain)-1
			return r, err
		}
		code := resp.StatusCode
		discard(resp)
		next, err := nextHop(chain, resp.Header.Get("Location"))
		if err != nil {
			return response{}, &attemptError{status: code, err: engine.Permanent(err)}
		}
		if kind == task {
			var probe string
			if ctx, probe, err = f.hopAdmitted(ctx, u, next); err != nil {
				return response{}, &attemptError{status: code, err: err}
			}
			if probe != "" {
				defer f.silent.probed(probe)
			}
		}
		if err := f.check(ctx, next, kind, code); err != nil {
			return response{}, err
		}
		method = redirectMethod(method, code)
		if req, err = newRequest(ctx, method, next.String()); err != nil {
			return response{}, err
		}
		u = req.URL
		chain = append(chain, u)
	}
}

// hopAdmitted admits a task's redirect hop from u to next, on another host,
// as that host's own tasks are (see silences.admit): an unresponsive host's
// refusal, unless the hop is to try it again, whose host key it then
// returns with ctx marked as a probe's (the caller calls probed when the
// task ends). Without it, every hop to a host that stopped answering would
// take a whole timeout, one after another at its cut concurrency.
func (f *fetcher) hopAdmitted(ctx context.Context, u, next *url.URL) (context.Context, string, error) {
	key := hostKey(next)
	if f.silent == nil || key == hostKey(u) {
		return ctx, "", nil
	}
	probe, err := f.silent.admit(key)
	switch {
	case err != nil:
		return ctx, "", sentLast{err} // the attempt sent its first request
	case probe:
		return withProbe(ctx), key, nil
	}
	return withHop(ctx), "", nil
}

// hopKey marks the context of a redirect hop admitted to another host (see
// hopAdmitted): the wire refuses it if that host became unresponsive while
// the hop waited for its permit.
type hopKey struct{}

// withHop marks ctx as a redirect hop's.
func withHop(ctx context.Context) context.Context { return context.WithValue(ctx, hopKey{}, true) }

// isHop reports whether ctx is a redirect hop's.
func isHop(ctx context.Context) bool { return ctx.Value(hopKey{}) != nil }

// newRequest is a request of method to rawURL, without a body; an error is
// a permanent *attemptError.
func newRequest(ctx context.Context, method, rawURL string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return nil, &attemptError{err: engine.Permanent(err)}
	}
	return req, nil
}

// newTaskRequest is newRequest for a task's URL: the same request, made
// from blankRequest rather than by http.NewRequestWithContext, which would
// make a header only for send to replace it (its header is nil until send
// sets it), and with the URL parsed by parsePlainURL where it can.
func newTaskRequest(ctx context.Context, method, rawURL string) (*http.Request, error) {
	u, ok := parsePlainURL(rawURL)
	if !ok {
		var err error
		if u, err = url.Parse(rawURL); err != nil {
			return nil, &attemptError{err: engine.Permanent(err)}
		}
		u.Host = strings.TrimSuffix(u.Host, ":") // an empty port is dropped, as http.NewRequest drops it
	}
	req := blankRequest.WithContext(ctx)
	req.Method, req.URL, req.Host = method, u, u.Host
	return req, nil
}

// blankRequest is a request as http.NewRequest makes one without a body,
// before its method, URL, Host and header: newTaskRequest's template.
var blankRequest = &http.Request{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}

// parsePlainURL is url.Parse for a URL of the shape most tasks' URLs have,
// in a few comparisons instead of url.Parse's unescaping and escaping
// again: http or https, a host of ASCII letters, digits, dots and hyphens
// with an optional port of digits, and a path (possibly empty) of
// unreserved characters and slashes only, without query or fragment. ok is
// false for any other URL.
func parsePlainURL(s string) (u *url.URL, ok bool) {
	var scheme string
	switch {
	case strings.HasPrefix(s, "https://"):
		scheme = "https"
	case strings.HasPrefix(s, "http://"):
		scheme = "http"
	default:
		return nil, false
	}
	rest := s[len(scheme)+len("://"):]
	host, path := rest, ""
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		host, path = rest[:slash], rest[slash:]
	}
	if !plainHost(host) {
		return nil, false
	}
	for i := 0; i < len(path); i++ {
		if !plainPathByte[path[i]] {
			return nil, false
		}
	}
	return &url.URL{Scheme: scheme, Host: host, Path: path}, true
}

// plainHost reports whether h is a host parsePlainURL takes: letters,
// digits, dots and hyphens, then an optional colon and port of digits.
func plainHost(h string) bool {
	i := 0
	for i < len(h) && plainHostByte[h[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	if i == len(h) {
		return true
	}
	if h[i] != ':' || i == len(h)-1 {
		return false
	}
	for i++; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return false
		}
	}
	return true
}

// plainHostByte are the bytes of a host's name plainHost takes.
var plainHostByte = alnumAnd(".-")

// plainPathByte are the bytes of a path parsePlainURL takes: RFC 3986's
// unreserved characters and the slash, which url.Parse keeps as they are
// (no RawPath).
var plainPathByte = alnumAnd("-._~/")

// alnumAnd is the set of ASCII letters and digits and the bytes of extra.
func alnumAnd(extra string) (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for i := 0; i < len(extra); i++ {
		t[extra[i]] = true
	}
	return t
}

// check asks robots.txt whether u may be fetched, for a crawled request when
// robots.txt is obeyed; code is the status of the redirect that led to u, 0
// for the first URL.
func (f *fetcher) check(ctx context.Context, u *url.URL, kind requestKind, code int) error {
	if kind == robotsTxt || f.allowed == nil {
		return nil
	}
	ok, err := f.allowed(ctx, u)
	switch {
	case err != nil:
		return &attemptError{status: code, err: err}
	case ok:
		return nil
	case code == 0:
		return errDisallowed
	}
	return &attemptError{status: code, err: engine.Permanent(errRedirectDisallowed)}
}

// headerFor is the header of a request of kind to u: the config's headers
// only for a crawled request to one of header_hosts.
func (f *fetcher) headerFor(kind requestKind, u *url.URL) http.Header {
	switch {
	case kind == robotsTxt:
		return f.robots
	case f.extra && f.trusted.Trusts(u):
		return f.header
	}
	return f.plain
}

// send sends req with header, which it shares with the other requests of
// its kind: no RoundTripper changes a request's header (http.RoundTripper's
// contract). No Referer is ever sent.
//
// It calls the client's Transport itself, as http.Client.Do would for a
// client that follows no redirects, keeps no cookies and has no timeout of
// its own (the crawl's): credentials in the URL go as Basic authorization
// (unless header has its own Authorization), an error is a *url.Error for
// the URL without its password, and a response without a body gets an
// empty one. Do also copies the header for the redirects it follows, a copy
// per request that the crawl, following redirects itself, does not need.
func (f *fetcher) send(req *http.Request, header http.Header) (*http.Response, error) {
	req.Header = header
	if u := req.URL.User; u != nil && header.Get("Authorization") == "" {
		password, _ := u.Password()
		req.Header = header.Clone()
		req.SetBasicAuth(u.Username(), password)
	}
	resp, err := f.client.Transport.RoundTrip(req)
	if err == nil && resp == nil {
		err = errors.New("http: the transport returned neither a response nor an error")
	}
	if err != nil {
		if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		uerr := &url.Error{Op: urlErrorOp(req.Method), URL: stripPassword(req.URL), Err: err}
		if untrusted(err) {
			return nil, &attemptError{err: engine.Permanent(uerr)}
		}
		return nil, &attemptError{err: uerr}
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	return resp, nil
}

// untrusted reports whether err is a server certificate that failed
// verification (an unknown authority, another host's name, expired): the
// host answered, and no retry will make its certificate trusted. A
// certificate of one's own CA is trusted through SSL_CERT_FILE.
func untrusted(err error) bool {
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

// urlErrorOp is the Op of a request's *url.Error, as http.Client names it:
// "Get" for GET.
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	for i := 0; i < len(method); i++ {
		if method[i] >= utf8.RuneSelf {
			return method
		}
	}
	return method[:1] + strings.ToLower(method[1:])
}

// stripPassword is u with its password, if any, written as ***, as
// http.Client writes the URL of its errors.
func stripPassword(u *url.URL) string {
	if _, set := u.User.Password(); set {
		return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return u.String()
}

// robotsParseLimit is the least of a robots.txt that is read whatever
// max_body says (RFC 9309 section 2.5: at least 500 KiB); a longer one is
// cut there, not refused.
const robotsParseLimit = 500 << 10

// read checks resp's status and reads its body, and closes it (which
// releases the host's permit). A body over max_body fails for good, except
// a robots.txt's, which is cut at the larger of max_body and
// robotsParseLimit. The body is read into into's buffer, when into is not
// nil (see get).
func (f *fetcher) read(resp *http.Response, kind requestKind, into *[]byte) (response, error) {
	defer resp.Body.Close()
	if err := transport.Check(resp); err != nil {
		return response{}, &attemptError{status: resp.StatusCode, err: err}
	}
	maxBody := f.bodyLimit(resp.Request)
	limit := maxBody
	if kind == robotsTxt {
		limit = max(limit, robotsParseLimit)
	}
	var buf []byte
	if into != nil {
		buf = *into
	}
	body, err := readBody(buf, resp.Body, limit+1, resp.ContentLength)
	if into != nil {
		*into = body
	}
	if err != nil {
		return response{}, &attemptError{status: resp.StatusCode, err: fmt.Errorf("read body: %w", err)}
	}
	if int64(len(body)) > limit {
		if kind == robotsTxt {
			return response{status: resp.StatusCode, header: resp.Header, body: body[:limit]}, nil
		}
		return response{}, &attemptError{status: resp.StatusCode,
			err: engine.Permanent(fmt.Errorf("body larger than max_body (%d bytes)", maxBody))}
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// readBody reads r to its end or to most bytes, into buf's space (reused
// from its start; a larger buffer when it is too small) and returns what it
// read. When size is known (a Content-Length) and under most, a buffer of
// size+1 bytes is made if buf is smaller: one byte more than announced, so
// that the end is read without growing it (a body longer than announced
// still is read whole, up to most).
func readBody(buf []byte, r io.Reader, most, size int64) ([]byte, error) {
	b := buf[:0]
	switch {
	case size >= 0 && size < most && int64(cap(b)) <= size:
		b = make([]byte, 0, size+1)
	case cap(b) == 0:
		b = make([]byte, 0, min(most, 512)) // io.ReadAll's first buffer
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := b[len(b):cap(b)]
		if left := most - int64(len(b)); int64(len(room)) > left {
			room = room[:left]
		}
		n, err := r.Read(room)
		b = b[:len(b)+n]
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return b, err
		case int64(len(b)) >= most:
			return b, nil
		}
	}
}

// bodyLimit is max_body for the request's host: its own under hosts, or
// limits.max_body.
func (f *fetcher) bodyLimit(req *http.Request) int64 {
	if len(f.hosts) == 0 || req == nil || req.URL == nil {
		return f.maxBody
	}
	if n, ok := f.hosts[transport.HostKey(req)]; ok {
		return n
	}
	if n, ok := f.hosts[strings.TrimSuffix(strings.ToLower(req.URL.Hostname()), ".")]; ok {
		return n
	}
	return f.maxBody
}

// discard reads a little of a redirect's body, so that its connection can
// be reused, and closes it, which releases the host's permit before the
// next hop asks for one.
func discard(resp *http.Response) {
	const most = 4 << 10
	_, _ = io.CopyN(io.Discard, resp.Body, most)
	_ = resp.Body.Close()
}

// decodeJSON decodes a body, keeping numbers exact (json.Number) so that
// large IDs insert into templates unchanged. A malformed body is a retryable
// error: a body cut short by a failing server may come whole next time.
func decodeJSON(r response) (any, error) {
	v, _, err := decodePage(r, nil)
	return v, err
}

// decodePage is decodeJSON with a listing page's items as k says (see
// decodeCheckedPage), and the text of the items' array when k is not nil.
func decodePage(r response, k *itemKeys) (any, []byte, error) {
	if v, items, ok := decodeCheckedPage(r.body, k); ok {
		return v, items, nil
	}
	v, err := decodeJSONWithDecoder(r)
	return v, nil, err
}

// decodeJSONWithDecoder is decodeJSON through encoding/json's Decoder, for
// a body that is not valid JSON: its error says where the body is malformed
// (and a body that is one value followed by a closing bracket decodes, as
// the Decoder's More allows).
func decodeJSONWithDecoder(r response) (any, error) {
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

// rawJSON checks a task's body and returns it for the output line, with
// each invalid UTF-8 byte and each lone surrogate escape replaced by U+FFFD
// (as decoding a listing's items does), and how many were; an empty body
// (HEAD, 204) is null. plain says that the body is already as the line
// writes it (see scanJSON): it is then returned without the whitespace
// around it, with nothing to replace.
func rawJSON(r response) (data json.RawMessage, plain bool, replaced int, err error) {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return json.RawMessage("null"), true, 0, nil
	}
	value, plain, ok := scanJSON(r.body)
	if !ok {
		_, err := decodeJSON(r) // for the parser's message
		if err == nil {
			err = &attemptError{status: r.status, err: errors.New("malformed JSON body")}
		}
		return nil, false, 0, err
	}
	if plain {
		return json.RawMessage(value), true, 0, nil
	}
	body, n := replaceInvalidUTF8(r.body, utf8.RuneError)
	body, lone := replaceLoneSurrogates(body)
	return json.RawMessage(body), false, n + lone, nil
}
