package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/workload"
	"github.com/nsbench/nsbench/perf/workload/cpu"
)

// bins are the programs runs need, resolved once (NSBENCH_CPU, NSBENCH_NSRUN,
// NSBENCH_NSNET, else built from this tree).
var bins Binaries

func TestMain(m *testing.M) {
	os.Exit(gobuild.RunWith(m, map[string]*string{"nsbench-cpu": &bins.CPU, "nsrun": &bins.NSRun, "nsnet": &bins.NSNet}))
}

// A real native run of a tiny CPU matrix, in two shards, merged, and resumed.
func TestRunShardsMergeResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CPU workload")
	}
	ctx := context.Background()
	dir := t.TempDir()
	// docker stands for an environment that is skipped with its reason:
	// keep only the go tool on PATH so that it is "not installed" here.
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	t.Setenv("PATH", filepath.Dir(goBin))
	cfg := Config{Name: "t", Repetitions: 2, Seed: 1, Envs: []string{"native", "docker"},
		Workloads: []workload.Workload{&cpu.Sim{Concurrency: []int{1, 2, 3}, Particles: 50, MemMiB: 1}}}
	require.NoError(t, cfg.Validate())

	var shards []*results.File
	for i := 1; i <= 2; i++ {
		f, err := Run(ctx, Options{Config: cfg, Out: filepath.Join(dir, "s.json"), Shard: Shard{i, 2}, Bins: bins, StateDir: filepath.Join(dir, "state")})
		require.NoError(t, err)
		shards = append(shards, f)
	}
	assert.Len(t, shards[0].Cells, 2) // jobs=1, jobs=3
	assert.Len(t, shards[1].Cells, 1)
	assert.Contains(t, shards[0].Skipped, "docker")
	m, err := results.Merge(shards...)
	require.NoError(t, err)
	require.Len(t, m.Cells, 3)
	for _, c := range m.Cells {
		assert.Len(t, c.Samples, 2, c.Key)
		assert.Equal(t, "s", c.Unit)
	}
	_, err = results.Merge(shards[0], shards[0])
	assert.ErrorContains(t, err, "overlapping shards")
	// the merge holds the whole matrix; one shard alone does not
	require.NoError(t, CheckComplete(cfg, m))
	assert.ErrorContains(t, CheckComplete(cfg, shards[0]), "missing cell cpu jobs=2 env=native")
	more := cfg
	more.Repetitions = 3
	assert.ErrorContains(t, CheckComplete(more, m), "2 samples, want at least 3")

	// resume: a file holding repetition 0 only gets repetition 1 added
	out := filepath.Join(dir, "r.json")
	one := cfg
	one.Repetitions = 1
	_, err = Run(ctx, Options{Config: one, Out: out, Bins: bins, StateDir: filepath.Join(dir, "state")})
	require.NoError(t, err)
	before, err := results.Load(out)
	require.NoError(t, err)
	f, err := Run(ctx, Options{Config: cfg, Out: out, Resume: true, Bins: bins, StateDir: filepath.Join(dir, "state")})
	require.NoError(t, err)
	for i, c := range f.Cells {
		require.Len(t, c.Samples, 2)
		assert.Equal(t, before.Cells[i].Samples[0], c.Samples[0], "resume keeps the old sample")
	}
}

// sysbench cpu natively: events/s is the value, the run did the events asked.
func TestRunSysbench(t *testing.T) {
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Skip("sysbench not installed (apt-get install sysbench)")
	}
	cfg := Config{Name: "sb", Repetitions: 1, Envs: []string{"native"},
		Workloads: []workload.Workload{&cpu.Sysbench{Threads: []int{1, 2}, MaxPrime: 2000, Events: 200}}}
	require.NoError(t, cfg.Validate())
	f, err := Run(context.Background(), Options{Config: cfg, Out: filepath.Join(t.TempDir(), "sb.json"), StateDir: t.TempDir()})
	require.NoError(t, err)
	require.Len(t, f.Cells, 2)
	for _, c := range f.Cells {
		assert.Equal(t, "events/s", c.Unit, c.Key)
		require.Len(t, c.Samples, 1, c.Key)
		assert.Positive(t, c.Samples[0].Value, c.Key)
		assert.InDelta(t, 200/c.Samples[0].Value, c.Samples[0].Metrics["total_s"], 0.05, "events/s is events over total time")
	}
}

func TestStateDirNameSeparatesNothing(t *testing.T) {
	for env, want := range map[string]string{
		"docker":               "docker",
		"docker:storage=aufs":  "docker_storage_aufs",
		"nsrun:seccomp=docker": "nsrun_seccomp_docker",
		"native:stop=0.5,x":    "native_stop_0.5_x",
	} {
		got := stateDirName(env)
		assert.Equal(t, want, got, env)
		assert.NotContains(t, got, ":", "':' separates aufs branches and overlayfs lower dirs")
	}
}
