// Package benchmarks measures politely's strategies side by side against the same mock API servers.
package benchmarks
