package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/politely/politely/mockapi"
)

func TestDescribeNamesTheRevision(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "56f1959ab3c2e0d1f2a3b4c5d6e7f8091a2b3c4d"
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{name: "go run: no version, no VCS", want: "(devel)"},
		{name: "a module version", info: debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, want: "v1.2.0"},
		{name: "a clean checkout",
			info: debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"},
				Settings: vcs("vcs", "git", "vcs.revision", rev, "vcs.time", "2026-11-29T15:40:00Z", "vcs.modified", "false")},
			want: "v1.2.0 (revision " + rev + ", 2026-11-29T15:40:00Z)"},
		{name: "a modified checkout",
			info: debug.BuildInfo{Settings: vcs("vcs.revision", rev, "vcs.modified", "true")},
			want: "(devel) (revision " + rev + ", modified)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, describe(&tt.info))
		})
	}
}

func TestVersionFlagAndCommandPrintTheSameLine(t *testing.T) {
	code, flag, stderr := runCLI(t, context.Background(), "--version")
	require.Equal(t, exitOK, code, stderr)
	_, cmd, _ := runCLI(t, context.Background(), "version")
	assert.Equal(t, "politely "+version()+"\n", flag)
	assert.Equal(t, flag, cmd)
}

// TestVersionFlagPrintsTheRevision commits this checkout's files, as they
// are, to a new git repository (go build stamps no revision in a git
// worktree), builds politely there and runs --version.
func TestVersionFlagPrintsTheRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the module and builds the binary")
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, append([]string{"-c", "user.name=test", "-c", "user.email=test@localhost"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		require.NoError(t, err, "git %v", args)
		return strings.TrimSpace(string(out))
	}
	top := git(".", "rev-parse", "--show-toplevel")
	repo := t.TempDir()
	for _, f := range strings.Split(git(top, "ls-files", "--cached", "--others", "--exclude-standard"), "\n") {
		data, err := os.ReadFile(filepath.Join(top, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree
		}
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(repo, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, f), data, 0o644))
	}
	git(repo, "init", "--quiet")
	git(repo, "add", "-A")
	git(repo, "commit", "--quiet", "-m", "the checkout as it is")
	head := git(repo, "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "politely")
	build := exec.Command(goBin, "build", "-buildvcs=true", "-o", bin, "./cmd/politely")
	build.Dir = repo
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	out, err = exec.Command(bin, "--version").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "(revision "+head+", ")
	info, err := buildinfo.ReadFile(bin)
	require.NoError(t, err)
	assert.Equal(t, "politely "+describe(info)+"\n", string(out))
}

func TestLogLevelFiltersTheLog(t *testing.T) {
	srv := startMockAPI(t, mockapi.Scenario{Items: 5})
	cfgPath, dir := writeConfig(t, srv.URL()+"/items", "")
	levels := func(level string) map[string]bool {
		t.Helper()
		code, _, stderr := runCLI(t, context.Background(), "crawl", "-c", cfgPath, "--out", filepath.Join(dir, level+".jsonl"),
			"--log-format", "json", "--quiet", "--log-level", level)
		require.Equal(t, exitOK, code, stderr)
		seen := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
			var entry struct {
				Level string `json:"level"`
			}
			if l != "" {
				require.NoError(t, json.Unmarshal([]byte(l), &entry), "a log line: %q", l)
				seen[entry.Level] = true
			}
		}
		return seen
	}
	assert.Equal(t, map[string]bool{"info": true, "debug": true}, levels("debug"), "debug shows the transport's and engine's details")
	assert.Equal(t, map[string]bool{"info": true}, levels("info"))
	assert.Empty(t, levels("warn"), "a crawl without trouble logs no warning")

	code, _, stderr := runCLI(t, context.Background(), "crawl", "-c", cfgPath, "--log-level", "verbose")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `--log-level: want debug, info, warn or error, got "verbose"`)
}

func TestCompletionScriptsForEveryShell(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run(shell, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, context.Background(), "completion", shell)
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, stdout, "politely")
		})
	}
}

// crawlOnTerminal runs a crawl whose stderr is a pseudo-terminal with TERM
// set to termName, and returns what the terminal received.
func crawlOnTerminal(t *testing.T, termName string) string {
	t.Helper()
	srv := startMockAPI(t, mockapi.Scenario{Items: 20, PerPage: 8, Pagination: mockapi.PaginationLink})
	cfgPath, dir := writeConfig(t, srv.URL()+"/items", "")
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	var got bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&got, ptmx) // ends with EIO once tty is closed
	}()
	t.Setenv("TERM", termName)

	var stdout bytes.Buffer
	code := run(context.Background(), []string{"crawl", "-c", cfgPath, "--out", filepath.Join(dir, "o.jsonl")}, &stdout, tty)
	require.NoError(t, tty.Close())
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	require.Equal(t, exitOK, code, got.String())
	return got.String()
}

func TestStatusLineOnlyWhereCursorCodesWork(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	drawn := crawlOnTerminal(t, "xterm")
	assert.Contains(t, drawn, "\x1b[K", "a terminal gets the live status line")
	assert.Contains(t, drawn, "items 20")

	dumb := crawlOnTerminal(t, "dumb")
	assert.NotContains(t, dumb, "\x1b", "TERM=dumb: no escape codes")
	assert.Contains(t, dumb, "crawl starting", "the logs still come")

	var stderr bytes.Buffer
	srv := startMockAPI(t, mockapi.Scenario{Items: 5})
	cfgPath, dir := writeConfig(t, srv.URL()+"/items", "")
	t.Setenv("TERM", "xterm")
	code := run(context.Background(), []string{"crawl", "-c", cfgPath, "--out", filepath.Join(dir, "o.jsonl")}, io.Discard, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	assert.NotContains(t, stderr.String(), "\x1b", "not a terminal: no escape codes")
}

func TestMetricsServeTheGoRuntimeAndTheProcess(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	addr, stop, err := serveMetrics("127.0.0.1:0", newMetricsRegistry())
	require.NoError(t, err)
	defer stop()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		assert.Contains(t, string(body), "\n"+name+" ", "%s is served", name)
	}
}
