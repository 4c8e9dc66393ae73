package crawl

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimalYAML is the smallest valid config; cases append to it from line 7.
const minimalYAML = `user_agent: test/1.0
source:
  url: http://127.0.0.1:8080/items
  pagination:
    style: link
output: out.jsonl
`

func testEnv(name string) (string, bool) {
	v, ok := map[string]string{"API_TOKEN": "tok-SECRET-123", "EMPTY": "", "NL": "a\r\nEvil: 1"}[name]
	return v, ok
}

func parseTest(data string) (*Config, error) {
	return Parse("api.yaml", []byte(data), WithLookupEnv(testEnv))
}

func TestParseRejectsBadConfigNamingFileLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // the whole error text
	}{
		{"typo in a nested key", minimalYAML + "limits:\n  rate: 5\n  concurency: {max: 8}\n",
			`api.yaml:9: limits.concurency: unknown key (did you mean "concurrency"?)`},
		{"typo at top level", minimalYAML + "user_agnet: x\n",
			`api.yaml:7: user_agnet: unknown key (did you mean "user_agent"?)`},
		{"key in the wrong case", minimalYAML + "Output: x\n",
			`api.yaml:7: Output: unknown key (did you mean "output"?)`},
		{"unknown key unlike any", minimalYAML + "limits:\n  zzzzzz: 1\n",
			`api.yaml:8: limits.zzzzzz: unknown key (known keys: rate, burst, concurrency, timeout, retries, backoff, max_body, unresponsive_after, unresponsive_runs)`},
		{"key in the wrong section", minimalYAML + "rate: 5\n",
			`api.yaml:7: rate: unknown key (it belongs under limits)`},
		{"key in the wrong nested section", minimalYAML + "limits:\n  robots: false\n",
			`api.yaml:8: limits.robots: unknown key (it belongs under politeness)`},
		{"key that belongs in two places", minimalYAML + "politeness:\n  max: 3\n",
			`api.yaml:8: politeness.max: unknown key (it belongs under limits.concurrency or limits.backoff)`},
		{"top-level key nested", minimalYAML + "limits:\n  user_agent: x\n",
			`api.yaml:8: limits.user_agent: unknown key (it belongs under the top level)`},
		{"unknown key in a flow mapping", minimalYAML + "limits:\n  backoff: {base: 1s, mx: 2s}\n",
			`api.yaml:8: limits.backoff.mx: unknown key (did you mean "max"?)`},
		{"typo in a pagination key", strings.Replace(minimalYAML, "style: link", "style: cursor\n    cursor_feild: next", 1),
			`api.yaml:6: source.pagination.cursor_feild: unknown key (did you mean "cursor_field"?)`},
		{"typo in a task key", minimalYAML + "task:\n  uri: /x/{id}\n",
			`api.yaml:8: task.uri: unknown key (did you mean "url"?)`},
		{"unknown style", strings.Replace(minimalYAML, "style: link", "style: pages", 1),
			`api.yaml:5: source.pagination.style: "pages" is not one of link|page|cursor|next_url|offset|none`},
		{"missing user_agent", strings.Replace(minimalYAML, "user_agent: test/1.0\n", "", 1),
			`api.yaml: user_agent: required: polite crawlers identify themselves (e.g. "acme-sync/1.2 (+mailto:ops@acme.example)")`},
		{"missing source", "user_agent: x\noutput: o.jsonl\n",
			`api.yaml: source: required: the paginated listing (url, pagination, items_field)`},
		{"missing source.url", "user_agent: x\nsource:\n  pagination: {style: none}\n",
			`api.yaml:2: source.url: required: the absolute http(s) URL of the first page`},
		{"missing pagination", "user_agent: x\nsource:\n  url: http://h/\n",
			`api.yaml:2: source.pagination: required: how to reach the next page (style: link|page|cursor|next_url|offset|none)`},
		{"missing style", "user_agent: x\nsource:\n  url: http://h/\n  pagination:\n    max_pages: 3\n",
			`api.yaml:4: source.pagination.style: required (one of link|page|cursor|next_url|offset|none)`},
		{"cursor without cursor_field", strings.Replace(minimalYAML, "style: link", "style: cursor", 1),
			`api.yaml:4: source.pagination.cursor_field: required by style cursor: where the next cursor is in the JSON body`},
		{"next_url without next_field", strings.Replace(minimalYAML, "style: link", "style: next_url", 1),
			`api.yaml:4: source.pagination.next_field: required by style next_url: where the next page's URL is in the JSON body`},
		{"string where a number goes", minimalYAML + "limits:\n  burst: ten\n",
			`api.yaml:8: limits.burst: want a whole number, got "ten"`},
		{"fraction where a whole number goes", minimalYAML + "limits:\n  retries: 1.5\n",
			`api.yaml:8: limits.retries: want a whole number, got the number 1.5`},
		{"list where a mapping goes", minimalYAML + "limits:\n  concurrency: [1, 2]\n",
			`api.yaml:8: limits.concurrency: want a mapping with keys algorithm, initial, min, max, max_total, got a list`},
		{"scalar where a mapping goes", "user_agent: x\nsource: http://h/\n",
			`api.yaml:2: source: want a mapping with keys url, pagination, items_field, got "http://h/"`},
		{"mapping where a string goes", minimalYAML + "state: {dir: x}\n",
			`api.yaml:7: state: want a string, got a mapping`},
		{"not a boolean", minimalYAML + "politeness:\n  robots: maybe\n",
			`api.yaml:8: politeness.robots: want true or false, got "maybe"`},
		{"mapping where a duration goes", minimalYAML + "limits:\n  timeout: {s: 1}\n",
			`api.yaml:8: limits.timeout: want a duration such as 250ms, 10s or 5m, got a mapping`},
		{"duration without unit", minimalYAML + "limits:\n  timeout: 10\n",
			`api.yaml:8: limits.timeout: "10" is not a duration (Go syntax: 250ms, 10s, 5m, 1h30m)`},
		{"bad duration", minimalYAML + "limits:\n  backoff: {base: 1 sec}\n",
			`api.yaml:8: limits.backoff.base: "1 sec" is not a duration (Go syntax: 250ms, 10s, 5m, 1h30m)`},
		{"negative duration", minimalYAML + "politeness:\n  retry_after_max: -1s\n",
			`api.yaml:8: politeness.retry_after_max: must be positive, got -1s`},
		{"zero timeout", minimalYAML + "limits:\n  timeout: 0s\n",
			`api.yaml:8: limits.timeout: must be positive, got 0s`},
		{"backoff max below base", minimalYAML + "limits:\n  backoff: {base: 2s, max: 1s}\n",
			`api.yaml:8: limits.backoff.max: 1s is less than limits.backoff.base (2s)`},
		{"decimal size unit", minimalYAML + "limits:\n  max_body: 10MB\n",
			`api.yaml:8: limits.max_body: "10MB": unknown unit "MB" (use B, KiB, MiB or GiB; 1 KiB = 1024 bytes)`},
		{"size without number", minimalYAML + "limits:\n  max_body: lots\n",
			`api.yaml:8: limits.max_body: "lots" is not a size (a whole number of bytes, or with KiB, MiB or GiB: 512KiB, 10MiB)`},
		{"negative size", minimalYAML + "limits:\n  max_body: -5\n",
			`api.yaml:8: limits.max_body: "-5": must be positive`},
		{"zero size", minimalYAML + "limits:\n  max_body: 0KiB\n",
			`api.yaml:8: limits.max_body: "0KiB": must be positive`},
		{"size overflow", minimalYAML + "limits:\n  max_body: 99999999999999GiB\n",
			`api.yaml:8: limits.max_body: "99999999999999GiB": too large`},
		{"negative retries", minimalYAML + "limits:\n  retries: -1\n",
			`api.yaml:8: limits.retries: must not be negative, got -1`},
		{"negative unresponsive_after", minimalYAML + "limits:\n  unresponsive_after: -1\n",
			`api.yaml:8: limits.unresponsive_after: must not be negative, got -1`},
		{"negative unresponsive_runs", minimalYAML + "limits:\n  unresponsive_runs: -1\n",
			`api.yaml:8: limits.unresponsive_runs: must not be negative, got -1`},
		{"negative max_pages", strings.Replace(minimalYAML, "style: link", "style: link\n    max_pages: -2", 1),
			`api.yaml:6: source.pagination.max_pages: must not be negative, got -2`},
		{"negative start", strings.Replace(minimalYAML, "style: link", "style: page\n    start: -1", 1),
			`api.yaml:6: source.pagination.start: must not be negative, got -1`},
		{"negative rate", minimalYAML + "limits:\n  rate: -3\n",
			`api.yaml:8: limits.rate: must be a number of requests per second >= 0 (0 = no ceiling), got -3`},
		{"infinite rate", minimalYAML + "limits:\n  rate: .inf\n",
			`api.yaml:8: limits.rate: must be a number of requests per second >= 0 (0 = no ceiling), got +Inf`},
		{"zero burst with a rate", minimalYAML + "limits:\n  rate: 5\n  burst: 0\n",
			`api.yaml:9: limits.burst: must be at least 1 when limits.rate is set (a bucket of 0 never lets a request through)`},
		{"min above max", minimalYAML + "limits:\n  concurrency:\n    min: 10\n    max: 5\n",
			`api.yaml:10: limits.concurrency.max: 5 is less than min (10)`},
		{"min above default max", minimalYAML + "limits:\n  concurrency:\n    min: 300\n",
			`api.yaml:9: limits.concurrency.min: 300 is above the default max of 256 (set max too)`},
		{"min zero", minimalYAML + "limits:\n  concurrency: {min: 0}\n",
			`api.yaml:8: limits.concurrency.min: must be at least 1, got 0`},
		{"max zero", minimalYAML + "limits:\n  concurrency: {max: 0}\n",
			`api.yaml:8: limits.concurrency.max: must be at least 1, got 0`},
		{"initial above max", minimalYAML + "limits:\n  concurrency: {initial: 50, max: 20}\n",
			`api.yaml:8: limits.concurrency.initial: 50 is outside [min, max] = [1, 20]`},
		{"initial below min", minimalYAML + "limits:\n  concurrency:\n    min: 4\n    initial: 2\n",
			`api.yaml:10: limits.concurrency.initial: 2 is outside [min, max] = [4, 256]`},
		{"unknown algorithm", minimalYAML + "limits:\n  concurrency:\n    algorithm: bbr\n",
			`api.yaml:9: limits.concurrency.algorithm: "bbr" is not one of auto|aimd|gradient2|vegas|fixed`},
		{"relative source url", strings.Replace(minimalYAML, "http://127.0.0.1:8080/items", "/items", 1),
			`api.yaml:3: source.url: "/items" is not an absolute http or https URL`},
		{"ftp source url", strings.Replace(minimalYAML, "http://127.0.0.1:8080/items", "ftp://h/items", 1),
			`api.yaml:3: source.url: "ftp://h/items" is not an absolute http or https URL`},
		{"source url without a scheme", strings.Replace(minimalYAML, "http://127.0.0.1:8080/items", "127.0.0.1:8080/items", 1),
			`api.yaml:3: source.url: not an absolute http or https URL: it has no scheme; write "http://" or "https://" before the host`},
		{"source url without a scheme, host:port", strings.Replace(minimalYAML, "http://127.0.0.1:8080/items", "localhost:8080/items", 1),
			`api.yaml:3: source.url: "localhost:8080/items" is not an absolute http or https URL: it has no scheme; write "http://" or "https://" before the host`},
		{"source url without a scheme, bare host", strings.Replace(minimalYAML, "http://127.0.0.1:8080/items", "example.com/items", 1),
			`api.yaml:3: source.url: "example.com/items" is not an absolute http or https URL: it has no scheme; write "http://" or "https://" before the host`},
		{"unparsable source url", strings.Replace(minimalYAML, "http://127.0.0.1:8080/items", `"http://h/%zz"`, 1),
			`api.yaml:3: source.url: not a URL: invalid URL escape "%zz"`},
		{"bad items_field", minimalYAML[:len(minimalYAML)-len("output: out.jsonl\n")] + "  items_field: data..items\n",
			`api.yaml:6: source.items_field: dot path "data..items": empty name at column 6 (names are separated by single dots)`},
		{"empty task", minimalYAML + "task:\n",
			`api.yaml:7: task.url: required: task is given but empty (leave task out to output the items themselves)`},
		{"task without url", minimalYAML + "task:\n  method: GET\n",
			`api.yaml:7: task.url: required: the URL template of an item's request (e.g. "{+detail_path}" or "/items/{id}")`},
		{"unclosed template", minimalYAML + "task:\n  url: /items/{id\n",
			`api.yaml:8: task.url: template "/items/{id": column 8: "{" is not closed by "}"`},
		{"unsupported template operator", minimalYAML + "task:\n  url: /items{?id}\n",
			`api.yaml:8: task.url: template "/items{?id}": column 8: operator '?' is not supported (want {name} or {+name})`},
		{"template with another scheme", minimalYAML + "task:\n  url: ftp://files/{id}\n",
			`api.yaml:8: task.url: template "ftp://files/{id}": scheme "ftp" is not http or https`},
		{"blank user_agent", strings.Replace(minimalYAML, "test/1.0", `"  "`, 1),
			`api.yaml:1: user_agent: required: polite crawlers identify themselves (e.g. "acme-sync/1.2 (+mailto:ops@acme.example)")`},
		{"bad method", minimalYAML + "task:\n  url: /items/{id}\n  method: FETCH\n",
			`api.yaml:9: task.method: "FETCH" is not one of GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS`},
		{"missing variable", minimalYAML + "headers:\n  Authorization: Bearer ${NO_SUCH_TOKEN}\n",
			`api.yaml:8: headers.Authorization: environment variable NO_SUCH_TOKEN is not set`},
		{"unclosed variable", minimalYAML + "headers:\n  X-Key: abc${API_TOKEN\n",
			`api.yaml:8: headers.X-Key: "${" at byte 4 of the value is not closed by "}"`},
		{"bad variable name", minimalYAML + "headers:\n  X-Key: ${API-TOKEN}\n",
			`api.yaml:8: headers.X-Key: "${" at byte 1 of the value: want a variable name of letters, digits and _`},
		{"control character after expansion", minimalYAML + "headers:\n  X-Key: ${NL}\n",
			`api.yaml:8: headers.X-Key: the value holds a control character (after ${NAME} expansion)`},
		{"bad header name", minimalYAML + "headers:\n  \"X Key\": v\n",
			`api.yaml:8: headers.X Key: not a valid header name (letters, digits and !#$%&'*+-.^_` + "`" + `|~)`},
		{"header twice in another case", minimalYAML + "headers:\n  X-Key: a\n  x-key: b\n",
			`api.yaml:9: headers.x-key: given twice (header names ignore case)`},
		{"user agent as a header", minimalYAML + "headers:\n  user-agent: a\n",
			`api.yaml:8: headers.user-agent: set user_agent instead`},
		{"host header", minimalYAML + "headers:\n  Host: example.com\n",
			`api.yaml:8: headers.Host: set by the HTTP client, cannot be configured`},
		{"header value of the wrong type", minimalYAML + "headers:\n  X-Key: [a, b]\n",
			`api.yaml:8: headers.X-Key: want a string, got a list`},
		{"list as a key", minimalYAML + "headers: {[a]: b}\n",
			`api.yaml:7: headers: keys must be plain names, not a list`},
		{"wrong type in a merged mapping", minimalYAML + "limits:\n  <<: [{retries: x}]\n",
			`api.yaml:8: limits.retries: want a whole number, got "x"`},
		{"duplicate key", minimalYAML + "output: again.jsonl\n",
			`api.yaml:7: output: given twice (first at line 6)`},
		{"multi-document file", minimalYAML + "---\nuser_agent: y\n",
			`api.yaml:7: a second YAML document ("---"): a config file holds exactly one`},
		{"empty file", "", `api.yaml: empty file (want a YAML mapping with user_agent, source and output)`},
		{"comments only", "# nothing here\n", `api.yaml: empty file (want a YAML mapping with user_agent, source and output)`},
		{"null document", "~\n", `api.yaml:1: empty document (want a YAML mapping with user_agent, source and output)`},
		{"list document", "- a\n- b\n", `api.yaml:1: the top level must be a mapping of keys (user_agent: …, source: …), not a list`},
		{"syntax error", "user_agent: x\nsource: [\n", `api.yaml:2: did not find expected node content`},
		{"tab indentation", "user_agent: x\nsource:\n\turl: y\n", `api.yaml:3: found character that cannot start any token`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseTest(tt.yaml)
			require.Error(t, err)
			assert.Nil(t, cfg)
			assert.Equal(t, tt.want, err.Error())
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want a *ConfigError, got %T", err)
			assert.Equal(t, "api.yaml", ce.File)
			assert.NotContains(t, err.Error(), "crawl.raw", "Go type names must not leak")
		})
	}
}

