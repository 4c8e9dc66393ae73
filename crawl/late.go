package crawl

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/politely/politely/transport"
)

// lateHostsNamed is how many hosts lateAnswers names; past them it says once
// that more hosts time out, so that its memory stays bounded however many
// hosts a crawl meets.
const lateHostsNamed = 10

// lateAnswers tells the user, once per host, that a request timed out at a
// host that has answered others: the sign of a server whose answers take
// longer than limits.timeout. The crawl cannot fix that by itself (each such
// request is retried into the same timeout and, to the limiter, looks like a
// server in trouble), and the only line the user would otherwise see is the
// failed file's, at the end. A host that has answered nothing but its
// robots.txt is not named: it may be down, which the unresponsive-host rule
// reports.
type lateAnswers struct {
	log     *zap.Logger
	answers func(key string) int64 // the host's answers so far (successes and throttles)
	named   sync.Map               // host key → struct{}
	hosts   atomic.Int32           // keys in named
}

// timedOut records that req's own timeout ended it before its answer was
// whole, while its caller still waited.
func (l *lateAnswers) timedOut(req *http.Request, timeout time.Duration) {
	if l == nil || l.hosts.Load() > lateHostsNamed {
		return
	}
	key := transport.HostKey(req)
	if _, named := l.named.Load(key); named || l.answers(key) < 2 {
		return
	}
	if _, named := l.named.LoadOrStore(key, struct{}{}); named {
		return
	}
	switch n := l.hosts.Add(1); {
	case n <= lateHostsNamed:
		l.log.Warn("a request timed out at a host that answers others: if the host is slow rather than failing, raise limits.timeout (or the host's own under hosts:)",
			zap.String("host", key), zap.Duration("timeout", timeout), zap.String("path", req.URL.Path))
	case n == lateHostsNamed+1:
		l.log.Warn("requests time out at more hosts that answer others: not each is named")
	}
}
