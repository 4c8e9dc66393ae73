// Package redisstate keeps a crawl shared by many processes in Redis.
//
// A crawl is named by its config's fingerprint; its keys share the prefix
// "politely:{FINGERPRINT}:" (one hash slot, so its scripts run on Redis
// Cluster too):
//
//	meta           hash: fingerprint, cursor (where the listing resumes),
//	               exhausted, pages, listed, succeeded, failed and the
//	               workers' request counters
//	lease          string: the worker walking the listing; expires unless renewed
//	items          stream of listed items, read through the consumer group
//	               "workers"; an item leaves it when it is done or failed for good
//	out, failed    lists: the output and failed lines, each item's once
//	workers        sorted set: worker name -> when its heartbeat expires (ms)
//	hosts          hash: host -> the shared rate last applied (requests/s)
//	gate:HOST      string: when HOST's shared gate opens (Unix ms)
//	learnt:HOST    hash: worker -> the rate it learnt for HOST and until when
//	rate:…:HOST    redis_rate's GCRA state of HOST
//
// and "politely:crawl" holds the fingerprint of the crawl the database
// holds: a crawl with another fingerprint is refused while that crawl's
// keys exist.
//
// An item is finished by one script that acknowledges it in the group,
// removes it from the stream and appends its line, only if it was still
// pending: a copy of an item that another worker finished meanwhile writes
// nothing. So every item's line is stored exactly once.
//
// Most callers want Open, then a Walker for the listing, a Reader for the
// items, Finish for each item, and Close.
package redisstate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Group is the consumer group every worker reads the items through.
const Group = "workers"

// registryKey holds the fingerprint of the crawl a database holds.
const registryKey = "politely:crawl"

// Defaults of the options.
const (
	DefaultVisibility = time.Minute      // before an item taken by a silent worker is delivered again
	DefaultLeaseTTL   = 5 * time.Second  // before the listing lease of a silent worker lapses
	DefaultHeartbeat  = time.Second      // between a worker's heartbeats
	DefaultOutage     = 2 * time.Minute  // the longest Redis outage a worker waits out
	connectTimeout    = 5 * time.Second  // to reach Redis at Open
	commandTimeout    = 10 * time.Second // of each command but the blocking reads
)

// MismatchError is Open's error when the database holds a crawl written by
// another config.
type MismatchError struct {
	URL    string // the Redis URL, without its password
	Stored string // the fingerprint of the crawl in Redis
	Given  string // this config's
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("redis %s holds a crawl of another config (fingerprint %s, this config %s)",
		e.URL, short(e.Stored), short(e.Given))
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12] + "…"
	}
	return fp
}

// Option configures a Crawl.
type Option func(*options)

type options struct {
	worker     string
	visibility time.Duration
	lease      time.Duration
	heartbeat  time.Duration
	outage     time.Duration
	log        *zap.Logger
	observe    bool
}

// WithWorker names this process in Redis; default host name and PID.
func WithWorker(name string) Option { return func(o *options) { o.worker = name } }

// WithVisibility sets how long an item taken by a worker that went silent
// waits before it is delivered again; default DefaultVisibility.
func WithVisibility(d time.Duration) Option { return func(o *options) { o.visibility = d } }

// WithLeaseTTL sets how long the listing lease outlives its holder's last
// renewal; default DefaultLeaseTTL.
func WithLeaseTTL(d time.Duration) Option { return func(o *options) { o.lease = d } }

// WithHeartbeat sets the interval of the worker's heartbeat; default
// DefaultHeartbeat.
func WithHeartbeat(d time.Duration) Option { return func(o *options) { o.heartbeat = d } }

// WithOutage sets the longest Redis outage a call waits out, retrying with
// backoff, before it fails; default DefaultOutage.
func WithOutage(d time.Duration) Option { return func(o *options) { o.outage = d } }

// Observing opens the crawl without joining it (for status and export): a
// database without the crawl is not changed.
func Observing() Option { return func(o *options) { o.observe = true } }

// WithLogger sets the logger; default zap.NewNop().
func WithLogger(l *zap.Logger) Option { return func(o *options) { o.log = l } }

// Crawl is one crawl in Redis, as one worker sees it. Get it from Open; it
// is safe for concurrent use; Close it.
type Crawl struct {
	rdb    *redis.Client
	url    string // redacted
	fp     string
	prefix string
	o      options
	retry  retrier

	lastClaim atomic.Int64 // UnixNano of Read's last XAUTOCLAIM

	closeMu  sync.Mutex
	onClosed []func() // stops what runs beside the client (Shared's subscription)
}

// Redact returns rawURL without its password, for messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable Redis URL)"
	}
	return u.Redacted()
}

// CheckURL reports whether rawURL is a Redis URL Connect can use, with an
// error that names it without its password: a command checks it before it
// starts, as bad usage.
func CheckURL(rawURL string) error {
	_, err := parseURL(rawURL)
	return err
}

func parseURL(rawURL string) (*redis.Options, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// The parser's error may quote the URL: it is not passed on.
		return nil, fmt.Errorf("redis URL %s: not a redis:// or rediss:// URL", Redact(rawURL))
	}
	return opt, nil
}

// Connect parses rawURL and pings Redis. Its errors name the URL without its
// password.
func Connect(ctx context.Context, rawURL string) (*redis.Client, error) {
	safe := Redact(rawURL)
	opt, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opt.MaxRetries = -1 // the callers retry with their own backoff, and log it
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	rdb := redis.NewClient(opt)
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := rdb.Ping(cctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s is unreachable: %s", safe, scrub(err, opt.Password))
	}
	return rdb, nil
}

