package env

import (
	"github.com/nsbench/nsbench/internal/engine"
	"github.com/nsbench/nsbench/internal/testutil"

	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEngineRunArgs(t *testing.T) {
	common := []string{"run", "--rm", "--name", "c1", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"}
	tmp := []string{"--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777,size=64m"}
	var hostRO []string
	for _, d := range []string{"/usr", "/lib", "/lib64"} {
		if _, err := os.Stat(d); err == nil {
			hostRO = append(hostRO, "-v", d+":"+d+":ro")
		}
	}
	cat := func(parts ...[]string) []string { return slices.Concat(parts...) }
	for _, tc := range []struct {
		name, kind string
		job        Job
		want       []string
	}{
		{"docker static binary, own network", "docker",
			Job{Args: []string{"/tmp/b/nsbench-cpu", "-seed", "1"}},
			cat(common, tmp, []string{"--network", "none"}, hostRO, []string{"-v", "/tmp/b/nsbench-cpu:/nsbench/nsbench-cpu:ro", engine.Image, "/nsbench/nsbench-cpu", "-seed", "1"})},
		{"podman host tool, host network", "podman",
			Job{Args: []string{"/usr/bin/iperf3", "-c", "127.0.0.1"}, HostNetwork: true},
			cat(common, []string{"--pull", "never", "--cgroup-parent", "/nsbench-x"}, tmp, []string{"--network", "host"}, hostRO, []string{"localhost/" + engine.Image, "/usr/bin/iperf3", "-c", "127.0.0.1"})},
		{"bind data", "docker",
			Job{Args: []string{"/usr/bin/fio", "--filename={data}/f"}, Data: &Data{Kind: "bind", Host: "/var/tmp/d"}},
			cat(common, tmp, []string{"--network", "none"}, hostRO, []string{"-v", "/var/tmp/d:/data", engine.Image, "/usr/bin/fio", "--filename=/data/f"})},
		{"tmpfs data", "docker",
			Job{Args: []string{"/usr/bin/fio", "--filename={data}/f"}, Data: &Data{Kind: "tmpfs", Host: "/dev/shm/d"}},
			cat(common, tmp, []string{"--network", "none"}, hostRO, []string{"--tmpfs", "/data:rw,nosuid,nodev,size=1g", engine.Image, "/usr/bin/fio", "--filename=/data/f"})},
		{"rootfs data is the image's /data", "docker",
			Job{Args: []string{"/usr/bin/fio", "--filename={data}/f"}, Data: &Data{Kind: "rootfs", Host: "/var/tmp/d"}},
			cat(common, tmp, []string{"--network", "none"}, hostRO, []string{engine.Image, "/usr/bin/fio", "--filename=/data/f"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{engine.New(engine.Options{Kind: tc.kind, StateDir: t.TempDir(), CgroupParent: "nsbench-x"}), tc.kind}
			if diff := cmp.Diff(tc.want, e.RunArgs("c1", tc.job)); diff != "" {
				t.Errorf("RunArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func snapshot(t *testing.T) engine.Traces {
	t.Helper()
	h, err := engine.HostTraces()
	require.NoError(t, err)
	return h
}

// Real runs through each engine: the same computation as natively, fio on
// every data location, the network modes, and nothing left after Close.
func TestEngines(t *testing.T) {
	testutil.NeedRoot(t, "the engine adapters start dockerd/podman as root")
	if testing.Short() {
		t.Skip("starts container engines (about 10 s each)")
	}
	lockEngineTests(t)
	bin := cpuBin
	want := runCPU(t, Native{}, bin)
	busybox, err := exec.LookPath("busybox")
	require.NoError(t, err, "busybox-static is needed for the bundle anyway")
	fio, fioErr := exec.LookPath("fio")

	for _, kind := range []string{"docker", "podman"} {
		t.Run(kind, func(t *testing.T) {
			if _, err := exec.LookPath(kind); err != nil {
				t.Skipf("%s not installed (apt-get install %s)", kind, map[string]string{"docker": "docker.io", "podman": "podman"}[kind])
			}
			if _, err := exec.LookPath("dockerd"); kind == "docker" && err != nil {
				t.Skip("dockerd not installed (apt-get install docker.io)")
			}
			before := snapshot(t)
			e, err := ByName(context.Background(), kind, t.TempDir(), nsrunBin)
			require.NoError(t, err)
			closed := false
			t.Cleanup(func() {
				if !closed {
					assert.NoError(t, e.Close())
				}
			})
			require.NoError(t, e.Available(context.Background()))
			assert.Contains(t, e.Version(context.Background()), kind+" ")

			got := runCPU(t, e, bin)
			assert.Equal(t, want.Checksum, got.Checksum, "the container must compute the same thing")

			// own network namespace (loopback only) unless HostNetwork
			for _, hostNet := range []bool{false, true} {
				out, err := e.Run(context.Background(), Job{Args: []string{busybox, "ls", "/sys/class/net"}, HostNetwork: hostNet})
				require.NoError(t, err)
				links := strings.Fields(string(out))
				if hostNet {
					assert.Greater(t, len(links), 1, "host network: %v", links)
				} else {
					assert.Equal(t, []string{"lo"}, links)
				}
			}

			if fioErr != nil {
				t.Log("fio not installed: data locations not checked")
			} else {
				checkDataLocations(t, e, fio)
			}

			closed = true
			require.NoError(t, e.Close())
			assert.NoError(t, e.Close(), "Close twice is harmless")
			if diff := cmp.Diff(before, snapshot(t)); diff != "" {
				t.Errorf("%s left traces on the host (-before +after):\n%s", kind, diff)
			}
			_, err = e.Run(context.Background(), Job{Args: []string{busybox, "true"}})
			assert.ErrorContains(t, err, "closed")
		})
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
