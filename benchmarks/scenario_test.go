package benchmarks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSuiteSizesRunsFromTheOptimum(t *testing.T) {
	suite, err := Suite(1)
	require.NoError(t, err)
	byName := map[string]Scenario{}
	for _, sc := range suite {
		byName[sc.Name] = sc
		assert.Positive(t, sc.Work, sc.Name)
		assert.LessOrEqual(t, sc.Work, sc.Mock.Items, sc.Name)
	}
	assert.Equal(t, 1500, byName["quota"].Work, "15 s at 100 req/s")
	assert.Equal(t, 24000, byName["capacity"].Work, "15 s at 1,600 req/s")
	assert.Equal(t, 40000, byName["capacity-step"].Work, "10 s at 1,600, 10 s at 800, 10 s at 1,600")
	assert.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second}, byName["capacity-step"].Steps())
	assert.Equal(t, 500, byName["header-quota"].Mock.HeaderQuota.Limit, "the full suite keeps the preset")
	assert.Len(t, byName["fast"].Extra, 2)

	quick, err := Suite(0.1)
	require.NoError(t, err)
	for _, sc := range quick {
		if sc.Name == "capacity-step" {
			assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, sc.Steps())
			assert.Equal(t, 4000, sc.Work)
		}
		if sc.Name == "header-quota" {
			assert.InDelta(t, 100, sc.Optimum(0), 1e-9, "a shorter window, the same optimum")
		}
	}
}

func TestSuiteRejectsABadScale(t *testing.T) {
	for _, scale := range []float64{0, -1, 1.5} {
		_, err := Suite(scale)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "want 0 < scale <= 1")
	}
}

func TestSelectKeepsSuiteOrderAndNamesUnknownScenarios(t *testing.T) {
	suite, err := Suite(1)
	require.NoError(t, err)

	all, err := Select(suite, nil)
	require.NoError(t, err)
	assert.Len(t, all, len(suite))

	two, err := Select(suite, []string{"fast", "quota"})
	require.NoError(t, err)
	require.Len(t, two, 2)
	assert.Equal(t, "quota", two[0].Name)
	assert.Equal(t, "fast", two[1].Name)

	_, err = Select(suite, []string{"quota", "capacty"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown scenario "capacty" (known: quota, capacity, capacity-step, header-quota, fast)`)
}

func TestStrategiesStartWithTheBaseline(t *testing.T) {
	sts := Strategies()
	require.NotEmpty(t, sts)
	assert.Equal(t, Baseline, sts[0].Name)
	names := make([]string, len(sts))
	for i, s := range sts {
		names[i] = s.Name
	}
	assert.Equal(t, []string{"fixed-50", "aimd", "gradient2", "vegas", "default"}, names)
}
