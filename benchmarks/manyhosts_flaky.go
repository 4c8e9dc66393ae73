package benchmarks

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"
)

// flakyFailed counts the flaky hosts' items in the crawl's failed file, by
// why they failed.
type flakyFailed struct {
	Attempts     int // every attempt failed (each of them hung): a patient crawl fails these too
	Unresponsive int // failed as the crawl held the host to be unresponsive
}

// errUnresponsivePrefix starts the error of a failed line whose item was not
// sent because its host was held to be unresponsive.
const errUnresponsivePrefix = "host unresponsive"

// countFlakyFailed reads the failed file at path and counts the lines of
// the flaky hosts among hosts (host:port, whose roles are roles).
func countFlakyFailed(path string, hosts, roles []string) (flakyFailed, error) {
	var n flakyFailed
	flaky := map[string]bool{}
	for i, role := range roles {
		if role == RoleFlaky {
			flaky[hosts[i]] = true
		}
	}
	if len(flaky) == 0 {
		return n, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("benchmarks: %s: %w", ManyHostsName, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			URL   string `json:"url"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return n, fmt.Errorf("benchmarks: %s: failed file %s: %w", ManyHostsName, path, err)
		}
		u, err := url.Parse(line.URL)
		if err != nil || !flaky[u.Host] {
			continue
		}
		if strings.HasPrefix(line.Error, errUnresponsivePrefix) {
			n.Unresponsive++
		} else {
			n.Attempts++
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("benchmarks: %s: failed file %s: %w", ManyHostsName, path, err)
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
