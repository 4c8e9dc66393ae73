package mockapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBodySizePadsEveryDetailAnswerToAboutThatSize(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 3, BodySize: 100_000}})
	c := newClient(t, 10*time.Second)
	r := get(t, c, s.URL()+"/items/2")
	require.Equal(t, http.StatusOK, r.status)
	assert.InDelta(t, 100_000, len(r.body), 16)
	d := decode[detail](t, r.body)
	assert.Equal(t, 2, d.ID)
	assert.Less(t, len(get(t, c, s.URL()+"/items").body), 1000, "listing pages are not padded")

	_, err := NewHandler(Config{Scenario: Scenario{BodySize: -1}})
	assert.ErrorContains(t, err, "BodySize")
}

func TestGzipCompressesAnswersForClientsThatAcceptIt(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 3, Gzip: true, BodySize: 10_000}})
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	req, err := http.NewRequest(http.MethodGet, s.URL()+"/items/1", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Less(t, len(raw), 1000, "10 kB of padding compresses")
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, 1, decode[detail](t, plain).ID)

	r := get(t, c, s.URL()+"/items/1") // no Accept-Encoding
	assert.Empty(t, r.header.Get("Content-Encoding"))
	assert.Equal(t, 1, decode[detail](t, r.body).ID)
}

func TestCloseConnectionsAnswersEveryRequestOnAConnectionOfItsOwn(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 3, CloseConnections: true}})
	c := newClient(t, 10*time.Second)
	for _, path := range []string{"/robots.txt", "/items", "/items/1", "/items/9"} {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, s.URL()+path, nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.True(t, resp.Close, "%s: Connection: close", path)
		assert.False(t, reused, "%s: on a new connection", path)
	}
}

func TestPageOverlapRepeatsTheEndOfThePreviousPageAndStillListsEveryItem(t *testing.T) {
	for _, style := range []Pagination{PaginationPage, PaginationOffset, PaginationCursor} {
		t.Run(string(style), func(t *testing.T) {
			s := startServer(t, Config{Scenario: Scenario{Items: 25, PerPage: 10, PageOverlap: 3, Pagination: style}})
			c := newClient(t, 10*time.Second)
			var pages [][]int
			next, offset := "page=1", 0
			for len(pages) < 10 {
				p := decode[listingPage](t, get(t, c, s.URL()+"/items?"+next).body)
				var ids []int
				for _, it := range p.Items {
					ids = append(ids, it.ID)
				}
				if len(ids) == 0 {
					break
				}
				pages = append(pages, ids)
				switch style {
				case PaginationPage:
					next = "page=" + strconv.Itoa(len(pages)+1)
				case PaginationOffset:
					offset += len(ids)
					next = "offset=" + strconv.Itoa(offset)
				case PaginationCursor:
					if *p.NextCursor == "" {
						pages = append(pages, nil)
						next = ""
					} else {
						next = "cursor=" + *p.NextCursor
					}
				}
				if next == "" {
					break
				}
			}
			assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, pages[0])
			assert.Equal(t, []int{8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, pages[1])
			assert.Equal(t, []int{15, 16, 17, 18, 19, 20, 21, 22, 23, 24}, pages[2])
			assert.Equal(t, []int{22, 23, 24, 25}, pages[3])
		})
	}
}

func TestElasticSlotsStretchEveryAnswerByTheLoadAndRefuseNothing(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 8, Latency: 50 * time.Millisecond, ElasticSlots: 1}})
	c := newClient(t, 10*time.Second)
	lone := time.Now()
	require.Equal(t, http.StatusOK, get(t, c, s.URL()+"/items/1").status)
	assert.Less(t, time.Since(lone), 5*50*time.Millisecond, "alone: about its latency")

	const n = 4
	took := make(chan time.Duration, n)
	for i := range n {
		go func() {
			t0 := time.Now()
			resp, err := c.Get(s.URL() + "/items/" + strconv.Itoa(i+1))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			took <- time.Since(t0)
		}()
	}
	var slowest time.Duration
	for range n {
		slowest = max(slowest, <-took)
	}
	assert.GreaterOrEqual(t, slowest, (n-1)*50*time.Millisecond, "the last of 4 at once is served at least 3 times slower")
	assert.Zero(t, s.Stats().Throttled(), "nothing refused")

	_, err := NewHandler(Config{Scenario: Scenario{ElasticSlots: -1}})
	assert.ErrorContains(t, err, "ElasticSlots")
}

func TestKeepAliveRequestsClosesAConnectionAfterItsLimit(t *testing.T) {
	s := startServer(t, Config{Scenario: Scenario{Items: 9, KeepAliveRequests: 3}})
	c := newClient(t, 10*time.Second)
	for i := range 7 {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(g httptrace.GotConnInfo) { reused = g.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, s.URL()+"/items/1", nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, i%3 == 2, resp.Close, "request %d: Connection: close on the third of each connection", i+1)
		assert.Equal(t, i%3 != 0, reused, "request %d: a new connection after each close", i+1)
	}
	_, err := NewHandler(Config{Scenario: Scenario{KeepAliveRequests: -1}})
	assert.ErrorContains(t, err, "KeepAliveRequests")
}
