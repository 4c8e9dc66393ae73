package benchmarks

import (
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/politely/politely/internal/cputime"
	"github.com/politely/politely/mockapi"
)

// TestQuickSuiteWritesEveryTableAndDecodablePlots runs the whole suite, every
// strategy against fresh mock servers, at a fraction of the quick size.
func TestQuickSuiteWritesEveryTableAndDecodablePlots(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario against real servers")
	}
	suite, err := Suite(0.02)
	require.NoError(t, err)
	var seen []string
	results, err := Run(context.Background(), suite, Strategies(), WithOnResult(func(r Result) {
		seen = append(seen, r.Scenario+"/"+r.Strategy)
		t.Logf("%s/%s: %d items in %v", r.Scenario, r.Strategy, r.Items, r.Elapsed)
	}))
	require.NoError(t, err)
	require.Len(t, results, len(suite)*len(Strategies())+2, "every strategy in every scenario, and the overhead pair")
	assert.Len(t, seen, len(results))

	for _, r := range results {
		assert.Positive(t, r.Items, "%s/%s did some work", r.Scenario, r.Strategy)
		assert.GreaterOrEqual(t, r.Requests, r.Items, "%s/%s: the server answered every item", r.Scenario, r.Strategy)
		assert.LessOrEqual(t, r.Items, int64(r.Work))
		assert.GreaterOrEqual(t, len(r.Samples), 2, "%s/%s: a time series", r.Scenario, r.Strategy)
		if cputime.Known {
			assert.Positive(t, r.CPU, "%s/%s: the CPU time the work took", r.Scenario, r.Strategy)
		}
		if !r.Capped {
			assert.Equal(t, int64(r.Work), r.Items+r.Failed, "%s/%s: an uncapped run finishes its work", r.Scenario, r.Strategy)
		}
		if r.Scenario == "fast" {
			assert.Zero(t, r.Throttled+r.Errors, "the fast mock refuses nothing")
			assert.Empty(t, r.Optimum)
			assert.Equal(t, fastRounds, r.Runs, "%s/%s: the median of the fast mock's rounds", r.Scenario, r.Strategy)
		} else {
			assert.Zero(t, r.Runs, "%s/%s: one run", r.Scenario, r.Strategy)
			assert.NotEmpty(t, r.Optimum)
			assert.Positive(t, r.P50)
		}
	}

	dir := t.TempDir()
	rep := NewReport("go test", time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), ThisMachine(), suite, results)
	require.NoError(t, rep.Write(dir))

	md, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	report := string(md)
	assert.Contains(t, report, "- command: `go test`")
	assert.Contains(t, report, "- date: 2026-11-25 03:00 UTC")
	assert.Contains(t, report, "## Targets\n")
	assert.Contains(t, report, "## Headline: default against fixed-50")
	for _, sc := range suite {
		assert.Contains(t, report, "| "+sc.Name+" | ", "headline row of %s", sc.Name)
	}
	assert.Contains(t, report, "HTTP overhead: `politely-fixed-50`")
	assert.Contains(t, report, "Each row is its strategy's median run by items/s of 3, the strategies run in an order rotated each round.")
	for _, sc := range suite {
		section := report[strings.Index(report, "## "+sc.Name+"\n"):]
		if next := strings.Index(section[3:], "\n## "); next >= 0 {
			section = section[:next+3]
		}
		for _, st := range append(Strategies(), sc.Extra...) {
			assert.Contains(t, section, "| "+st.Name+" | ", "%s table has a row for %s", sc.Name, st.Name)
		}
		assert.Contains(t, section, "!["+sc.Name+"]("+PlotFile(sc.Name)+")")

		f, err := os.Open(filepath.Join(dir, PlotFile(sc.Name)))
		require.NoError(t, err)
		_, err = png.Decode(f)
		require.NoError(t, f.Close())
		require.NoError(t, err, "%s plot decodes", sc.Name)
	}

	data, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Len(t, back.Results, len(results))
	assert.Equal(t, rep.Targets(), back.Targets(), "the JSON keeps everything the report is made of")
}

func TestRunOneRejectsBadScenariosAndStrategies(t *testing.T) {
	suite, err := Suite(0.03)
	require.NoError(t, err)
	sc := suite[0]
	tests := []struct {
		name string
		sc   func(Scenario) Scenario
		st   Strategy
		want string
	}{
		{name: "no work", sc: func(s Scenario) Scenario { s.Work = 0; return s }, st: Strategies()[0], want: "work 0"},
		{name: "more work than items", sc: func(s Scenario) Scenario { s.Work = s.Mock.Items + 1; return s }, st: Strategies()[0], want: "want 1..items (1000000)"},
		{name: "no cap", sc: func(s Scenario) Scenario { s.Cap = 0; return s }, st: Strategies()[0], want: "cap 0s"},
		{name: "fixed pool without consumers", sc: func(s Scenario) Scenario { return s }, st: Strategy{Name: "x", Kind: KindFixedPool}, want: "strategy x: consumers 0"},
		{name: "unknown kind", sc: func(s Scenario) Scenario { return s }, st: Strategy{Name: "y"}, want: "strategy y: unknown kind Kind(0)"},
		{name: "bad algorithm", sc: func(s Scenario) Scenario { return s }, st: Strategy{Name: "z", Kind: KindPolitely, Algorithm: "nope"}, want: "quota/z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunOne(context.Background(), tt.sc(sc), tt.st)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRunStopsWhenItsContextEnds(t *testing.T) {
	suite, err := Suite(0.03)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results, err := Run(ctx, suite, Strategies())
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, results)
}

// WithTLS serves the mock over HTTPS and every client trusts it: the
// default strategy and the fixed-50 baseline fetch the fast mock's work
// over it, every item answered 200.
func TestRunOneOverTLS(t *testing.T) {
	cert, err := mockapi.NewCert()
	require.NoError(t, err)
	suite, err := Suite(0.02)
	require.NoError(t, err)
	fast, err := Select(suite, []string{"fast"})
	require.NoError(t, err)
	for _, st := range []Strategy{{Name: Default, Kind: KindPolitely}, {Name: Baseline, Kind: KindFixedPool, Consumers: 50}} {
		res, err := RunOne(context.Background(), fast[0], st, WithTLS(cert))
		require.NoError(t, err, st.Name)
		assert.Equal(t, int64(fast[0].Work), res.Items, st.Name)
		assert.Equal(t, int64(fast[0].Work), res.ByStatus[200], st.Name)
	}
}
