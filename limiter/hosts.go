package limiter

import (
	"fmt"
	"net"
	"strings"
)

// WithHostConfigs gives some hosts a Config of their own instead of New's
// (its RetryAfterMax aside: the Limiter's caps every gate). A key is a host
// key ("cdn.example.com:443"), or a host without a port, which applies to
// that host on every port; the host key wins over the bare host. New checks
// each Config and reports an invalid one naming its key.
func WithHostConfigs(configs map[string]Config) Option {
	return func(l *Limiter) {
		l.hostCfgs = make(map[string]Config, len(configs))
		for k, c := range configs {
			l.hostCfgs[strings.TrimSuffix(strings.ToLower(k), ".")] = c
		}
	}
}

// checkHostConfigs applies the defaults to every host's Config, or returns
// an error naming the first invalid one.
func (l *Limiter) checkHostConfigs() error {
	for k, c := range l.hostCfgs {
		c.RetryAfterMax = l.cfg.RetryAfterMax
		d, err := c.WithDefaults()
		if err != nil {
			return fmt.Errorf("limiter: host %q: %w", k, err)
		}
		l.hostCfgs[k] = d
	}
	return nil
}

// configFor returns the Config of the host key.
func (l *Limiter) configFor(key string) Config {
	if len(l.hostCfgs) == 0 {
		return l.cfg
	}
	if c, ok := l.hostCfgs[key]; ok {
		return c
	}
	if host, _, err := net.SplitHostPort(key); err == nil {
		if c, ok := l.hostCfgs[host]; ok {
			return c
		}
	}
	return l.cfg
}

// configuredRate is the host's rate ceiling as configured (Config.Rate),
// which SetCeiling may have changed since.
func (h *Host) configuredRate() float64 { return h.l.configFor(h.key).Rate }
