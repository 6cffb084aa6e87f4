package cpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
)

func TestSimPoints(t *testing.T) {
	s := Sim{Particles: 10}
	require.NoError(t, s.Validate())
	var jobs []string
	for _, p := range s.Points(2) {
		jobs = append(jobs, p["jobs"])
	}
	assert.Equal(t, []string{"1", "2", "3", "4"}, jobs, "1…2×cores by default")
	s.Concurrency = []int{3}
	assert.Len(t, s.Points(2), 1)
	assert.Error(t, Sim{}.Validate(), "no particles")
}

func TestSimParse(t *testing.T) {
	s, err := Sim{}.Parse([]byte(`{"seed":1,"particles":5,"wall_s":0.5,"user_s":0.4,"sys_s":0.1,"maxrss_kib":2048,"checksum":"ab"}`))
	require.NoError(t, err)
	assert.Equal(t, 0.5, s.Value)
	assert.Equal(t, 2.0, s.Metrics["maxrss_mib"])
	for _, bad := range []string{"", "{}", `{"wall_s":1}`, "nsbench-cpu: killed"} {
		_, err := Sim{}.Parse([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestSysbenchWorkloadParse(t *testing.T) {
	data := testutil.ReadFile(t, testutil.Testdata(t, "sysbench", "cpu-2threads.txt"))
	s, err := Sysbench{}.Parse(data)
	require.NoError(t, err)
	assert.Equal(t, 2466.08, s.Value)
	assert.Equal(t, 4000.0, s.Metrics["events"])
	require.Len(t, s.Raw, 1)
	var points []string
	for _, p := range (Sysbench{Threads: []int{1, 8}}).Points(2) {
		points = append(points, p["threads"])
	}
	assert.Equal(t, []string{"1", "8"}, points)
	assert.Error(t, Sysbench{MaxPrime: 1}.Validate())
}
