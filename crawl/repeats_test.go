package crawl

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
)

// A listing that shifts while it is paged (every page starts 10 items
// before where the last one ended, as a newest-first listing does while
// items enter its head) repeats 10 items a page: each is fetched and
// written once, and the summary counts the repeats.
func TestRunFetchesAndWritesAnItemTheListingRepeatsOnce(t *testing.T) {
	t.Parallel()
	for _, withState := range []bool{false, true} {
		t.Run(fmt.Sprintf("state=%v", withState), func(t *testing.T) {
			t.Parallel()
			srv := startMock(t, mockapi.Scenario{Items: 300, PerPage: 50, PageOverlap: 10})
			cfg := testConfig(t, srv.URL()+"/items?per_page=50", "    style: page", detailTask, nil)
			if withState {
				cfg.State = filepath.Join(t.TempDir(), "state")
			}

			sum, err := runTest(t, cfg)
			require.NoError(t, err)

			assert.ElementsMatch(t, seq(300), ids(t, readLines[outLine](t, cfg.Output)), "every item, once")
			st := srv.Stats()
			for id, n := range st.DetailRequests {
				assert.Equal(t, 1, n, "detail requests of item %d", id)
			}
			assert.Len(t, st.DetailRequests, 300)
			require.Positive(t, sum.Repeated, "the listing must repeat items")
			assert.Equal(t, int64(300), sum.Succeeded)
			assert.Equal(t, int64(300), sum.Items, "items counts each item once")
		})
	}
}

func TestRepeatsTellsATaskURLTakenBefore(t *testing.T) {
	r := newRepeats()
	assert.False(t, r.seen("http://a/items/1"))
	assert.False(t, r.seen("http://a/items/2"))
	assert.True(t, r.seen("http://a/items/1"))
	assert.False(t, r.seen("http://b/items/1"), "another host's")
	assert.Equal(t, int64(1), r.n.Load())
}
