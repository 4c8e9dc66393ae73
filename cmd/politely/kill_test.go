package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/crawl"
	"github.com/politely/politely/mockapi"
)

// buildPolitely builds the politely binary into a temp dir.
func buildPolitely(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "politely")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// process is a running politely crawl.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	began          time.Time
}

func startCrawl(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, append([]string{"crawl", "--quiet", "--log-format", "json"}, args...)...),
		done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	p.began = time.Now()
	go func() { _ = p.cmd.Wait(); close(p.done) }() // ends with the process, which every test ends
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to end, up to d. A crawl still running then
// is sent SIGQUIT, so that the failure shows where each of its goroutines
// waits (the Go runtime prints their stacks to stderr and exits).
func (p *process) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		t.Fatalf("the crawl did not end within %v; its stderr, with its goroutines' stacks at SIGQUIT:\n%s", d, p.stderr.String())
	}
}

func (p *process) summary(t *testing.T) crawl.Summary {
	t.Helper()
	var sum crawl.Summary
	require.NoError(t, json.Unmarshal(p.stdout.Bytes(), &sum), "stdout %q, stderr:\n%s", p.stdout.String(), p.stderr.String())
	return sum
}

// requireEveryItemOnce checks the crawl's files against the mock's ground
// truth: every working item once in the output, every broken one once in
// the failed file, no partial line in either.
func requireEveryItemOnce(t *testing.T, srv *mockapi.Server, sc mockapi.Scenario, out, failed string) {
	t.Helper()
	st := srv.Stats()
	broken := map[int]bool{}
	for _, id := range st.BrokenItems {
		broken[id] = true
	}
	seen := map[int]int{}
	for _, l := range jsonLines(t, out) {
		var line struct {
			Status int `json:"status"`
			Data   struct {
				ID int `json:"id"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(l, &line), "output line %q", l)
		require.Equal(t, 200, line.Status)
		seen[line.Data.ID]++
	}
	failedURLs := map[string]int{}
	for _, l := range jsonLines(t, failed) {
		var line struct {
			URL string `json:"url"`
		}
		require.NoError(t, json.Unmarshal(l, &line), "failed line %q", l)
		failedURLs[line.URL]++
	}
	for id := 1; id <= sc.Items; id++ {
		if broken[id] {
			assert.Equal(t, 1, failedURLs[srv.URL()+sc.DetailPath(id)], "broken item %d in the failed file once", id)
			assert.Zero(t, seen[id], "broken item %d in the output", id)
			continue
		}
		assert.Equal(t, 1, seen[id], "item %d in the output once", id)
	}
	assert.Len(t, seen, sc.Items-len(broken), "no item that does not exist")
	assert.Len(t, failedURLs, len(broken), "nothing else failed")
}

// jsonLines returns the lines of a file, failing on a partial last line.
func jsonLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	if len(b) == 0 {
		return nil
	}
	require.Equal(t, byte('\n'), b[len(b)-1], "%s ends with a partial line", path)
	return bytes.Split(b[:len(b)-1], []byte("\n"))
}

// TestCrawlKilledAtRandomMomentsWritesEveryItemOnce runs the real binary
// with state against the capacity and faults mock APIs, SIGKILLs it at
// random moments, then lets it finish: every item is in the output (or,
// broken for good, in the failed file) exactly once, and the last run's
// summary counts the whole crawl: each listing page once, and at least the
// requests behind the lines.
func TestCrawlKilledAtRandomMomentsWritesEveryItemOnce(t *testing.T) {
	bin := buildPolitely(t)
	const kills = 10
	for _, tc := range []struct {
		preset string
		items  int
		limits string
	}{
		{"capacity", 3000, "limits:\n  timeout: 2s\n  retries: 6\n  backoff: {base: 5ms, max: 100ms}\n  concurrency: {initial: 8, max: 64}\n"},
		{"faults", 2000, "limits:\n  timeout: 1s\n  retries: 4\n  backoff: {base: 5ms, max: 50ms}\n  concurrency: {initial: 8, max: 64}\n"},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			t.Parallel()
			sc, err := mockapi.Preset(tc.preset)
			require.NoError(t, err)
			sc.Items, sc.Pagination = tc.items, mockapi.PaginationLink
			srv := startMockAPI(t, sc)
			dir := t.TempDir()
			cfg := filepath.Join(dir, "api.yaml")
			require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `user_agent: "politely-test/1.0"
source:
  url: %q
  pagination: {style: link}
  items_field: items
task:
  url: "{+detail_path}"
%s
`, srv.URL()+"/items", tc.limits), 0o644))
			out := filepath.Join(dir, "out.jsonl")
			args := []string{"-c", cfg, "--out", out, "--state", filepath.Join(dir, "state")}

			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 0))
			killed := 0
			for killed < kills {
				p := startCrawl(t, bin, args...)
				select {
				case <-p.done:
					t.Fatalf("the crawl ended before kill %d: add items; stderr:\n%s", killed+1, p.stderr.String())
				case <-time.After(time.Duration(40+rng.IntN(300)) * time.Millisecond):
				}
				require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
				p.wait(t, 10*time.Second)
				ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
				require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "killed: %v", p.cmd.ProcessState)
				killed++
			}
			lines := 0
			if b, err := os.ReadFile(out); err == nil {
				lines = bytes.Count(b, []byte("\n"))
			}
			t.Logf("%d kills; %d lines before the last run", killed, lines)

			p := startCrawl(t, bin, args...)
			p.wait(t, 60*time.Second)
			require.Equal(t, exitOK, p.cmd.ProcessState.ExitCode(), p.stderr.String())
			sum := p.summary(t)
			requireEveryItemOnce(t, srv, sc, out, filepath.Join(dir, "out.failed.jsonl"))
			broken := int64(len(srv.Stats().BrokenItems))
			assert.True(t, sum.Resumed)
			assert.False(t, sum.Interrupted)
			assert.Equal(t, int64(sc.Items), sum.Items)
			assert.Equal(t, int64(sc.Items)-broken, sum.Succeeded)
			assert.Equal(t, broken, sum.Failed)
			assert.LessOrEqual(t, sum.Requests, srv.Stats().Requests, "requests of killed runs after their last commit are not counted")
			// Each run's commits count the requests behind the lines they
			// commit: a request per listing page, one per output line, and
			// a failed line's attempts.
			pages := int64((sc.Items + cmp.Or(sc.PerPage, 50) - 1) / cmp.Or(sc.PerPage, 50)) // the mock's default page size
			behind, retried := pages+sum.Succeeded, int64(0)
			for _, l := range jsonLines(t, filepath.Join(dir, "out.failed.jsonl")) {
				var line struct {
					Attempts int64 `json:"attempts"`
				}
				require.NoError(t, json.Unmarshal(l, &line), "failed line %q", l)
				behind += line.Attempts
				retried += line.Attempts - 1
			}
			assert.GreaterOrEqual(t, sum.Requests, behind, "the requests behind every line, whichever run wrote it")
			assert.GreaterOrEqual(t, sum.Retries, retried, "the retries behind every failed line")
			assert.Equal(t, pages, sum.Pages, "each page of the listing once")
		})
	}
}

// TestCrawlDrainsOnASignalAndResumes interrupts the binary once (SIGINT,
// SIGTERM): it drains, saves its state and exits 130; run again, it
// finishes the crawl.
func TestCrawlDrainsOnASignalAndResumes(t *testing.T) {
	bin := buildPolitely(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			sc := mockapi.Scenario{Items: 600, PerPage: 50, Pagination: mockapi.PaginationLink, Latency: 20 * time.Millisecond,
				Faults: mockapi.Faults{Seed: 5, Permanent: 0.02}}
			srv := startMockAPI(t, sc)
			cfg, dir := writeConfig(t, srv.URL()+"/items", "")
			out := filepath.Join(dir, "out.jsonl")
			args := []string{"-c", cfg, "--out", out, "--state", filepath.Join(dir, "state")}

			p := startCrawl(t, bin, args...)
			waitForLines(t, p, out)
			require.NoError(t, p.cmd.Process.Signal(sig))
			p.wait(t, 20*time.Second)
			require.Equal(t, exitInterrupted, p.cmd.ProcessState.ExitCode(), p.stderr.String())
			first := p.summary(t)
			assert.True(t, first.Interrupted)
			assert.Less(t, first.Succeeded+first.Failed, int64(sc.Items), "interrupted before the end")
			assert.Contains(t, p.stderr.String(), "interrupt again to exit at once")
			assert.Len(t, jsonLines(t, out), int(first.Succeeded), "the drained items were written and committed")

			p = startCrawl(t, bin, args...)
			p.wait(t, 60*time.Second)
			require.Equal(t, exitOK, p.cmd.ProcessState.ExitCode(), p.stderr.String())
			sum := p.summary(t)
			assert.True(t, sum.Resumed)
			assert.Equal(t, int64(sc.Items), sum.Succeeded+sum.Failed)
			requireEveryItemOnce(t, srv, sc, out, filepath.Join(dir, "out.failed.jsonl"))
		})
	}
}

// TestCrawlExitsAtOnceOnASecondSIGINT interrupts twice a crawl whose hung
// requests would hold the drain for its 5 s: it exits 130 at once, and the
// next run (against the same address, now a fast API) resumes and finishes.
func TestCrawlExitsAtOnceOnASecondSIGINT(t *testing.T) {
	bin := buildPolitely(t)
	sc := mockapi.Scenario{Items: 300, PerPage: 50, Pagination: mockapi.PaginationLink,
		Faults: mockapi.Faults{Seed: 9, Hang: 0.25, TransientAttempts: 1, HangMax: time.Minute}}
	slow, err := mockapi.Start(mockapi.Config{Scenario: sc})
	require.NoError(t, err)
	addr := strings.TrimPrefix(slow.URL(), "http://")
	cfg, dir := writeConfig(t, slow.URL()+"/items", "")
	cfgText, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, bytes.Replace(cfgText, []byte("timeout: 2s"), []byte("timeout: 30s"), 1), 0o644))
	out := filepath.Join(dir, "out.jsonl")
	args := []string{"-c", cfg, "--out", out, "--state", filepath.Join(dir, "state")}

	stats := filepath.Join(dir, "stats.json")
	p := startCrawl(t, bin, append(args, "--stats", stats)...)
	waitForLines(t, p, out)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	time.Sleep(100 * time.Millisecond) // not an assertion: lets the first signal be handled first
	second := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM)) // GNU timeout's second signal
	p.wait(t, 20*time.Second)
	assert.Equal(t, exitInterrupted, p.cmd.ProcessState.ExitCode(), p.stderr.String())
	assert.Less(t, time.Since(second), 3*time.Second, "the drain (up to 5s) was cut short")
	assert.Contains(t, p.stderr.String(), "interrupted again: exiting at once")
	// The summary so far is still printed and written.
	printed := p.summary(t)
	data, err := os.ReadFile(stats)
	require.NoError(t, err, "--stats is written on the second signal")
	var written crawl.Summary
	require.NoError(t, json.Unmarshal(data, &written))
	assert.Equal(t, printed, written)
	assert.True(t, written.Interrupted)
	assert.Positive(t, written.Requests)
	assert.Positive(t, written.Pages)
	assert.LessOrEqual(t, written.Requests, slow.Stats().Requests, "no more requests than the server received")
	require.NoError(t, slow.Close())

	sc.Faults = mockapi.Faults{}
	fast, err := mockapi.Start(mockapi.Config{Scenario: sc, Addr: addr})
	require.NoError(t, err)
	defer fast.Close()
	p = startCrawl(t, bin, args...)
	p.wait(t, 60*time.Second)
	require.Equal(t, exitOK, p.cmd.ProcessState.ExitCode(), p.stderr.String())
	sum := p.summary(t)
	assert.True(t, sum.Resumed)
	assert.Equal(t, int64(sc.Items), sum.Succeeded)
	requireEveryItemOnce(t, fast, sc, out, filepath.Join(dir, "out.failed.jsonl"))
}

// waitForLines waits until the crawl has written (and committed) a line.
func waitForLines(t *testing.T, p *process, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("the crawl ended before writing a line; stderr:\n%s", p.stderr.String())
		case <-ctx.Done():
			t.Fatalf("no line written within 30s; stderr:\n%s", p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
