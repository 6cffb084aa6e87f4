package cpu

import (
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSysbench(t *testing.T) {
	// sysbench 1.0.20 on this machine (2 cores, busy with a kernel build)
	for _, tc := range []struct {
		file string
		want SysbenchResult
	}{
		{"cpu-2threads.txt", SysbenchResult{Version: "1.0.20", Threads: 2, EventsPerSec: 2466.08, TotalSeconds: 1.6212,
			Events: 4000, LatMinMs: 0.18, LatAvgMs: 0.81, LatMaxMs: 60.26, LatP95Ms: 1.96, ThreadEventsSD: 39}},
		{"cpu-1thread-1s.txt", SysbenchResult{Version: "1.0.20", Threads: 1, EventsPerSec: 2928.73, TotalSeconds: 1.0092,
			Events: 2958, LatMinMs: 0.18, LatAvgMs: 0.34, LatMaxMs: 60.25, LatP95Ms: 0.25}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := testutil.ReadFile(t, testutil.Testdata(t, "sysbench", tc.file))
			got, err := ParseSysbench(data)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseSysbenchBad(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "",
		"error":     "FATAL: invalid option --cpu-max-prime=x",
		"truncated": "sysbench 1.0.20\nNumber of threads: 1\nCPU speed:\n    events per second:  10.5\n",
		"bad value": "sysbench 1.0.20\nNumber of threads: one\n",
	} {
		_, err := ParseSysbench([]byte(in))
		assert.ErrorContains(t, err, "parse sysbench output", name)
	}
}

func TestSysbenchArgs(t *testing.T) {
	s := SysbenchRun{Threads: 2, MaxPrime: 10000, Events: 4000}
	require.NoError(t, s.Validate())
	assert.Equal(t, []string{"cpu", "--cpu-max-prime=10000", "--threads=2", "--time=0", "--events=4000", "run"}, s.Args())
	assert.Error(t, SysbenchRun{Threads: 0, MaxPrime: 1, Events: 1}.Validate())
}
