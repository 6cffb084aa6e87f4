package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/perf/workload/fs"
)

func TestShardsPartitionTheMatrix(t *testing.T) {
	for _, name := range []string{"quick", "seed000", "seed001", "quick-vm", "quick-vm-docker", "vm-ci"} {
		cfg, err := LoadConfig(filepath.Join("..", "configs", name+".json"))
		require.NoError(t, err)
		all := cfg.Points(2)
		require.NotEmpty(t, all)
		for n := 1; n <= 7; n++ {
			seen := map[string]int{}
			minLen, maxLen := len(all), 0
			for i := 1; i <= n; i++ {
				sel := Shard{i, n}.Select(cfg.Points(2))
				minLen, maxLen = min(minLen, len(sel)), max(maxLen, len(sel))
				for _, p := range sel {
					seen[p.Key()]++
				}
			}
			assert.Len(t, seen, len(all), "%s n=%d: every point in some shard", name, n)
			for k, c := range seen {
				assert.Equal(t, 1, c, "%s n=%d: %s in %d shards", name, n, k, c)
			}
			assert.LessOrEqual(t, maxLen-minLen, 1, "%s n=%d: balanced", name, n)
		}
	}
}

func TestPointsAreUnique(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "configs", "seed001.json"))
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, p := range cfg.Points(2) {
		assert.False(t, keys[p.Key()], p.Key())
		keys[p.Key()] = true
	}
	quick, err := LoadConfig(filepath.Join("..", "configs", "quick.json"))
	require.NoError(t, err)
	workloads := map[string]int{}
	for _, p := range quick.Points(2) {
		workloads[p.Workload]++
	}
	assert.Equal(t, map[string]int{"cpu": 2, "sysbench": 1, "fs": 2, "net": 2}, workloads, "quick runs every workload")
	// seed 001 sweeps numjobs at iodepth 1 and iodepth at numjobs 1 over
	// 2^0…2^6, reads and writes in the container's root filesystem, and
	// iperf3 4 streams of 128 KiB over the bridge and over loopback
	assert.True(t, keys["fs bs=4k engine=libaio iodepth=64 numjobs=1 on=rootfs rw=read"])
	assert.True(t, keys["fs bs=4k engine=libaio iodepth=1 numjobs=64 on=rootfs rw=write"])
	assert.False(t, keys["fs bs=4k engine=libaio iodepth=64 numjobs=64 on=rootfs rw=write"], "one at a time, not crossed")
	assert.Len(t, keys, 2*13+2)
	assert.True(t, keys["net len=128K parallel=4 proto=tcp topo=bridge"])
}

func TestParseShard(t *testing.T) {
	s, err := ParseShard("2/8")
	require.NoError(t, err)
	assert.Equal(t, Shard{2, 8}, s)
	s, err = ParseShard("")
	require.NoError(t, err)
	assert.Equal(t, Shard{1, 1}, s)
	for _, bad := range []string{"0/3", "4/3", "a/b", "3"} {
		_, err := ParseShard(bad)
		assert.ErrorContains(t, err, "want i/n", bad)
	}
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	const cpu = `"cpu":{"particles":1}`
	for name, tc := range map[string]struct{ body, want string }{
		"no native":        {`{"name":"x","repetitions":1,"envs":["runc"],` + cpu + `}`, "envs must include native"},
		"unknown workload": {`{"name":"x","repetitions":1,"envs":["native"],"gpu":{}}`, `unknown key "gpu"`},
		"unknown field":    {`{"name":"x","repetitions":1,"envs":["native"],"cpu":{"particles":1,"cores":2}}`, `cpu: json: unknown field "cores"`},
		"bad section":      {`{"name":"x","repetitions":1,"envs":["native"],"fs":{"runtime_s":1}}`, "fs: runtime_s >= 1 and size are required"},
		"no reps":          {`{"name":"x","envs":["native"],` + cpu + `}`, "repetitions >= 1"},
		"no workload":      {`{"name":"x","repetitions":1,"envs":["native"]}`, "no workload"},
		"bad arch":         {`{"name":"x","repetitions":1,"envs":["native"],"arch":"riscv",` + cpu + `}`, `arch "riscv"`},
		"bad vm field":     {`{"name":"x","repetitions":1,"envs":["native"],"vm":{"cpu":2},` + cpu + `}`, `unknown field "cpu"`},
	} {
		p := filepath.Join(dir, "c.json")
		require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o644))
		_, err := LoadConfig(p)
		assert.ErrorContains(t, err, tc.want, name)
	}
}

// A config marshals back to its file's shape (what a VM guest gets), and
// -set overrides reach the workloads' sections.
func TestConfigRoundTripAndSets(t *testing.T) {
	path := filepath.Join("..", "configs", "quick.json")
	cfg, err := LoadConfig(path)
	require.NoError(t, err)
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	var back Config
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, cfg, back)

	set, err := LoadConfig(path, "repetitions=2", "fs.runtime_s=7", `kernels=["stock","hardened"]`, "vm.cpus=4", "arch=arm64", "name=q2")
	require.NoError(t, err)
	assert.Equal(t, 2, set.Repetitions)
	assert.Equal(t, "q2", set.Name)
	assert.Equal(t, []string{"stock", "hardened"}, set.Kernels)
	assert.Equal(t, "arm64", set.Arch)
	require.NotNil(t, set.VM)
	assert.Equal(t, 4, set.VM.CPUs)
	assert.Equal(t, 7, set.Workload("fs").(*fs.Fio).RuntimeS)
	assert.Equal(t, 1, cfg.Workload("fs").(*fs.Fio).RuntimeS, "the first load is untouched")

	for _, bad := range []struct{ set, want string }{
		{"repetitions", "want path=value"},
		{"name.x=1", "name is not an object"},
		{"fs.nosuch=1", `unknown field "nosuch"`},
		{"repetitions=0", "repetitions >= 1"},
	} {
		_, err := LoadConfig(path, bad.set)
		assert.ErrorContains(t, err, bad.want, bad.set)
	}
}
