package benchmarks

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func syntheticReport() Report {
	step := synthetic(1000, repeat(1000, 30)...)
	step.Optimum = append(step.Optimum, Level{At: time.Second, PerSec: 500}, Level{At: 2 * time.Second, PerSec: 1000})
	capped := synthetic(100, repeat(10, 30)...)
	capped.Capped, capped.Work, capped.Failed = true, 1000, 7
	return Report{
		Command: "politely bench --quick",
		Date:    time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC),
		Machine: Machine{OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26.8", LoadAvg: "1.50"},
		Scenarios: []ScenarioInfo{
			{Name: "quota", Description: "token bucket", Work: 1000, Cap: 5 * time.Second},
			{Name: "capacity-step", Description: "steps", Work: 2500, Cap: 5 * time.Second},
			{Name: "fast", Description: "no limits", Work: 3000, Cap: 5 * time.Second},
		},
		Results: []Result{
			withServer(capped, "quota", Baseline, 1000, 900, map[int]int64{200: 100, 429: 900}),
			withServer(synthetic(100, repeat(100, 30)...), "quota", Default, 300, 0, map[int]int64{200: 300}),
			withServer(step, "capacity-step", Default, 3000, 0, map[int]int64{200: 3000}),
			withServer(synthetic(0, repeat(30000, 1)...), "fast", Default, 3000, 0, map[int]int64{200: 3000}),
		},
	}
}

func TestWriteMarkdownTablesHaveAsManyCellsAsHeaders(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, syntheticReport().WriteMarkdown(&buf))
	md := buf.String()

	for _, block := range strings.Split(md, "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if !strings.HasPrefix(lines[0], "|") {
			continue
		}
		want := strings.Count(lines[0], "|")
		for _, l := range lines[1:] {
			assert.Equal(t, want, strings.Count(l, "|"), "table line %q under %q", l, lines[0])
		}
	}
}

func TestWriteMarkdownSaysWhereWhenAndHow(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, syntheticReport().WriteMarkdown(&buf))
	md := buf.String()
	for _, want := range []string{
		"- command: `politely bench --quick`",
		"- date: 2026-11-25 04:00 UTC",
		"- machine: linux/amd64, 2 CPUs (runtime.NumCPU), go1.26.8, load average 1.50 at the start",
		"| quota | 100 | 100 | 1.000 | 0.00% | 0.1 s | 10 (capped) | 0.100 | 90.00% | never |",
		"| fast | unlimited | 30000 | – | 0.00% | – | – | – | – | – |",
		"| fixed-50 | 30 of 1000 (capped), 7 failed |",
		"Optimum: 1000, 500 from 1s, 1000 from 2s items/s.",
		"| T90 after 1s | T90 after 2s |",
		"![capacity-step](capacity-step.png)",
	} {
		assert.Contains(t, md, want)
	}
	assert.NotContains(t, md, "HTTP overhead:", "no overhead pair ran")
}
