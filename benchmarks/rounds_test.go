package benchmarks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRoundOrderPutsEachStrategyFirstAndLastOnceInAsManyRounds(t *testing.T) {
	first, last := map[int]int{}, map[int]int{}
	for round := range 3 {
		order := roundOrder(3, round, 3)
		assert.ElementsMatch(t, []int{0, 1, 2}, order, "round %d runs every strategy once", round)
		first[order[0]]++
		last[order[2]]++
	}
	assert.Equal(t, map[int]int{0: 1, 1: 1, 2: 1}, first)
	assert.Equal(t, map[int]int{0: 1, 1: 1, 2: 1}, last)
	assert.Equal(t, []int{0, 1, 2, 3}, roundOrder(4, 0, 2), "the first round keeps the given order")
}

// The fast mock's seven strategies in three rounds: no strategy keeps to one
// end of the order.
func TestRoundOrderSpreadsEachStrategysPlacesWhereStrategiesOutnumberRounds(t *testing.T) {
	const n, rounds = 7, 3
	sum := make([]int, n)
	firsts := map[int]bool{}
	for round := range rounds {
		order := roundOrder(n, round, rounds)
		assert.ElementsMatch(t, []int{0, 1, 2, 3, 4, 5, 6}, order, "round %d runs every strategy once", round)
		firsts[order[0]] = true
		for place, i := range order {
			sum[i] += place
		}
	}
	assert.Len(t, firsts, rounds, "each round starts with another strategy")
	for i, s := range sum {
		mean := float64(s) / rounds
		assert.InDelta(t, float64(n-1)/2, mean, 1, "strategy %d's mean place", i)
	}
}

func TestMedianRunKeepsTheRunOfMedianItemsPerSecondWhole(t *testing.T) {
	run := func(items int64, p99 time.Duration) Result {
		return Result{Items: items, Elapsed: time.Second, P99: p99}
	}
	got := medianRun([]Result{run(300, 3*time.Millisecond), run(100, time.Millisecond), run(200, 2*time.Millisecond)})
	assert.Equal(t, int64(200), got.Items)
	assert.Equal(t, 2*time.Millisecond, got.P99, "every figure of the row comes from the median run")
	assert.Equal(t, 3, got.Runs)

	got = medianRun([]Result{run(400, 0), run(100, 0), run(300, 0), run(200, 0)})
	assert.Equal(t, int64(200), got.Items, "of an even count, the lower middle")

	got = medianRun([]Result{run(50, 0)})
	assert.Equal(t, int64(50), got.Items)
	assert.Zero(t, got.Runs, "a lone run is no median")
}
