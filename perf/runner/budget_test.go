package runner

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/perf/workload"
	"github.com/nsbench/nsbench/perf/workload/cpu"
)

// TestBudgetLeftForTheAdaptiveWorkload: the precision budget bounds the
// rounds beyond the minimum, so a slow workload outside the goal (here
// sysbench, its fixed rounds several times longer than the whole budget)
// does not leave the adaptive one (cpu) without a single extra round, as
// it did while the budget counted from the run's start (make bench's CPU
// cells stopped at the minimum after the fs and net rounds).
func TestBudgetLeftForTheAdaptiveWorkload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sysbench and the CPU workload for about half a minute")
	}
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Skip("sysbench not installed (apt-get install sysbench)")
	}
	// The budget is one second so that the fixed rounds (four sysbench
	// samples of 3000 events, 4 s here and 2 s on the fastest CI machine
	// seen) outlast it on any machine; a budget counted from the run's
	// start would leave the CPU cells no extra round at all.
	const minReps, budgetS = 2, 1
	cfg := Config{Name: "budget", Repetitions: minReps, Seed: 1, Envs: []string{"native", "native:copy"},
		Workloads: []workload.Workload{
			&cpu.Sim{Concurrency: []int{1}, Particles: 50, MemMiB: 1},
			&cpu.Sysbench{Threads: []int{1}, MaxPrime: 10000, Events: 3000},
		},
		// A goal no run reaches: the budget or max_repetitions ends it.
		Precision: &PrecisionConfig{HalfWidth: 1e-6, MaxRepetitions: 6, MaxMinutes: budgetS / 60.0, Workloads: []string{"cpu"}}}
	require.NoError(t, cfg.Validate())
	dir := t.TempDir()
	f, err := Run(context.Background(), Options{Config: cfg, Out: filepath.Join(dir, "b.json"), Bins: bins, StateDir: filepath.Join(dir, "state")})
	require.NoError(t, err)
	t.Logf("precision: %s after %.1f s, %.1f s of them beyond the minimum", f.Precision.Stop, f.Precision.ElapsedS, f.Precision.AdaptiveS)
	require.Greater(t, f.Precision.ElapsedS-f.Precision.AdaptiveS, float64(budgetS), "the fixed rounds alone outlast the budget (else this shows nothing)")
	for _, c := range f.Cells {
		switch c.Workload {
		case "cpu":
			assert.Greater(t, len(c.Samples), minReps, "%s: repetitions beyond the minimum (%s)", c.Key, c.Stopped)
		case "sysbench":
			assert.Len(t, c.Samples, minReps, "%s: outside the goal, the minimum only", c.Key)
		}
	}
	// One round more than the budget at most: the check is made before each.
	assert.Less(t, f.Precision.AdaptiveS, float64(budgetS)+10)
}
