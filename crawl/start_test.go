package crawl

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/state"
)

// startAPI is a listing of two pages of two items each, with a robots.txt
// of rules; asked is closed when page 1 is requested.
type startAPI struct {
	*recorder
	asked     chan struct{}
	askedOnce sync.Once
}

func newStartAPI(t *testing.T, rules string, page1 func(*http.Request)) *startAPI {
	t.Helper()
	api := &startAPI{asked: make(chan struct{})}
	api.recorder = startRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/robots.txt":
			fmt.Fprint(w, rules)
		case r.URL.Query().Get("page") == "1":
			api.askedOnce.Do(func() { close(api.asked) })
			if page1 != nil {
				page1(r)
			}
			fmt.Fprint(w, `{"items":[{"id":1},{"id":2}]}`)
		case r.URL.Query().Get("page") == "2":
			fmt.Fprint(w, `{"items":[{"id":3},{"id":4}]}`)
		default:
			fmt.Fprint(w, `{"items":[]}`)
		}
	})
	return api
}

func (api *startAPI) config(t *testing.T) *Config {
	t.Helper()
	cfg := testConfig(t, api.URL+"/items", "    style: page", "", nil)
	cfg.State = filepath.Join(filepath.Dir(cfg.Output), "state")
	return cfg
}

// openAfterPage1 is state.Open once page 1 was requested, or after 10 s;
// it reports which came first.
func (api *startAPI) openAfterPage1(page1First *bool) func(string, string, ...state.Option) (*state.Store, error) {
	return func(dir, fp string, opts ...state.Option) (*state.Store, error) {
		select {
		case <-api.asked:
			*page1First = true
		case <-time.After(10 * time.Second):
		}
		return state.Open(dir, fp, opts...)
	}
}

func TestAFreshCrawlAsksForItsFirstPageWhileItOpensItsState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset bool // over a finished crawl's state
	}{
		{name: "no state file"},
		{name: "a reset state", reset: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newStartAPI(t, "User-agent: *\nDisallow: /private\n", nil)
			cfg := api.config(t)
			var opts []RunOption
			if tc.reset {
				_, err := runTest(t, cfg)
				require.NoError(t, err)
				opts = append(opts, WithResetState())
			}
			before := len(api.paths())
			var page1First bool
			sum, err := runTest(t, cfg, append(opts, func(o *runOptions) { o.openStore = api.openAfterPage1(&page1First) })...)
			require.NoError(t, err)
			assert.True(t, page1First, "page 1 is requested before the state is open")
			assert.Equal(t, []string{"/robots.txt", "/items?page=1"}, api.paths()[before:before+2],
				"robots.txt first, then page 1")
			assert.Equal(t, int64(4), sum.Items)
			assert.ElementsMatch(t, []int{1, 2, 3, 4}, ids(t, readLines[outLine](t, cfg.Output)))
		})
	}
}

func TestAResumedCrawlOpensItsStateBeforeAnyRequest(t *testing.T) {
	api := newStartAPI(t, "", nil)
	cfg := api.config(t)
	// A state that has done page 1: the run resumes at page 2.
	st, err := state.Open(cfg.State, cfg.Fingerprint())
	require.NoError(t, err)
	j, err := st.OpenJournal(state.File{Name: fileOutput, Path: cfg.Output}, state.File{Name: fileFailed, Path: cfg.FailedPath()})
	require.NoError(t, err)
	for i := range 2 {
		require.NoError(t, j.Append("page:1:1", i, fmt.Appendf(nil, `{"url":"%s/items?page=1","data":{"id":%d}}`, api.URL, i+1), nil))
	}
	require.NoError(t, j.Mark("page:1:1", "page:2:2"))
	require.NoError(t, st.Close())

	var requestsAtOpen int
	sum, err := runTest(t, cfg, func(o *runOptions) {
		o.openStore = func(dir, fp string, opts ...state.Option) (*state.Store, error) {
			requestsAtOpen = len(api.paths())
			return state.Open(dir, fp, opts...)
		}
	})
	require.NoError(t, err)
	assert.True(t, sum.Resumed)
	assert.Zero(t, requestsAtOpen, "nothing is requested before the state says where to resume")
	assert.Zero(t, api.count("/items?page=1"), "page 1 was done: never asked for")
	assert.ElementsMatch(t, []int{1, 2, 3, 4}, ids(t, readLines[outLine](t, cfg.Output)))
}

func TestAnEarlyFirstPageThatRobotsDisallowIsNeverAskedFor(t *testing.T) {
	for _, withState := range []bool{false, true} {
		t.Run(fmt.Sprintf("state %v", withState), func(t *testing.T) {
			api := newStartAPI(t, "User-agent: *\nDisallow: /items\n", nil)
			cfg := api.config(t)
			if !withState {
				cfg.State = ""
			}
			_, err := runTest(t, cfg)
			require.ErrorIs(t, err, errDisallowed)
			assert.Equal(t, []string{"/robots.txt"}, api.paths(), "no request to a disallowed path")
		})
	}
}

func TestAFreshStatesOpenErrorStopsTheEarlyFirstPage(t *testing.T) {
	ended := make(chan bool, 1)
	api := newStartAPI(t, "", func(r *http.Request) {
		select {
		case <-r.Context().Done(): // the early request, cancelled
			ended <- true
		case <-time.After(20 * time.Second):
			ended <- false
		}
	})
	cfg := api.config(t)
	errOpen := errors.New("the disk is gone")
	began := time.Now()
	_, err := runTest(t, cfg, func(o *runOptions) {
		o.openStore = func(string, string, ...state.Option) (*state.Store, error) {
			<-api.asked // page 1 is under way
			return nil, errOpen
		}
	})
	require.ErrorIs(t, err, errOpen)
	assert.Less(t, time.Since(began), 10*time.Second, "returned without waiting for the page")
	assert.True(t, <-ended, "the early page's request is cancelled")
}
