package benchmarks

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/mockapi"
)

func TestNewManyHostsKeepsTheDefaultShapeAndTakesAnother(t *testing.T) {
	mh, err := NewManyHosts(1, ManyHostsShape{})
	require.NoError(t, err)
	assert.Equal(t, 8, mh.Healthy)
	assert.Equal(t, 1, mh.Gated)
	assert.Equal(t, 1, mh.Slow)
	assert.Equal(t, 500, mh.ItemsPerHost, "2.5 s at 200 req/s")
	assert.Equal(t, 20*time.Millisecond, mh.Latency)
	assert.Zero(t, mh.MaxTotal)

	mh, err = NewManyHosts(1, ManyHostsShape{Healthy: 100, Gated: 5, Slow: -1, Latency: 200 * time.Millisecond, MaxTotal: 50, Mixed: true})
	require.NoError(t, err)
	assert.Equal(t, 100, mh.Healthy)
	assert.Equal(t, 5, mh.Gated)
	assert.Zero(t, mh.Slow)
	assert.Equal(t, 50, mh.ItemsPerHost, "2.5 s at 20 req/s")
	assert.Equal(t, 50, mh.MaxTotal)
	assert.True(t, mh.Mixed)
	assert.InDelta(t, 0.5, mh.fairShare(), 1e-9, "50 over the 100 hosts that are not gated")
}

func TestNewManyHostsRejectsANegativeShape(t *testing.T) {
	for _, shape := range []ManyHostsShape{{Healthy: -1}, {Gated: -2}, {Slow: -3}, {Latency: -time.Second}, {MaxTotal: -1}} {
		_, err := NewManyHosts(1, shape)
		assert.ErrorContains(t, err, "want no count below zero", "%+v", shape)
	}
	_, err := NewManyHosts(2, ManyHostsShape{})
	assert.ErrorContains(t, err, "scale")
}

func TestNewManyHostsTakesTheShapesBeyondGatedAndSlow(t *testing.T) {
	mh, err := NewManyHosts(1, ManyHostsShape{Healthy: 4, Quota: 2, BlackHoles: 3, Spread: 10, Blackout: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, 2, mh.Quota)
	assert.Equal(t, 3, mh.BlackHoles)
	assert.Equal(t, 10.0, mh.Spread)
	assert.Equal(t, time.Minute, mh.Blackout)
	assert.Equal(t, 2*time.Second, mh.BlackHoleTimeout)
	assert.Greater(t, mh.Cap, time.Minute+10*time.Second, "the run outlasts the blackout")
	assert.Equal(t, []string{RoleHealthy, RoleHealthy, RoleHealthy, RoleHealthy, RoleBlackout, RoleQuota, RoleQuota, RoleSlow,
		RoleBlackHole, RoleBlackHole, RoleBlackHole}, mh.roles())
	assert.InDelta(t, 102.4, mh.fairShare(), 1e-9, "max_total's default, 1,024, over the 10 hosts that are not gated")

	config := mh.config([]string{"a:1", "b:2", "c:3"}, []string{RoleHealthy, RoleBlackHole, RoleBlackHole})
	assert.Equal(t, "hosts:\n  \"b:2\": {timeout: 2s}\n  \"c:3\": {timeout: 2s}\n", config, "only the black holes time out sooner")

	mh, err = NewManyHosts(1, ManyHostsShape{})
	require.NoError(t, err)
	assert.Equal(t, 1.0, mh.Spread, "the default: every healthy host alike")
	assert.Equal(t, 5*time.Second, mh.Blackout)
	assert.Empty(t, mh.config(nil, mh.roles()))
	assert.Equal(t, 4, mh.BlackHoleItems)

	mh, err = NewManyHosts(1, ManyHostsShape{BlackHoles: 2, BlackHoleItems: 500, BlackHoleTimeout: 10 * time.Second})
	require.NoError(t, err)
	assert.Equal(t, 500, mh.BlackHoleItems)
	assert.False(t, mh.DeadRobots)
	assert.Equal(t, 10*time.Second, mh.BlackHoleTimeout)
	assert.Greater(t, mh.Cap, blackHoleIdeal(10*time.Second), "the run outlasts the black holes' ideal")

	for _, shape := range []ManyHostsShape{{Quota: -1}, {BlackHoles: -1}, {Blackout: -time.Second}, {Spread: -2},
		{BlackHoleItems: -1}, {BlackHoleTimeout: -time.Second}} {
		_, err := NewManyHosts(1, shape)
		assert.ErrorContains(t, err, "want no count below zero", "%+v", shape)
	}
}

func TestManyHostsSpreadsEachRequestsServiceTimeByItsJitter(t *testing.T) {
	mh, err := NewManyHosts(0.1, ManyHostsShape{Healthy: 2, Faulty: 1, Gated: 1, Slow: 1, Jitter: 0.25, Latency: 40 * time.Millisecond, Mixed: true})
	require.NoError(t, err)
	assert.Equal(t, 0.25, mh.Jitter)
	servers, roles, scs, err := mh.start(10)
	require.NoError(t, err)
	defer func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}()
	require.Len(t, scs, len(roles))
	for i, role := range roles {
		switch role {
		case RoleHealthy, RoleFaulty, RoleBlackout:
			assert.Equal(t, 10*time.Millisecond, scs[i].Jitter, "%s: ±25%% of 40 ms", role)
		default:
			assert.Zero(t, scs[i].Jitter, "%s: its own service time", role)
		}
	}

	for _, jitter := range []float64{-0.1, 1, math.NaN()} {
		_, err := NewManyHosts(1, ManyHostsShape{Jitter: jitter})
		assert.ErrorContains(t, err, "a jitter in [0, 1)", "%v", jitter)
	}
}

