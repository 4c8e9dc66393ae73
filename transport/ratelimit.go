package transport

import (
	"errors"
	"fmt"
	"time"
)

// Policy is one quota policy of a RateLimit-Policy header
// (draft-ietf-httpapi-ratelimit-headers): Quota units per Window.
type Policy struct {
	Name   string        // the policy's identifier; "" in the older unnamed form "10;w=1"
	Quota  int64         // units allowed per window (the q parameter, or the bare integer)
	Window time.Duration // the w parameter; 0 when the server did not say
}

// ServiceLimit is one member of a RateLimit header: what remains of a
// policy's quota and when it refills.
type ServiceLimit struct {
	Policy    string        // the policy this applies to, "" in the older dictionary form
	Limit     int64         // the quota, 0 when unknown (only the older dictionary form carries it)
	Remaining int64         // the r parameter: units left in the window
	Reset     time.Duration // the t parameter: delay until the window resets
	HasReset  bool          // false when the server gave no reset (t is optional)
}

var errNoQuota = errors.New("parameter q (quota) missing")

// ParsePolicies parses a RateLimit-Policy value: a structured-field list
// such as `"default";q=100;w=60, "daily";q=1000;w=86400`. The older form
// `10;w=1, 50;w=60` (an integer quota, unnamed) is accepted too. Integers
// have at most 15 digits, as RFC 8941 requires, so huge values are errors;
// windows above a century are capped at a century. Any malformed member makes
// the whole field an error, and the error never repeats the value.
func ParsePolicies(value string) ([]Policy, error) {
	items, err := parseSFList(value)
	if err != nil {
		return nil, err
	}
	out := make([]Policy, 0, len(items))
	for i, it := range items {
		p, err := policyOf(it)
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", i+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func policyOf(it sfItem) (Policy, error) {
	if it.key != "" {
		return Policy{}, errors.New("a policy is a name or a quota, not key=value")
	}
	var p Policy
	if it.isNum {
		p.Quota = it.num
	} else {
		p.Name = it.str
		q, ok := it.param("q")
		if !ok {
			return Policy{}, errNoQuota
		}
		if !q.isNum {
			return Policy{}, errors.New("parameter q: not an integer")
		}
		p.Quota = q.num
	}
	if p.Quota < 0 {
		return Policy{}, errors.New("quota: negative")
	}
	if w, ok := it.param("w"); ok {
		d, err := paramSeconds(w, "w")
		if err != nil {
			return Policy{}, err
		}
		if d == 0 {
			return Policy{}, errors.New("parameter w: a window of zero seconds")
		}
		p.Window = d
	}
	return p, nil
}

// ParseRateLimit parses a RateLimit value: a structured-field list such as
// `"default";r=50;t=30` (r remaining, t seconds to reset, optional). The
// dictionary form of older drafts, `limit=100, remaining=50, reset=5`, is
// accepted too and yields one ServiceLimit. Errors never repeat the value.
func ParseRateLimit(value string) ([]ServiceLimit, error) {
	items, err := parseSFList(value)
	if err != nil {
		return nil, err
	}
	if items[0].key != "" {
		return dictionaryLimit(items)
	}
	out := make([]ServiceLimit, 0, len(items))
	for i, it := range items {
		sl, err := serviceLimitOf(it)
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", i+1, err)
		}
		out = append(out, sl)
	}
	return out, nil
}

func serviceLimitOf(it sfItem) (ServiceLimit, error) {
	if it.key != "" || it.isNum {
		return ServiceLimit{}, errors.New("a limit is a policy name with parameters")
	}
	sl := ServiceLimit{Policy: it.str}
	r, ok := it.param("r")
	if !ok {
		return ServiceLimit{}, errors.New("parameter r (remaining) missing")
	}
	if !r.isNum || r.num < 0 {
		return ServiceLimit{}, errors.New("parameter r: not a non-negative integer")
	}
	sl.Remaining = r.num
	if t, ok := it.param("t"); ok {
		d, err := paramSeconds(t, "t")
		if err != nil {
			return ServiceLimit{}, err
		}
		sl.Reset, sl.HasReset = d, true
	}
	return sl, nil
}

// dictionaryLimit reads the older form `limit=100, remaining=50, reset=5`.
func dictionaryLimit(items []sfItem) ([]ServiceLimit, error) {
	var sl ServiceLimit
	seen := false
	for i, it := range items {
		if it.key == "" || !it.isNum || it.num < 0 {
			return nil, fmt.Errorf("member %d: not key=non-negative-integer", i+1)
		}
		switch it.key {
		case "limit":
			sl.Limit = it.num
		case "remaining":
			sl.Remaining, seen = it.num, true
		case "reset":
			sl.Reset, sl.HasReset = capSeconds(it.num), true
		}
	}
	if !seen {
		return nil, errors.New("key remaining missing")
	}
	return []ServiceLimit{sl}, nil
}

func paramSeconds(p sfParam, name string) (time.Duration, error) {
	if !p.isNum || p.num < 0 {
		return 0, fmt.Errorf("parameter %s: not a non-negative integer", name)
	}
	return capSeconds(p.num), nil
}

func capSeconds(n int64) time.Duration {
	if n >= int64(maxDelay/time.Second) {
		return maxDelay
	}
	return time.Duration(n) * time.Second
}
