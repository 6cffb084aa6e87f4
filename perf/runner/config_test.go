package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShardsPartitionTheMatrix(t *testing.T) {
	for _, name := range []string{"quick", "seed000", "seed001"} {
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
	assert.Equal(t, map[string]int{"cpu": 2, "sysbench": 2, "fs": 6, "net": 3}, workloads, "quick runs every workload")
	// seed 001 sweeps numjobs and iodepth over 2^0…2^6
	assert.True(t, keys["fs bs=4k engine=libaio iodepth=64 numjobs=1 on=bind rw=randread"])
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
	for name, body := range map[string]string{
		"no native": `{"name":"x","repetitions":1,"envs":["runc"]}`,
		"unknown":   `{"name":"x","repetitions":1,"envs":["native"],"gpu":{}}`,
		"no reps":   `{"name":"x","envs":["native"]}`,
	} {
		p := filepath.Join(dir, "c.json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		_, err := LoadConfig(p)
		assert.Error(t, err, name)
	}
}

func TestRotate(t *testing.T) {
	envs := []string{"native", "nsrun", "runc"}
	for _, tc := range []struct {
		rep  int
		want []string
	}{
		{0, []string{"native", "nsrun", "runc"}},
		{1, []string{"nsrun", "runc", "native"}},
		{2, []string{"runc", "native", "nsrun"}},
		{3, []string{"native", "nsrun", "runc"}},
	} {
		assert.Equal(t, tc.want, rotate(envs, tc.rep), "rep %d", tc.rep)
	}
	assert.Equal(t, []string{"native", "nsrun", "runc"}, envs, "the caller's order is kept")
	assert.Empty(t, rotate([]string(nil), 1))
}