func TestNewManyHostsTakesFlakyHosts(t *testing.T) {
	mh, err := NewManyHosts(1, ManyHostsShape{Flaky: 2})
	require.NoError(t, err)
	assert.Equal(t, 2, mh.Flaky)
	assert.Equal(t, 40, mh.FlakyItems)
	assert.Equal(t, 0.4, mh.FlakyHang)
	assert.Equal(t, []string{RoleFlaky, RoleFlaky}, mh.roles()[len(mh.roles())-2:])
	assert.Equal(t, "hosts:\n  \"b:2\": {timeout: 2s}\n", mh.config([]string{"a:1", "b:2"}, []string{RoleHealthy, RoleFlaky}),
		"a flaky host times out as a black hole does")

	mh, err = NewManyHosts(1, ManyHostsShape{Flaky: 1, FlakyItems: 200, FlakyHang: 0.3})
	require.NoError(t, err)
	assert.Equal(t, 200, mh.FlakyItems)
	assert.Equal(t, 0.3, mh.FlakyHang)
	assert.Greater(t, mh.Cap, flakySerial(1, 200, 0.3, 2*time.Second), "the run outlasts the flaky host's items one at a time")

	mh, err = NewManyHosts(1, ManyHostsShape{Healthy: 1, Gated: -1, Slow: -1, Refusing: 2, Flaky: 1, Tarpits: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{RoleHealthy, RoleFlaky, RoleRefusing, RoleRefusing, RoleTarpit}, mh.roles())
	assert.Equal(t, "hosts:\n  \"c:3\": {timeout: 2s}\n", mh.config([]string{"a:1", "b:2", "c:3"}, []string{RoleHealthy, RoleRefusing, RoleTarpit}),
		"a tarpit times out as a black hole does")
	assert.Equal(t, "hosts:\n  \"b:2\": {timeout: 2s}\n", mh.config([]string{"a:1", "b:2", "c:3"}, []string{RoleHealthy, RoleFlaky, RoleRefusing}),
		"a refusing host needs no timeout of its own")

	mh, err = NewManyHosts(1, ManyHostsShape{Healthy: 1, Gated: -1, Slow: -1, Redirecting: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{RoleHealthy, RoleBlackHole, RoleRedirect, RoleRedirect}, mh.roles(), "a black hole for them to redirect to")

	for _, shape := range []ManyHostsShape{{Flaky: -1}, {FlakyItems: -1}, {FlakyHang: 1}, {FlakyHang: -0.1}, {Refusing: -1}, {Tarpits: -1}, {Redirecting: -1}} {
		_, err := NewManyHosts(1, shape)
		assert.ErrorContains(t, err, "want no count below zero", "%+v", shape)
	}
}

func TestCountFailedCountsTheLinesOfARolesHostsByWhy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.failed.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join([]string{
		`{"url":"http://127.0.0.1:2/items/1","error":"host unresponsive: 127.0.0.1:2: its last 5 requests got no answer","status":0,"attempts":2}`,
		`{"url":"http://127.0.0.1:2/items/2","error":"after 5 attempts: context deadline exceeded","status":0,"attempts":5}`,
		`{"url":"http://127.0.0.1:2/items/3","error":"host unresponsive: 127.0.0.1:2: its last 5 requests got no answer","status":0,"attempts":0}`,
		`{"url":"http://127.0.0.1:1/items/4","error":"host unresponsive: 127.0.0.1:1: its last 5 requests got no answer","status":0,"attempts":1}`,
		`{"url":"http://127.0.0.1:1/items/5","error":"disallowed by robots.txt","status":0,"attempts":0}`,
	}, "\n")+"\n"), 0o644))
	n, err := countFailed(path, []string{"127.0.0.1:1", "127.0.0.1:2"}, []string{RoleBlackHole, RoleFlaky}, RoleFlaky)
	require.NoError(t, err)
	assert.Equal(t, failedByWhy{Attempts: 1, Unresponsive: 2}, n, "the black hole's line is not counted")
	n, err = countFailed(path, []string{"127.0.0.1:1", "127.0.0.1:2"}, []string{RoleBlackHole, RoleFlaky}, RoleBlackHole)
	require.NoError(t, err)
	assert.Equal(t, failedByWhy{Unresponsive: 1, Disallowed: 1}, n)

	n, err = countFailed(filepath.Join(t.TempDir(), "none.jsonl"), []string{"127.0.0.1:2"}, []string{RoleFlaky}, RoleFlaky)
	require.NoError(t, err)
	assert.Zero(t, n, "no failed file: nothing failed")

	require.NoError(t, os.WriteFile(path, []byte("{not json\n"), 0o644))
	_, err = countFailed(path, []string{"127.0.0.1:2"}, []string{RoleFlaky}, RoleFlaky)
	assert.ErrorContains(t, err, "failed file")
}

