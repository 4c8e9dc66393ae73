package benchmarks

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// fastBenchWork is how many items a run of BenchmarkFastMock fetches: a
// fifth of the full suite's `fast` scenario, about a second a run.
const fastBenchWork = 20_000

// BenchmarkFastMock runs the `fast` scenario's client stacks (fixed-50, the
// default strategy, politely-fixed-50 and net/http-50) against the fast mock,
// no latency and no limit, where the process's CPU, which the mock shares, is
// the limit: what each stack costs an item. Each iteration runs every stack
// once, in turn (one RunOne of fastBenchWork items on a fresh mock each), so
// that a machine's drift reaches all alike; single runs of one stack spread
// by a tenth. The metrics are each stack's median run over the iterations,
// and the two ratios of the bench's targets on this mock, of medians:
//
//	go test ./benchmarks -run '^$' -bench BenchmarkFastMock -benchtime 8x
//
// items/s is the figure the targets read; cpu-µs/item, the process's CPU time
// (client and mock) per item, is the one a stack's own cost moves.
func BenchmarkFastMock(b *testing.B) {
	suite, err := Suite(1)
	if err != nil {
		b.Fatal(err)
	}
	i := slices.IndexFunc(suite, func(sc Scenario) bool { return sc.Name == "fast" })
	if i < 0 {
		b.Fatal("no fast scenario in the suite")
	}
	fast := suite[i]
	fast.Work = fastBenchWork
	var stacks []Strategy
	for _, st := range append(Strategies(), overheadStrategies()...) {
		switch st.Name {
		case Baseline, Default, OverheadPolitely, OverheadNetHTTP:
			stacks = append(stacks, st)
		}
	}
	runs := make([][]Result, len(stacks))
	for b.Loop() {
		for j, st := range stacks {
			res, err := RunOne(context.Background(), fast, st)
			if err != nil {
				b.Fatal(err)
			}
			if res.Items != int64(fast.Work) {
				b.Fatalf("%s: %d of %d items", st.Name, res.Items, fast.Work)
			}
			runs[j] = append(runs[j], res)
		}
	}
	median := map[string]float64{}
	for j, st := range stacks {
		m := medianRun(runs[j])
		rate := float64(m.Items) / m.Elapsed.Seconds()
		median[st.Name] = rate
		unit := strings.ReplaceAll(st.Name, "/", "")
		b.ReportMetric(rate, unit+"-items/s")
		b.ReportMetric(m.CPU.Seconds()*1e6/float64(m.Items), unit+"-cpu-µs/item")
	}
	b.ReportMetric(100*median[Default]/median[Baseline], "default/fixed-50-%")
	b.ReportMetric(100*median[OverheadPolitely]/median[OverheadNetHTTP], "politely/net-http-%")
}
