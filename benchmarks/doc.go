// Package benchmarks measures politely's strategies side by side against the same mock API servers.
//
// It works in stages with one data format between them, as vegeta does: Run
// (or RunOne) runs each Strategy in each Scenario of a Suite against a fresh
// mockapi server on 127.0.0.1 and returns a Result per run: counts from the
// server's ground truth, latency quantiles and a time series sampled every
// SampleInterval. NewReport gathers the results; its methods check the
// Targets and write the markdown report, the plots (WritePlot draws any
// time series) and the results as JSON.
//
// The strategies run the real client stack: the engine's consumers follow
// the limiter's limit and fetch each item through a transport over the
// limiter. The baseline, fixed-50, is the classic pattern: the same engine,
// handler and retry policy with 50 consumers and a plain net/http client.
// The crawl scenarios (CrawlSuite) run the whole crawler, through a Crawler
// the command wires to crawl.Run, next to the engine on the same items.
// `politely bench` is the command over this package.
package benchmarks