func TestNewManyHostsTakesFaultyHostsAndItemsPerHost(t *testing.T) {
	mh, err := NewManyHosts(1, ManyHostsShape{Healthy: 2, Faulty: 2, Gated: -1, Slow: -1, ItemsPerHost: 4})
	require.NoError(t, err)
	assert.Equal(t, 4, mh.ItemsPerHost)
	assert.Equal(t, 0.3, mh.FaultyShare)
	assert.Equal(t, []string{RoleHealthy, RoleHealthy, RoleFaulty, RoleFaulty}, mh.roles())
	assert.InDelta(t, 256, mh.fairShare(), 1e-9, "a faulty host takes its share as a healthy one")
	assert.Empty(t, mh.config([]string{"a:1", "b:2", "c:3", "d:4"}, mh.roles()), "a faulty host keeps the default timeout")
	assert.Less(t, faultyAttempts, 1+crawlRetries, "an item's last attempts answer: none of a faulty host's items is lost")

	for _, shape := range []ManyHostsShape{{Faulty: -1}, {ItemsPerHost: -1}, {FaultyShare: -0.1}, {FaultyShare: 1.5}} {
		_, err := NewManyHosts(1, shape)
		assert.ErrorContains(t, err, "want no count below zero", "%+v", shape)
	}
}

