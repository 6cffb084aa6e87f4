package env

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/perf/workload/cpu"
	"github.com/nsbench/nsbench/perf/workload/fs"
)

func cpuBinary(t *testing.T) string {
	t.Helper()
	bin, err := gobuild.Static(context.Background(), "./cmd/nsbench-cpu", t.TempDir(), "")
	require.NoError(t, err)
	return bin
}

func runCPU(t *testing.T, e Env, bin string) cpu.Report {
	t.Helper()
	out, err := e.Run(context.Background(), Job{Args: []string{bin, "-particles", "200", "-mem", "8", "-seed", "3"}})
	require.NoError(t, err)
	var r cpu.Report
	require.NoError(t, json.Unmarshal(out, &r), string(out))
	return r
}

func TestEnvironments(t *testing.T) {
	bin := cpuBinary(t)
	want := runCPU(t, Native{}, bin)
	assert.NotEmpty(t, want.Checksum)

	for _, name := range []string{"runc", "crun", "nsrun"} {
		t.Run(name, func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("rootful OCI containers need root")
			}
			if name != "nsrun" {
				if _, err := exec.LookPath(name); err != nil {
					t.Skipf("%s not installed", name)
				}
			}
			state := t.TempDir()
			e, err := ByName(context.Background(), name, state)
			require.NoError(t, err)
			require.NoError(t, e.Available(context.Background()))
			got := runCPU(t, e, bin)
			assert.Equal(t, want.Checksum, got.Checksum, "the container must compute the same thing")

			// fio is dynamically linked: it runs from the host's /usr
			fio, err := exec.LookPath("fio")
			if err != nil {
				t.Skip("fio not installed")
			}
			for _, kind := range []string{"bind", "tmpfs", "rootfs"} {
				host := t.TempDir()
				j := fs.Job{RW: "write", BS: "64k", Engine: "sync", NumJobs: 1, IODepth: 1, Size: "4M",
					Runtime: 1e9, Filename: DataDir + "/f"}
				out, err := e.Run(context.Background(), Job{Args: append([]string{fio}, j.Args()...), Data: &Data{Kind: kind, Host: host}})
				require.NoError(t, err, kind)
				r, err := fs.Parse(out)
				require.NoError(t, err, kind)
				assert.Positive(t, r.IOPS, kind)
				_, statErr := os.Stat(filepath.Join(host, "f"))
				assert.Equal(t, kind == "bind", statErr == nil, "only a bind mount writes to the host directory (%s)", kind)
			}
		})
	}
}

func TestEngineSkipsWithReason(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no engine on PATH
	for _, tc := range []struct{ name, pkg string }{{"docker", "docker.io"}, {"podman", "podman"}} {
		e, err := ByName(context.Background(), tc.name, t.TempDir())
		require.NoError(t, err)
		err = e.Available(context.Background())
		if os.Geteuid() != 0 {
			assert.ErrorContains(t, err, tc.name+": needs root")
		} else {
			assert.ErrorContains(t, err, tc.name+" is not installed (apt-get install "+tc.pkg+")")
		}
		assert.NoError(t, e.Close())
	}
	_, err := ByName(context.Background(), "lxc", "")
	assert.ErrorContains(t, err, `unknown environment "lxc"`)
}
