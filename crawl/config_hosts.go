package crawl

import (
	"net"
	"net/url"
	"slices"
	"strings"
)

// hostOnlyLimits are the keys of limits that apply to the whole crawl, with why.
var hostOnlyLimits = map[string]string{
	"concurrency.max_total": "is the ceiling of all hosts together: set limits.concurrency.max_total",
	"unresponsive_runs":     "counts the runs of the whole crawl: set limits.unresponsive_runs",
}

// hosts builds the per-host overrides of limits (key hosts): each host's
// limits are limits with the keys its mapping sets replaced.
func (b *builder) hosts(r *rawConfig) map[string]Limits {
	if len(r.Hosts) == 0 {
		return nil
	}
	names := make([]string, 0, len(r.Hosts))
	for name := range r.Hosts {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make(map[string]Limits, len(names))
	for _, name := range names {
		hk := "hosts." + name
		key, ok := hostName(name)
		if !ok {
			b.fail(hk, "%q is not a host or host:port (e.g. cdn.example.com or cdn.example.com:8443)", name)
			continue
		}
		for k, why := range hostOnlyLimits {
			if b.idx.has(hk + "." + k) {
				b.fail(hk+"."+k, "cannot be set per host: it %s", why)
			}
		}
		if _, dup := out[key]; dup {
			b.fail(hk, "names the same host as another key of hosts")
			continue
		}
		h := r.Hosts[name]
		merged := r.Limits
		set := func(k string, apply func()) {
			if b.idx.has(hk + "." + k) {
				apply()
			}
		}
		set("rate", func() { merged.Rate = h.Rate })
		set("burst", func() { merged.Burst = h.Burst })
		set("concurrency.algorithm", func() { merged.Concurrency.Algorithm = h.Concurrency.Algorithm })
		set("concurrency.initial", func() { merged.Concurrency.Initial = h.Concurrency.Initial })
		set("concurrency.min", func() { merged.Concurrency.Min = h.Concurrency.Min })
		set("concurrency.max", func() { merged.Concurrency.Max = h.Concurrency.Max })
		set("timeout", func() { merged.Timeout = h.Timeout })
		set("max_body", func() { merged.MaxBody = h.MaxBody })
		set("unresponsive_after", func() { merged.UnresponsiveAfter = h.UnresponsiveAfter })
		set("retries", func() { merged.Retries = h.Retries })
		set("backoff.base", func() { merged.Backoff.Base = h.Backoff.Base })
		set("backoff.max", func() { merged.Backoff.Max = h.Backoff.Max })
		out[key] = b.limitsAt(hk, &merged)
	}
	return out
}

// hostName checks a key of hosts and returns it in the form host keys take:
// lower case, without a trailing dot.
func hostName(name string) (string, bool) {
	key := strings.TrimSuffix(strings.ToLower(name), ".")
	u, err := url.Parse("http://" + key)
	if err != nil || u.Host != key || u.Hostname() == "" || u.User != nil {
		return "", false
	}
	if _, port, err := net.SplitHostPort(key); err == nil && port == "" {
		return "", false
	}
	return key, true
}

// LimitsFor returns the limits of the host key (host:port, as the transport
// keys hosts): its entry in Hosts (by host:port, then by host), or Limits.
func (c *Config) LimitsFor(key string) Limits {
	if l, ok := byHostKey(c.Hosts, key); ok {
		return l
	}
	return c.Limits
}

// byHostKey returns the value of the host key (host:port) in m, keyed as
// Config.Hosts: by host:port, then by host.
func byHostKey[V any](m map[string]V, key string) (V, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	if host, _, err := net.SplitHostPort(key); err == nil {
		if v, ok := m[host]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// hostMaxBodies are the max_body of the hosts whose own differs from
// limits.max_body, keyed as in Config.Hosts.
func hostMaxBodies(cfg *Config) map[string]int64 {
	var out map[string]int64
	for h, l := range cfg.Hosts {
		if l.MaxBody != cfg.Limits.MaxBody {
			if out == nil {
				out = map[string]int64{}
			}
			out[h] = l.MaxBody
		}
	}
	return out
}