func TestRotationListsTheHostsInTurnOrEachHostsItemsTogether(t *testing.T) {
	hosts, roles := []string{"a:1", "b:2", "g:3"}, []string{RoleHealthy, RoleHealthy, RoleBlackout}
	places := func(role string) int {
		if role == RoleBlackout {
			return 1
		}
		return 2
	}
	mh := ManyHosts{}
	assert.Equal(t, []string{"a:1", "b:2", "g:3", "a:1", "b:2"}, mh.rotation(hosts, roles, places, 3),
		"in turn: one place (unit items, one per lap) each round while a host has places left")

	mh.Grouped = true
	rotation := mh.rotation(hosts, roles, places, 2)
	require.Len(t, rotation, 10, "an entry per item")
	var listed []string // the host of items 1..10, as the listing gives them
	for id := 1; id <= len(rotation); id++ {
		listed = append(listed, rotation[id%len(rotation)])
	}
	assert.Equal(t, []string{"g:3", "g:3", "a:1", "a:1", "a:1", "a:1", "b:2", "b:2", "b:2", "b:2"}, listed,
		"each host's items together, the gated host's first")
}

func TestADyingHostPassesRequestsOnThenLeavesThemHanging(t *testing.T) {
	cert, err := mockapi.NewCert()
	require.NoError(t, err)
	get := func(d *dyingHost, timeout time.Duration, cert *mockapi.Cert) (int, error) {
		tr := &http.Transport{ForceAttemptHTTP2: true}
		if cert != nil {
			tr.TLSClientConfig = cert.ClientConfig()
		}
		defer tr.CloseIdleConnections()
		c := &http.Client{Timeout: timeout, Transport: tr}
		resp, err := c.Get(d.URL() + "/items/1")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if cert != nil && (resp.TLS == nil || resp.ProtoMajor != 2) {
			return 0, fmt.Errorf("over HTTPS, answered in %s (TLS state %v)", resp.Proto, resp.TLS != nil)
		}
		return resp.StatusCode, nil
	}
	for _, tc := range []struct {
		after, timeout time.Duration
		alive          bool
		cert           *mockapi.Cert
	}{{time.Hour, 5 * time.Second, true, nil}, {0, 200 * time.Millisecond, false, nil}, {time.Hour, 5 * time.Second, true, cert}, {0, 200 * time.Millisecond, false, cert}} {
		s, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Items: 1}, TLS: tc.cert})
		require.NoError(t, err)
		d, err := startDying(s, tc.after, tc.cert)
		require.NoError(t, err)
		assert.Equal(t, tc.cert != nil, strings.HasPrefix(d.URL(), "https://"), "the front serves the scheme of the server behind it")
		code, err := get(d, tc.timeout, tc.cert)
		if tc.alive {
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, code, "alive: passed on to the mock, over HTTP/2 where it serves HTTPS")
		} else {
			assert.ErrorContains(t, err, "Client.Timeout", "dead: nothing comes back")
			assert.NotEqual(t, d.URL(), s.URL(), "the front has its own address")
		}
		require.NoError(t, d.Close())
	}
}

func TestManyHostsOverTLSRedirectsToTheBlackHolesHTTPSURL(t *testing.T) {
	cert, err := mockapi.NewCert()
	require.NoError(t, err)
	for _, c := range []*mockapi.Cert{nil, cert} {
		mh, err := NewManyHosts(0.05, ManyHostsShape{Healthy: 1, Gated: -1, Slow: -1, Redirecting: 1})
		require.NoError(t, err)
		mh.TLS = c
		servers, roles, scs, err := mh.start(4)
		for _, s := range servers {
			defer s.Close()
		}
		require.NoError(t, err)
		require.Equal(t, []string{RoleHealthy, RoleBlackHole, RoleRedirect}, roles)
		scheme := "http://"
		tr := &http.Transport{}
		if c != nil {
			scheme, tr.TLSClientConfig = "https://", c.ClientConfig()
		}
		for _, s := range servers {
			assert.True(t, strings.HasPrefix(s.URL(), scheme), "%s serves %s", s.URL(), scheme)
		}
		client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(servers[2].URL() + "/items/1")
		require.NoError(t, err)
		resp.Body.Close()
		tr.CloseIdleConnections()
		assert.Equal(t, servers[1].URL()+"/items/1", resp.Header.Get("Location"), "the redirect names the black hole's own URL, its scheme too")
		assert.Equal(t, scs[2].RedirectTo, servers[1].URL())
	}
}

