package transport

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxDelay bounds every delay read from a header, so that adding it to a time
// can never overflow. The limiter caps gates much lower (RetryAfterMax).
const maxDelay = 100 * 365 * 24 * time.Hour

var (
	errEmpty          = errors.New("empty value")
	errNegative       = errors.New("negative delay")
	errNotRetryAfter  = errors.New("neither delta-seconds nor an HTTP-date")
	errNotNonNegative = errors.New("not a non-negative number")
	errNotDuration    = errors.New("neither a duration, a number nor a date")
)

// ParseRetryAfter parses a Retry-After value (RFC 9110 section 10.2.3) and
// returns when the server allows the next request: now plus the
// delta-seconds, or the HTTP-date as it stands (possibly in the past, which
// callers ignore). It also accepts a fractional delta ("1.5", kept to the
// millisecond and rounded up), which some servers send. Delays above a
// century are capped at a century, so the arithmetic never overflows; the
// limiter caps gates far lower. A negative, empty or unparsable value is an
// error that describes the problem without repeating the value.
func ParseRetryAfter(value string, now time.Time) (time.Time, error) {
	value = strings.TrimSpace(value)
	switch {
	case value == "":
		return time.Time{}, errEmpty
	case value[0] == '-' && len(value) > 1 && isDigit(value[1]):
		return time.Time{}, errNegative
	case isDigit(value[0]):
		d, err := parseSeconds(value)
		if err != nil {
			return time.Time{}, errNotRetryAfter
		}
		return now.Add(d), nil
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return time.Time{}, errNotRetryAfter
	}
	return t, nil
}

// parseSeconds parses a non-negative decimal number of seconds with up to
// three fraction digits used (more are rounded up), capped at maxDelay.
func parseSeconds(s string) (time.Duration, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (hasFrac && (frac == "" || !allDigits(frac))) {
		return 0, errNotNonNegative
	}
	whole = strings.TrimLeft(whole, "0")
	maxSecs := int64(maxDelay / time.Second)
	if len(whole) > 18 { // beyond any int64 of seconds we accept
		return maxDelay, nil
	}
	secs, _ := strconv.ParseInt("0"+whole, 10, 64) // at most 18 digits: fits
	if secs >= maxSecs {
		return maxDelay, nil
	}
	d := time.Duration(secs) * time.Second
	if hasFrac {
		ms := 0
		for i := range 3 {
			ms *= 10
			if i < len(frac) {
				ms += int(frac[i] - '0')
			}
		}
		if len(frac) > 3 && strings.Trim(frac[3:], "0") != "" {
			ms++ // round up: waiting a little longer is the polite error
		}
		d += time.Duration(ms) * time.Millisecond
	}
	return d, nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
