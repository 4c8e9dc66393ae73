package crawl

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/source"
)

// listed is one item of the listing with the URL of the page it came from,
// and its place in the listing (the source's page cursor and index), which
// a crawl with state records it done under.
type listed struct {
	Page   string
	Item   any // nil once its target is resolved, when only that needed it (see wrap)
	Cursor source.Cursor
	Index  int
	ID     string // with Redis: the item's entry in the crawl's stream
	// target is the item's task URL, resolved with its page; nil without a
	// task, and for items read from Redis (see runner.target).
	target *target
}

// listing pages through source.url as its pagination style says, fetching
// each page through the crawl's client with the crawl's retries.
type listing struct {
	cfg     *Config
	fetch   *fetcher
	retrier *retrier
	log     *zap.Logger
	keys    *itemKeys // the items' keys decoded; nil: every key (see itemKeysOf)
	targets *targetResolver
	pace    *listingPace

	pages atomic.Int64 // pages fetched
	total atomic.Int64 // items the API announces, 0 when it does not
}

// totalFields are where APIs commonly announce how many items the listing
// has; the first that holds a number is used for the progress line's ETA.
var totalFields = []DotPath{totalPath("total"), totalPath("total_count"), totalPath("meta.total")}

func totalPath(s string) DotPath {
	p, err := ParseDotPath(s)
	if err != nil {
		panic(err) // only called with constants
	}
	return p
}

// pageSeed seeds the hash of a page's items (page.print).
var pageSeed = maphash.MakeSeed()

// page is one fetched page: its items and what says where the next one is.
type page struct {
	items []any
	body  any
	resp  response
	print uint64 // with keys: the items' text hashed, to tell a repeated page (see pageEnds)
}

// get fetches and decodes the page at rawURL, retried like a task and,
// past the task's attempts, until the backoff's max has passed since its
// first attempt: the rest of the listing is reached only through it.
func (l *listing) get(ctx context.Context, rawURL string) (page, error) {
	p, err := l.load(ctx, rawURL)
	if err != nil {
		return page{}, err
	}
	l.pages.Add(1)
	if l.total.Load() == 0 {
		for _, f := range totalFields {
			if v, err := f.LookupText(p.body); err == nil {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
					l.total.Store(n)
					break
				}
			}
		}
	}
	return p, nil
}

// getListed is get for a listing that ends at a page without items (page
// numbers, offsets) or skips it (cursors, links): such a page after a full
// one (as many items as any before it) is asked again once before it is
// believed, since an API whose shard or replica lags answers a page empty
// for a moment, and believed it would end the listing there or lose the
// page's items without a word. A listing read from its start that already
// gave every item it announced ends there at once: its end is no surprise,
// and asking again would cost a page's time at the end of every crawl whose
// last page is full. A listing that announced how many items it has warns
// where it ends short of that.
func (l *listing) getListed(ctx context.Context, rawURL string, ends *pageEnds, ending bool) (page, error) {
	p, err := l.get(ctx, rawURL)
	if err != nil || len(p.items) > 0 || !ends.afterFullPage() {
		return p, err
	}
	if total := l.total.Load(); total > 0 && ends.fromStart && ends.itemsListed() >= total {
		return p, nil
	}
	again, err := l.load(ctx, rawURL)
	if err != nil {
		return page{}, err
	}
	if len(again.items) > 0 {
		l.log.Warn("a listing page came without items, and with them when asked again",
			zap.String("page", redact(rawURL)), zap.Int("items", len(again.items)))
		return again, nil
	}
	if total, listed := l.total.Load(), ends.itemsListed(); ending && ends.fromStart && listed < total {
		l.log.Warn("the listing ends at a page without items short of the items it announced",
			zap.String("page", redact(rawURL)), zap.Int64("listed", listed), zap.Int64("announced", total))
	}
	return p, nil
}

// load fetches and decodes the page at rawURL, as get says, without
// counting it.
func (l *listing) load(ctx context.Context, rawURL string) (page, error) {
	var p page
	err := l.retrier.doPatiently(ctx, l.retrier.retry.Max, func(ctx context.Context) error {
		// A page takes its own time, unlike the items' requests, and its
		// endpoint may have a rate limit of its own (see listingPace).
		var resp response
		err := l.pace.do(ctx, func(ctx context.Context) (err error) {
			resp, err = l.fetch.get(ctx, http.MethodGet, rawURL, nil)
			return err
		})
		if err != nil {
			return err
		}
		l.pace.announced(resp.header)
		body, itemsText, mark, err := decodeMarked(resp, l.keys)
		if err != nil {
			return err
		}
		items, err := l.cfg.Source.ItemsField.LookupArray(body)
		if err != nil {
			err = fmt.Errorf("source.items_field: %w%s", err, arrayHint(body))
			if l.pages.Load() == 0 {
				return engine.Permanent(err) // on the first page: the config's items_field, most likely
			}
			// A page after pages that had it: an API in trouble (a gateway,
			// a GraphQL error) answers 2xx with an error body.
			return err
		}
		if mark != 0 {
			body = l.unmarkPage(rawURL, items, body, mark)
		}
		p = page{items: items, body: body, resp: resp}
		if itemsText != nil {
			p.print = maphash.Bytes(pageSeed, itemsText)
		}
		return nil
	})
	if err != nil {
		return page{}, fmt.Errorf("listing page %s: %w", redact(rawURL), err)
	}
	return p, nil
}