func TestCountWrittenCountsEachHostsDistinctURLs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join([]string{
		`{"url":"http://127.0.0.1:1/items/1","status":200,"data":{"id":1}}`,
		`{"url":"http://127.0.0.1:1/items/2","status":200,"data":{"id":2}}`,
		`{"url":"http://127.0.0.1:1/items/2","status":200,"data":{"id":2}}`,
		`{"url":"http://127.0.0.1:2/items/3","status":200,"data":{"id":3}}`,
	}, "\n")+"\n"), 0o644))
	n, err := countWritten(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"127.0.0.1:1": 2, "127.0.0.1:2": 1}, n, "a line written twice counts once")

	n, err = countWritten(filepath.Join(t.TempDir(), "none.jsonl"))
	require.NoError(t, err)
	assert.Empty(t, n, "no output: nothing written")

	require.NoError(t, os.WriteFile(path, []byte("{not json\n"), 0o644))
	_, err = countWritten(path)
	assert.ErrorContains(t, err, "output file")
}

func TestFirstPageIsTheListingPageOfAHostsFirstItem(t *testing.T) {
	// Item id k's host is rotation[k mod len]: items 1, 2, 3, 4 go to b, c, a, b.
	rotation := []string{"a:1", "b:2", "c:3"}
	assert.Equal(t, 1, firstPage(rotation, "b:2"), "item 1")
	assert.Equal(t, 1, firstPage(rotation, "a:1"), "item 3")
	assert.Equal(t, 0, firstPage(rotation, "d:4"), "no item")
	long := make([]string, 3*crawlPerPage)
	for i := range long {
		long[i] = "x:1"
	}
	long[0], long[crawlPerPage+5] = "last:1", "mid:1"
	assert.Equal(t, 3, firstPage(long, "last:1"), "item 3 x crawlPerPage, the last of page 3")
	assert.Equal(t, 2, firstPage(long, "mid:1"), "item crawlPerPage + 5")
}

func TestDoneTimesCountsTheRequestsOpenAtAHostUntilTheirBodiesEnd(t *testing.T) {
	srv, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Name: "open", Items: 300, PerPage: crawlPerPage}})
	require.NoError(t, err)
	defer srv.Close()
	rec := &doneTimes{next: http.DefaultTransport.(*http.Transport).Clone(), at: map[string][]time.Time{},
		pages: map[int]time.Time{}, open: map[string]*openCount{}}
	defer rec.next.CloseIdleConnections()
	c := &http.Client{Transport: rec}
	var open []*http.Response
	for page := 1; page <= 3; page++ {
		resp, err := c.Get(srv.URL() + "/items?page=" + strconv.Itoa(page))
		require.NoError(t, err)
		open = append(open, resp)
	}
	for _, resp := range open {
		_, err := io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	resp, err := c.Get(srv.URL() + "/items?page=4")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close()) // closed unread: no longer open, not done
	host := strings.TrimPrefix(srv.URL(), "http://")
	require.Contains(t, rec.open, host)
	assert.Equal(t, 3, rec.open[host].most, "three bodies open at once, then one")
	assert.Equal(t, 0, rec.open[host].now, "every body read or closed")
	assert.Len(t, rec.at[host], 3, "three read to their end")
	assert.Len(t, rec.pages, 3, "pages 1-3 read; page 4 closed unread")
	assert.NotContains(t, rec.pages, 4)
	assert.Equal(t, 4, rec.requests, "every request sent is counted")
}

