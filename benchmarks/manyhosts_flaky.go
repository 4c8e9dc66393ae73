package benchmarks

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// failedByWhy counts the items of the hosts of a role in the crawl's failed
// file, by why they failed.
type failedByWhy struct {
	Attempts     int // every attempt failed (at a flaky host each of them hung: a patient crawl fails these too)
	Unresponsive int // failed as the crawl held the host to be unresponsive
	Disallowed   int // failed as robots.txt disallowed them (an unreachable robots.txt does)
}

// errUnresponsivePrefix starts the error of a failed line whose item was not
// sent because its host was held to be unresponsive.
const errUnresponsivePrefix = "host unresponsive"

// errDisallowed is the error of a failed line whose item robots.txt
// disallows.
const errDisallowed = "disallowed by robots.txt"

// countFailed reads the failed file at path and counts the lines of the
// hosts of role among hosts (host:port, whose roles are roles).
func countFailed(path string, hosts, roles []string, role string) (failedByWhy, error) {
	var n failedByWhy
	of := map[string]bool{}
	for i, r := range roles {
		if r == role {
			of[hosts[i]] = true
		}
	}
	if len(of) == 0 {
		return n, nil
	}
	err := eachLine(path, true, func(line struct {
		URL   string `json:"url"`
		Error string `json:"error"`
	}) {
		u, err := url.Parse(line.URL)
		switch {
		case err != nil || !of[u.Host]:
		case strings.HasPrefix(line.Error, errUnresponsivePrefix):
			n.Unresponsive++
		case line.Error == errDisallowed:
			n.Disallowed++
		default:
			n.Attempts++
		}
	})
	if err != nil {
		return n, fmt.Errorf("benchmarks: %s: failed file: %w", ManyHostsName, err)
	}
	return n, nil
}

// countWritten reads the crawl's output file at path and counts, per host
// (host:port), the distinct URLs of its lines: the items the crawl wrote. An
// answer the bench's transport saw read to its end may still be refused by
// the crawl (a 200 whose JSON is cut short) and retried.
func countWritten(path string) (map[string]int, error) {
	seen := map[string]bool{}
	n := map[string]int{}
	err := eachLine(path, true, func(line urlLine) {
		u, err := url.Parse(line.URL)
		if err != nil || seen[line.URL] {
			return
		}
		seen[line.URL] = true
		n[u.Host]++
	})
	if err != nil {
		return nil, fmt.Errorf("benchmarks: %s: output file: %w", ManyHostsName, err)
	}
	return n, nil
}

// flakySerial bounds the time n flaky hosts of items each take when the
// crawl sends them one request at a time: hang of every attempt hangs until
// timeout, and each is retried after up to a second of backoff.
func flakySerial(n, items int, hang float64, timeout time.Duration) time.Duration {
	if n == 0 {
		return 0
	}
	attempts := float64(items) / (1 - hang)
	return 2 * time.Duration(attempts*hang*float64(timeout+time.Second))
}
