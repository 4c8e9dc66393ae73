package transport

import (
	"sync"

	"go.uber.org/zap"
)

// maxHeaderWarnings bounds the (host, problem) pairs headerWarnings
// remembers; beyond it, new problems are logged at debug level only.
const maxHeaderWarnings = 4096

// headerWarnings logs a host's unreadable response headers once per problem
// at warn level, and again at debug level: a server that sends the same bad
// header on every response would otherwise fill the log with one warning
// per request. Problems never quote header values, so they are few per host.
type headerWarnings struct {
	mu   sync.Mutex
	seen map[[2]string]struct{}
}

// log reports err, the headers of host's response that were ignored.
func (w *headerWarnings) log(l *zap.Logger, host string, err error) {
	key := [2]string{host, err.Error()}
	w.mu.Lock()
	_, seen := w.seen[key]
	first := !seen && len(w.seen) < maxHeaderWarnings
	if first {
		if w.seen == nil {
			w.seen = make(map[[2]string]struct{})
		}
		w.seen[key] = struct{}{}
	}
	w.mu.Unlock()
	if first {
		l.Warn("transport: response headers ignored (logged once per host and problem)", zap.String("host", host), zap.Error(err))
		return
	}
	l.Debug("transport: response headers ignored", zap.String("host", host), zap.Error(err))
}
