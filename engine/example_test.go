package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/politely/politely/engine"
	"github.com/politely/politely/limiter"
	"github.com/politely/politely/source"
	"github.com/politely/politely/transport"
)

// A source and a handler: the handler runs for each item, with as many
// consumers as the limit, and whatever does not succeed reaches the sink.
func Example() {
	words, err := source.Slice([]string{"polite", "", "crawler"})
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var upper []string
	st, err := engine.NewJob(words, func(_ context.Context, w string) error {
		if w == "" {
			return engine.Permanent(errors.New("empty word"))
		}
		mu.Lock()
		defer mu.Unlock()
		upper = append(upper, strings.ToUpper(w))
		return nil
	}).WithFailureSink(func(f engine.Failure[string]) { // the source's type: a Failure[int] sink would not compile
		fmt.Printf("item %d failed for good (%v): %v\n", f.Item.Index, f.Reason, f.Err)
	}).Run(context.Background(),
		engine.WithLimitFunc(func() int { return 2 }))
	if err != nil {
		panic(err)
	}
	slices.Sort(upper)
	fmt.Println(upper)
	fmt.Printf("succeeded %d, failed %d\n", st.Succeeded, st.Failed)
	// Output:
	// item 1 failed for good (permanent error): empty word
	// [CRAWLER POLITE]
	// succeeded 2, failed 1
}

// A scraper: a paginated listing read lazily, a detail request per item, all
// through one polite HTTP client. The transport takes the limiter's permits,
// so the engine only follows the limit (WithLimitFunc(lim.Limit)); the
// handler returns transport.Check's error so that a 503 is retried and a 404
// fails at once.
func Example_scraper() {
	var busy atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/items": // ?page=N lists ids, three per page, two pages
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			ids := []int{}
			for i := range 3 {
				if page <= 2 {
					ids = append(ids, (page-1)*3+i+1)
				}
			}
			_ = json.NewEncoder(w).Encode(ids)
		case r.URL.Path == "/items/4" && busy.CompareAndSwap(false, true):
			http.Error(w, "busy", http.StatusServiceUnavailable) // once
		case r.URL.Path == "/items/5":
			http.NotFound(w, r)
		default:
			fmt.Fprintf(w, `{"id":%s}`, path.Base(r.URL.Path))
		}
	}))
	defer api.Close()

	lim, err := limiter.New(limiter.Config{Rate: 200})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: transport.New(lim), Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	get := func(ctx context.Context, url string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, engine.Permanent(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close() // releases the host's permit
		if err := transport.Check(resp); err != nil {
			return nil, err
		}
		return io.ReadAll(resp.Body)
	}

	listing, err := source.PageNumbers(func(ctx context.Context, page int) (source.Page[int], error) {
		body, err := get(ctx, fmt.Sprintf("%s/items?page=%d", api.URL, page))
		if err != nil {
			return source.Page[int]{}, err
		}
		var ids []int
		err = json.Unmarshal(body, &ids)
		return source.Page[int]{Items: ids}, err
	})
	if err != nil {
		panic(err)
	}

	var mu sync.Mutex
	var details []string
	st, err := engine.NewJob(listing, func(ctx context.Context, id int) error {
		body, err := get(ctx, fmt.Sprintf("%s/items/%d", api.URL, id))
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		details = append(details, string(body))
		return nil
	}).WithFailureSink(func(f engine.Failure[int]) {
		fmt.Printf("item %d: %v after %d attempt(s): %v\n", f.Item.Value, f.Reason, f.Attempts, f.Err)
	}).Run(context.Background(),
		engine.WithLimitFunc(lim.Limit),
		engine.WithTaskTimeout(10*time.Second),
		engine.WithRetry(engine.Retry{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}))
	if err != nil {
		panic(err)
	}
	slices.Sort(details)
	fmt.Println(details)
	fmt.Printf("succeeded %d, failed %d, retries %d\n", st.Succeeded, st.Failed, st.Retries)
	// Output:
	// item 5: permanent error after 1 attempt(s): http 404 Not Found
	// [{"id":1} {"id":2} {"id":3} {"id":4} {"id":6}]
	// succeeded 5, failed 1, retries 1
}

// memory is a Checkpointer that keeps the state in memory; a real one
// persists it (the crawl's state store uses bbolt).
type memory struct {
	mu   sync.Mutex
	mark source.Cursor                  // resume the source here
	done map[source.Cursor]map[int]bool // items done beyond the mark, by page
}

func (m *memory) Done(page source.Cursor, index int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done[page] == nil {
		m.done[page] = map[int]bool{}
	}
	m.done[page][index] = true
	return nil
}

func (m *memory) Mark(page, next source.Cursor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.done, page)
	m.mark = next
	return nil
}

func (m *memory) skip(it source.Item[int]) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done[it.Page][it.Index]
}

// A run interrupted half-way resumes where it stopped: the source starts at
// the checkpointed mark, and the items finished beyond it are skipped.
func ExampleCheckpointer() {
	state := &memory{done: map[source.Cursor]map[int]bool{}}
	handle := func(stop func()) func(context.Context, int) error {
		return func(_ context.Context, v int) error {
			fmt.Print(v, " ")
			if v == 5 {
				stop() // ^C while item 5 runs: it finishes, the rest waits
			}
			return nil
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	src, _ := source.Range(0, 10, 1, source.WithGroup(4)) // pages of 4 items
	st, _ := engine.Run(ctx, src, handle(cancel), engine.WithLimitFunc(func() int { return 1 }),
		engine.WithCheckpoint(state))
	fmt.Printf("| interrupted %v, mark %s, done beyond it %v\n", st.Interrupted, state.mark, state.done)

	src, _ = source.Range(0, 10, 1, source.WithGroup(4), source.WithCursor(state.mark))
	st, _ = engine.NewJob(src, handle(func() {})).WithSkip(state.skip).Run(context.Background(), engine.WithLimitFunc(func() int { return 1 }),
		engine.WithCheckpoint(state))
	fmt.Printf("| skipped %d, mark %s\n", st.Skipped, state.mark)
	// Output:
	// 0 1 2 3 4 5 | interrupted true, mark range:4, done beyond it map[range:4:map[0:true 1:true]]
	// 6 7 8 9 | skipped 2, mark end
}
