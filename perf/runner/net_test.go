package runner

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/engine"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/perf/workload"
	inet "github.com/nsbench/nsbench/perf/workload/net"
)

// A real run of every topology in runc (and docker and podman when
// installed): two containers on the run's own bridge, host server with a
// container client, and the loopback baseline; afterwards no link, lease or
// lease directory of the run is left.
func TestRunNetTopologies(t *testing.T) {
	testutil.NeedRoot(t, "the nsnet bridge and rootful runc")
	for _, tool := range []string{"iperf3", "runc", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if testing.Short() {
		t.Skip("runs iperf3 in containers")
	}
	lockEngineTests(t)
	envs := []string{"native", "runc"}
	for _, kind := range []string{"docker", "podman"} {
		if _, err := exec.LookPath(kind); err == nil {
			envs = append(envs, kind)
		} else {
			t.Logf("%s not installed: not part of this test", kind)
		}
	}
	before, err := net.Interfaces()
	require.NoError(t, err)
	state := t.TempDir()
	cfg := Config{Name: "n", Repetitions: 1, Envs: envs, Workloads: []workload.Workload{
		&inet.Iperf{Protocols: []string{"tcp"}, Parallel: []int{1}, Lengths: []string{""}, DurationS: 1,
			Topologies: []string{"host", "bridge", "mixed"}}}}
	f, err := Run(context.Background(), Options{Config: cfg, Out: filepath.Join(t.TempDir(), "n.json"), StateDir: state, Bins: bins})
	require.NoError(t, err)
	assert.Empty(t, f.Skipped)
	require.Len(t, f.Cells, 3*len(envs))
	for _, c := range f.Cells {
		require.Len(t, c.Samples, 1, c.Key)
		assert.Positive(t, c.Samples[0].Value, c.Key)
		assert.NotEmpty(t, c.Samples[0].Series, c.Key)
	}

	assert.Empty(t, lingeringLinks(t, before, 30*time.Second), "bridge and veths of the run are gone")
	after, err := net.Interfaces()
	require.NoError(t, err)
	for _, i := range after {
		assert.NotEqual(t, "nsbp"+strconv.Itoa(os.Getpid()), i.Name)
	}
	assert.NoDirExists(t, filepath.Join(state, "nsnet"), "leases and lock are gone")
}

// lingeringLinks returns the links not in before that are still there after
// settle. go test runs packages in parallel, and other packages' tests
// (nsnet, conformance) make bridges and veths of their own for a few
// seconds each; what this run left stays for good.
func lingeringLinks(t *testing.T, before []net.Interface, settle time.Duration) []string {
	t.Helper()
	had := map[string]bool{}
	for _, i := range before {
		had[i.Name] = true
	}
	var extra []string
	for deadline := time.Now().Add(settle); ; time.Sleep(500 * time.Millisecond) {
		now, err := net.Interfaces()
		require.NoError(t, err)
		extra = extra[:0]
		for _, i := range now {
			if !had[i.Name] {
				extra = append(extra, i.Name)
			}
		}
		if len(extra) == 0 || time.Now().After(deadline) {
			return extra
		}
	}
}

// lockEngineTests serialises the tests that start container engines across
// test packages: each checks that the host is left as it found it.
func lockEngineTests(t *testing.T) {
	t.Helper()
	unlock, err := engine.LockHost(context.Background())
	require.NoError(t, err)
	t.Cleanup(unlock)
}