func TestDoneTimesTimesEachItemsAnswerToItsBodysEndButNotListingPages(t *testing.T) {
	srv, err := mockapi.Start(mockapi.Config{Scenario: mockapi.Scenario{Name: "took", Items: 300, PerPage: crawlPerPage}})
	require.NoError(t, err)
	defer srv.Close()
	rec := &doneTimes{next: http.DefaultTransport.(*http.Transport).Clone(), at: map[string][]time.Time{},
		pages: map[int]time.Time{}, open: map[string]*openCount{}}
	defer rec.next.CloseIdleConnections()
	c := &http.Client{Transport: rec}
	for _, path := range []string{"/items?page=1", "/items/1", "/items/2"} {
		resp, err := c.Get(srv.URL() + path)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	host := strings.TrimPrefix(srv.URL(), "http://")
	assert.Len(t, rec.at[host], 3, "the page and both items done")
	require.Len(t, rec.took[host], 2, "only the items timed")
	for _, d := range rec.took[host] {
		assert.Positive(t, d)
	}
}

func TestHealthyAnsweredIsTheMedianHealthyHostsAnswerOverItsServiceTime(t *testing.T) {
	ms := time.Millisecond
	r := ManyHostsResult{Hosts: []HostResult{
		{Role: RoleHealthy, Answered: 22 * ms, Service: 20 * ms},
		{Role: RoleHealthy, Answered: 30 * ms, Service: 20 * ms},
		{Role: RoleHealthy, Answered: 48 * ms, Service: 40 * ms},
		{Role: RoleSlow, Answered: 3000 * ms, Service: 1000 * ms},
		{Role: RoleHealthy}, // nothing read
	}}
	assert.InDelta(t, 1.2, r.HealthyAnswered(), 1e-9, "1.1, 1.2 and 1.5: the slow host and a host with no answer left out")
	assert.Zero(t, ManyHostsResult{}.HealthyAnswered(), "no healthy host answered")
}

func TestLastPageIsTheListingPageOfAHostsLastItem(t *testing.T) {
	// Item id k's host is rotation[k mod len]: of items 1..250, a has 3, 6, ..., 249.
	rotation := []string{"a:1", "b:2", "c:3"}
	assert.Equal(t, 3, lastPage(rotation, "a:1", 250), "item 249")
	assert.Equal(t, 3, lastPage(rotation, "b:2", 250), "item 250")
	assert.Equal(t, 2, lastPage(rotation, "c:3", 200), "item 200")
	assert.Equal(t, 0, lastPage(rotation, "d:4", 250), "no item")
}

func TestReadAheadIsTheMostItemsListedAndNotYetDone(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Three pages of an item list of 250: 100, 100 and 50 items.
	pages := map[int]time.Time{1: at(0), 2: at(10), 3: at(30)}
	done := map[string][]time.Time{"listing:1": {at(0), at(10), at(30)}}
	for i := range 150 {
		done["h:1"] = append(done["h:1"], at(5+i/10)) // 150 done from 5 to 19 ms
	}
	// By 10 ms 200 listed and 50 done (5..9 ms, ten a ms; a page counts
	// before the items done at its instant): 150; by 30 ms 250 and 150: 100.
	// The listing's own pages are no items.
	assert.Equal(t, 150, readAhead(pages, done, "listing:1", 250))
}

func TestTheListingsAllowanceCountsOnlyWhereTheListingNeverWaitedForTheHosts(t *testing.T) {
	host := HostResult{Role: RoleHealthy, Items: 1000, Optimum: 400, Done: 1000, Last: 4 * time.Second, LastListed: 3 * time.Second}
	assert.InDelta(t, 1000.0/3, host.ListingAllowed(), 1e-9, "its items over when the last was listed, below its optimum")
	fast := host
	fast.LastListed = time.Second
	assert.InDelta(t, 400, fast.ListingAllowed(), 1e-9, "its optimum, where the listing handed it its items sooner")

	r := ManyHostsResult{Hosts: []HostResult{host}, Listed: 3 * time.Second, ReadAhead: 5000, ReadAheadCap: 8192, MaxTotal: 1024}
	assert.True(t, r.ListingBound())
	assert.InDelta(t, 0.75, r.WorstHealthyListingRatio(), 1e-9, "250/s of the 333/s the listing allowed")
	assert.InDelta(t, 0.625, r.WorstHealthyRatio(), 1e-9, "the optimum's figure is unchanged")

	r.ReadAhead = 7200 // with the handlers' 1,024 past the cap: the reader may have waited
	assert.False(t, r.ListingBound())
	assert.Zero(t, r.WorstHealthyListingRatio())
	var b strings.Builder
	require.NoError(t, WriteManyHosts(&b, r))
	assert.Contains(t, b.String(), "the listing may have waited for the hosts")
}