// withParam returns source.url with the query parameter name set to value.
func (l *listing) withParam(name, value string) string {
	u := *l.cfg.Source.URL
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// wrap makes the listed items of the page at rawURL, with their task URLs
// when the crawl has a task: resolved here, once, while the consumers work
// on the page before.
func (l *listing) wrap(rawURL string, items []any) []listed {
	out := make([]listed, len(items))
	var targets []target
	if l.cfg.Task != nil {
		targets = make([]target, len(items))
	}
	for i, it := range items {
		out[i] = listed{Page: rawURL, Item: it}
		if targets != nil {
			targets[i] = l.targets.target(it)
			if i > 0 && targets[i].key == targets[i-1].key {
				// One string for the host of a page's items, not one
				// each (HostKey makes one for a URL without a port).
				targets[i].key = targets[i-1].key
			}
			out[i].target = &targets[i]
			if l.keys != nil {
				// Read only for its task URL (see itemKeysOf): the items
				// read ahead do not hold it, which the GC would scan.
				out[i].Item = nil
			}
		}
	}
	return out
}

// source returns the listing as a source of items, from cursor from ("" is
// the beginning), with loops ending it (see loopEnds).
func (l *listing) source(from source.Cursor) (*loopEnds, error) {
	pg := l.cfg.Source.Pagination
	first := l.cfg.Source.URL.String()
	// The next page is fetched while the items of the one before are
	// worked on, so a slow page does not leave the consumers idle.
	opts := []source.Option{source.WithMaxPages(pg.MaxPages), source.WithPrefetch()}
	if from != "" {
		opts = append(opts, source.WithCursor(from))
	}
	var (
		src *source.Paginator[listed]
		err error
	)
	ends := &pageEnds{maxEmpty: pg.MaxEmptyPages, fromStart: from == "", log: l.log}
	switch pg.Style {
	case StyleLink, StyleNextURL:
		src, err = source.NextLinks(first, func(ctx context.Context, rawURL string) (source.Page[listed], error) {
			p, err := l.getListed(ctx, rawURL, ends, false)
			if err != nil {
				return source.Page[listed]{}, err
			}
			if ends.end(rawURL, p) {
				return source.Page[listed]{Last: true}, nil
			}
			var next string
			if pg.Style == StyleLink {
				next = nextLink(p.resp.header)
			} else if next, err = lookupNext(p.body, pg.NextField, "source.pagination.next_field"); err != nil {
				return source.Page[listed]{}, fmt.Errorf("listing page %s: %w", redact(rawURL), err)
			}
			next = p.resp.resolve(next)
			return source.Page[listed]{Items: l.wrap(rawURL, p.items), Next: next}, nil
		}, opts...)
	case StyleCursor:
		src, err = source.Tokens(func(ctx context.Context, token string) (source.Page[listed], error) {
			rawURL := first
			if token != "" {
				rawURL = l.withParam(pg.Param, token)
			}
			p, err := l.getListed(ctx, rawURL, ends, false)
			if err != nil {
				return source.Page[listed]{}, err
			}
			if ends.end(rawURL, p) {
				return source.Page[listed]{Last: true}, nil
			}
			next, err := lookupNext(p.body, pg.CursorField, "source.pagination.cursor_field")
			if err != nil {
				return source.Page[listed]{}, fmt.Errorf("listing page %s: %w", redact(rawURL), err)
			}
			return source.Page[listed]{Items: l.wrap(rawURL, p.items), Next: next}, nil
		}, opts...)
	case StylePage, StyleOffset:
		fetch := func(ctx context.Context, n int) (source.Page[listed], error) {
			rawURL := l.withParam(pg.Param, strconv.Itoa(n))
			p, err := l.getListed(ctx, rawURL, ends, true)
			if err != nil {
				return source.Page[listed]{}, err
			}
			if ends.end(rawURL, p) {
				return source.Page[listed]{Last: true}, nil
			}
			return source.Page[listed]{Items: l.wrap(rawURL, p.items)}, nil
		}
		opts = append(opts, source.WithStart(pg.Start))
		if pg.Style == StylePage {
			src, err = source.PageNumbers(fetch, opts...)
		} else {
			if pg.Step > 0 {
				opts = append(opts, source.WithStep(pg.Step))
			}
			src, err = source.Offsets(fetch, opts...)
		}
	case StyleNone:
		src, err = source.Tokens(func(ctx context.Context, _ string) (source.Page[listed], error) {
			p, err := l.get(ctx, first)
			if err != nil {
				return source.Page[listed]{}, err
			}
			return source.Page[listed]{Items: l.wrap(first, p.items), Last: true}, nil
		}, opts...)
	default:
		return nil, fmt.Errorf("source.pagination.style: unknown style %q", pg.Style)
	}
	if err != nil {
		return nil, fmt.Errorf("listing: %w", err)
	}
	return &loopEnds{src: src, log: l.log}, nil
}

// lookupNext reads a next cursor or URL from a page's body; a missing key or
// null means there is no next page.
func lookupNext(body any, p DotPath, key string) (string, error) {
	v, err := p.LookupText(body)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// loopEnds ends the listing, with a warning, where the paginator finds a
// repeated cursor or URL: the pages before it are complete, and the repeated
// page is not fetched, so no item is listed twice.
type loopEnds struct {
	src *source.Paginator[listed]
	log *zap.Logger
}

// Close stops the page fetched ahead, if any, and waits for it.
func (s *loopEnds) Close() { s.src.Close() }

func (s *loopEnds) Next(ctx context.Context) (source.Item[listed], error) {
	it, err := s.src.Next(ctx)
	if errors.Is(err, source.ErrLoop) {
		s.log.Warn("the listing repeats a cursor or URL: it ends here", zap.Error(err))
		return it, io.EOF
	}
	it.Value.Cursor, it.Value.Index = it.Page, it.Index
	return it, err
}

// redact hides a URL's password for logs and errors.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
