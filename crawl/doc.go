// Package crawl runs a config-driven polite crawl of an HTTP API.
//
// The contract (config keys, output and failed lines, summary fields, exit
// codes) is the crawl-config spec. This part of the package reads the YAML
// config strictly (Load, Parse), expands task URL templates (ParseTemplate)
// and finds values in decoded JSON bodies (ParseDotPath). It does no I/O
// beyond Load reading its file.
package crawl