func TestParseReportsEveryDecodeErrorInOneGo(t *testing.T) {
	_, err := parseTest(minimalYAML + "limits:\n  burst: x\n  retrys: 3\n")
	require.Error(t, err)
	assert.Equal(t, "api.yaml:8: limits.burst: want a whole number, got \"x\"\n"+
		"api.yaml:9: limits.retrys: unknown key (did you mean \"retries\"?)", err.Error())
}

func TestParseReportsEveryValidationErrorInOneGo(t *testing.T) {
	_, err := parseTest("source:\n  url: /x\n  pagination: {style: cursor}\n")
	require.Error(t, err)
	assert.Equal(t, "api.yaml: user_agent: required: polite crawlers identify themselves (e.g. \"acme-sync/1.2 (+mailto:ops@acme.example)\")\n"+
		"api.yaml:2: source.url: \"/x\" is not an absolute http or https URL\n"+
		"api.yaml:3: source.pagination.cursor_field: required by style cursor: where the next cursor is in the JSON body", err.Error())
}

func TestParseCapsTheNumberOfReportedErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimalYAML)
	for i := range maxReported + 5 {
		b.WriteString("bogus" + strings.Repeat("x", i) + ": 1\n")
	}
	_, err := parseTest(b.String())
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Len(t, lines, maxReported+1)
	assert.Equal(t, "api.yaml: … and 5 more errors", lines[maxReported])
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	tests := []struct{ name, yaml, secret string }{
		{"password in source url", strings.Replace(minimalYAML, "http://127.0.0.1", "http://me:hunter2@127.0.0.1", 1), "hunter2"},
		{"password in a bad source url", strings.Replace(minimalYAML, "http://127.0.0.1:8080/items", "\"http://me:hunter2@h/%zz\"", 1), "hunter2"},
		{"header value of a wrong type", minimalYAML + "headers:\n  X-Key: {hunter2: 1}\n", "hunter2"},
		{"header with a bad name", minimalYAML + "headers:\n  \"X Key\": hunter2\n", "hunter2"},
		{"expanded value with a newline", minimalYAML + "headers:\n  X-Key: ${NL}\n", "Evil"},
		{"malformed variable", minimalYAML + "headers:\n  X-Key: ${hunter2\n", "hunter2"},
		{"other header broken", minimalYAML + "headers:\n  Authorization: Bearer ${API_TOKEN}\n  X-B: ${MISSING}\n", "tok-SECRET-123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTest(tt.yaml)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), tt.secret)
		})
	}
}

func TestLoadNamesTheFileItCannotRead(t *testing.T) {
	_, err := Load("testdata/no-such-file.yaml")
	require.Error(t, err)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "testdata/no-such-file.yaml: cannot read: no such file or directory", err.Error())
}

func TestTranslateHidesGoTypesInMessagesItDoesNotKnow(t *testing.T) {
	idx := &nodeIndex{byPath: map[string]int{}}
	ce := idx.translate("api.yaml", "line 4: field retries already set in type crawl.rawLimits")
	assert.Equal(t, "api.yaml:4: field retries already set", ce.Error())
}
