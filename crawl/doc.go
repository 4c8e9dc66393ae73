// Package crawl runs a config-driven polite crawl of an HTTP API.
//
// The contract (config keys, output and failed lines, summary fields, exit
// codes) is the crawl-config spec. Load and Parse read a YAML config
// strictly into a Config (an unknown key or a bad value is a *ConfigError
// naming the file, line and key); Run crawls it: it pages through the
// listing, requests each item's task through one limiter and one transport
// shared by every request (robots.txt and listing pages included; a
// listing whose announced quota the items' answers show is not theirs is
// paced by it alone), writes
// the output and failed files as JSON Lines, keeps its progress in a state
// directory when asked so that a crawl resumes after a crash, reports
// progress and Prometheus metrics, and returns a Summary. ParseTemplate and
// ParseDotPath are the config's task URL templates and body paths on their
// own.
package crawl
