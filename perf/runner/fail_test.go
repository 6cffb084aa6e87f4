package runner

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/perf/report"
	"github.com/nsbench/nsbench/perf/workload"
	"github.com/nsbench/nsbench/perf/workload/cpu"
)

// An environment that fails mid-run (its fourth job is killed) does not end
// the matrix: the failure is recorded with its full error, every cell of
// that environment is marked, the other environments finish, and the
// report says so.
func TestFailingEnvironmentDoesNotEndTheMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CPU workload")
	}
	ctx := context.Background()
	dir := t.TempDir()
	const bad = "native:fail-after=3"
	cfg := Config{Name: "fail", Repetitions: 3, Seed: 1, Envs: []string{"native", bad, "native:copy"},
		Workloads: []workload.Workload{&cpu.Sim{Concurrency: []int{1, 2}, Particles: 50, MemMiB: 1}}}
	require.NoError(t, cfg.Validate())
	f, err := Run(ctx, Options{Config: cfg, Out: filepath.Join(dir, "f.json"), Bins: bins, StateDir: filepath.Join(dir, "state")})
	require.NoError(t, err, "a failing environment must not fail the run")
	fl, ok := f.Failed[bad]
	require.True(t, ok, "the failure is recorded: %+v", f.Failed)
	assert.Contains(t, fl.Error, "signal: killed")
	assert.Contains(t, fl.Error, "nsbench-cpu", "the command that failed is named")
	for _, c := range f.Cells {
		if c.Env == bad {
			assert.NotEmpty(t, c.Failed, c.Key)
			assert.Less(t, len(c.Samples), 3, c.Key)
			continue
		}
		assert.Empty(t, c.Failed, c.Key)
		assert.Len(t, c.Samples, 3, "%s: the others go on to the end", c.Key)
	}
	require.NoError(t, CheckComplete(cfg, f), "failed cells are accounted for")
	tables, err := report.Build(f)
	require.NoError(t, err)
	assert.Contains(t, report.Markdown(f, tables), "FAILED "+bad)
}
