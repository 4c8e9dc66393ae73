package crawl

import (
	"fmt"
	"strconv"
	"strings"
)

// ConfigError is a bad config: the CLI maps it to exit code 2. Its text is
// "file:line: key: message", without line or key when there is none, e.g.
//
//	api.yaml:7: limits.concurency: unknown key (did you mean "concurrency"?)
//	api.yaml: user_agent: required
type ConfigError struct {
	File string // the config's name as given to Load or Parse
	Line int    // 1-based line of the key; 0 when the key is not in the file
	Key  string // dotted key path, e.g. "limits.backoff.base"; "" for a file-level error
	Msg  string // what is wrong; never contains a header value
	Err  error  // the underlying error, if any (e.g. from reading the file)
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.File == "" {
		b.WriteString("config")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(printableKey(e.Key))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// printableKey quotes a key holding control characters (a quoted YAML key
// may), so an error stays one line.
func printableKey(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] < ' ' || key[i] == 0x7f {
			return strconv.Quote(key)
		}
	}
	return key
}

// suggest returns the known key closest to key, if it is close enough to be
// a typo: same letters in another case, or at most a third of it (at least
// one letter) edited.
func suggest(key string, known []string) (string, bool) {
	best, bestD := "", max(1, len(key)/3)+1
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return k, true
		}
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best, best != ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