// quiet drops go-redis's own log lines (dial failures while Redis is
// down): the callers log what they do about them, once.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// scrub is err's text without the password.
func scrub(err error, password string) string {
	s := err.Error()
	if password != "" {
		s = strings.ReplaceAll(s, password, "xxxxx")
	}
	return s
}

// Open joins the crawl named fingerprint in the Redis at rawURL, creating
// it if the database holds none. A database holding the keys of a crawl with
// another fingerprint is refused with a *MismatchError; Reset deletes them.
// Redis unreachable is an error naming the URL without its password.
func Open(ctx context.Context, rawURL, fingerprint string, opts ...Option) (*Crawl, error) {
	o := options{visibility: DefaultVisibility, lease: DefaultLeaseTTL, heartbeat: DefaultHeartbeat, outage: DefaultOutage}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case fingerprint == "":
		return nil, errors.New("redisstate: fingerprint is empty")
	case o.visibility <= 0 || o.lease <= 0 || o.heartbeat <= 0 || o.outage <= 0:
		return nil, errors.New("redisstate: visibility, lease TTL, heartbeat and outage must be positive")
	}
	if o.log == nil {
		o.log = zap.NewNop()
	}
	if o.worker == "" {
		host, _ := os.Hostname()
		o.worker = host + "-" + strconv.Itoa(os.Getpid())
	}
	rdb, err := Connect(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	c := &Crawl{rdb: rdb, url: Redact(rawURL), fp: fingerprint, prefix: Prefix(fingerprint), o: o}
	c.retry = retrier{log: o.log, outage: o.outage, url: c.url}
	if err := c.register(ctx); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return c, nil
}

// Prefix is the prefix of the keys of the crawl named fingerprint.
func Prefix(fingerprint string) string { return "politely:{" + fingerprint + "}:" }

func (c *Crawl) key(name string) string { return c.prefix + name }

// registerScript names the database's crawl, unless it holds another
// crawl's keys: it returns the fingerprint in force.
var registerScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and redis.call('EXISTS', 'politely:{' .. cur .. '}:meta') == 1 then
  return cur
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSETNX', KEYS[2], 'fingerprint', ARGV[1])
return ARGV[1]
`)

// observeScript returns the fingerprint of the crawl the database holds,
// or ARGV[1] when it holds none.
var observeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and redis.call('EXISTS', 'politely:{' .. cur .. '}:meta') == 1 then
  return cur
end
return ARGV[1]
`)

func (c *Crawl) register(ctx context.Context) error {
	script := registerScript
	if c.o.observe {
		script = observeScript
	}
	var cur string
	err := c.retry.do(ctx, "open the crawl", func(ctx context.Context) error {
		var err error
		cur, err = script.Run(ctx, c.rdb, []string{registryKey, c.key("meta")}, c.fp).Text()
		return err
	})
	if err != nil {
		return err
	}
	if cur != c.fp {
		return &MismatchError{URL: c.url, Stored: cur, Given: c.fp}
	}
	if c.o.observe {
		return nil
	}
	return c.retry.do(ctx, "create the consumer group", func(ctx context.Context) error {
		err := c.rdb.XGroupCreateMkStream(ctx, c.key("items"), Group, "0").Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return nil
		}
		return err
	})
}

// Worker is this process's name in Redis.
func (c *Crawl) Worker() string { return c.o.worker }

// URL is the Redis URL without its password.
func (c *Crawl) URL() string { return c.url }

// Visibility is how long an item taken by a silent worker waits before it
// is delivered again.
func (c *Crawl) Visibility() time.Duration { return c.o.visibility }

// Client is the Redis client, for the shared politeness (NewShared).
func (c *Crawl) Client() *redis.Client { return c.rdb }

// Close closes the connection to Redis.
func (c *Crawl) Close() error {
	c.closeMu.Lock()
	fs := c.onClosed
	c.onClosed = nil
	c.closeMu.Unlock()
	for _, f := range fs {
		f()
	}
	return c.rdb.Close()
}

// atClose makes Close call f first.
func (c *Crawl) atClose(f func()) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	c.onClosed = append(c.onClosed, f)
}

// Reset deletes the keys of the crawl named fingerprint and of the crawl the
// database holds, if another, so that the next Open starts over.
func Reset(ctx context.Context, rdb *redis.Client, fingerprint string) error {
	fps := []string{fingerprint}
	cur, err := rdb.Get(ctx, registryKey).Result()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return fmt.Errorf("redisstate: reset: %w", err)
	case cur != fingerprint:
		fps = append(fps, cur)
	}
	for _, fp := range fps {
		for _, pattern := range []string{Prefix(fp) + "*", "rate:" + Prefix(fp) + "*"} {
			iter := rdb.Scan(ctx, 0, pattern, 500).Iterator()
			var batch []string
			for iter.Next(ctx) {
				batch = append(batch, iter.Val())
				if len(batch) == 500 {
					if err := rdb.Del(ctx, batch...).Err(); err != nil {
						return fmt.Errorf("redisstate: reset: %w", err)
					}
					batch = batch[:0]
				}
			}
			if err := iter.Err(); err != nil {
				return fmt.Errorf("redisstate: reset: %w", err)
			}
			if len(batch) > 0 {
				if err := rdb.Del(ctx, batch...).Err(); err != nil {
					return fmt.Errorf("redisstate: reset: %w", err)
				}
			}
		}
	}
	if err := rdb.Del(ctx, registryKey).Err(); err != nil {
		return fmt.Errorf("redisstate: reset: %w", err)
	}
	return nil
}
