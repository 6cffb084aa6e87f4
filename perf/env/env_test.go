package env

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/network"
	"github.com/nsbench/nsbench/runtime/spec"
)

// The binaries the tests run, resolved once (NSBENCH_CPU, NSBENCH_NSRUN, or
// built from this tree).
var cpuBin, nsrunBin string

func TestMain(m *testing.M) {
	os.Exit(gobuild.RunWith(m, map[string]*string{"nsbench-cpu": &cpuBin, "nsrun": &nsrunBin}))
}

// cpuReport is what these tests read of nsbench-cpu's output (the cpu
// workload's package imports this one, so it is not imported here).
type cpuReport struct {
	Checksum string `json:"checksum"`
}

func runCPU(t *testing.T, e Env, bin string) cpuReport {
	t.Helper()
	out, err := e.Run(context.Background(), Job{Args: []string{bin, "-particles", "200", "-mem", "8", "-seed", "3"}})
	require.NoError(t, err)
	var r cpuReport
	require.NoError(t, json.Unmarshal(out, &r), string(out))
	return r
}

func TestEnvironments(t *testing.T) {
	bin := cpuBin
	want := runCPU(t, Native{}, bin)
	assert.NotEmpty(t, want.Checksum)

	for _, name := range []string{"runc", "crun", "nsrun"} {
		t.Run(name, func(t *testing.T) {
			testutil.NeedRoot(t, "rootful OCI containers")
			if name != "nsrun" {
				if _, err := exec.LookPath(name); err != nil {
					t.Skipf("%s not installed", name)
				}
			}
			state := t.TempDir()
			e, err := ByName(context.Background(), name, state, nsrunBin)
			require.NoError(t, err)
			require.NoError(t, e.Available(context.Background()))
			got := runCPU(t, e, bin)
			assert.Equal(t, want.Checksum, got.Checksum, "the container must compute the same thing")

			// concurrent jobs, as the cpu workload runs them (a binary copied
			// into each bundle failed here with "text file busy")
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = e.Run(context.Background(), Job{Args: []string{bin, "-particles", "50", "-mem", "1"}})
				})
			}
			wg.Wait()
			for i, err := range errs {
				assert.NoError(t, err, "concurrent job %d", i)
			}

			// fio is dynamically linked: it runs from the host's /usr
			fio, err := exec.LookPath("fio")
			if err != nil {
				t.Skip("fio not installed")
			}
			checkDataLocations(t, e, fio)
		})
	}
}

// TestSeccompOption: RUNTIME:seccomp=ENGINE runs the containers under that
// engine's default profile, and the plain runtime under none.
func TestSeccompOption(t *testing.T) {
	testutil.NeedRoot(t, "rootful OCI containers")
	for _, tc := range []struct{ env, want string }{
		{"nsrun", "Seccomp:\t0"},
		{"nsrun:seccomp=docker", "Seccomp:\t2"},
		{"nsrun:seccomp=podman", "Seccomp:\t2"},
		{"runc:seccomp=docker", "Seccomp:\t2"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			if rt, _, _ := strings.Cut(tc.env, ":"); rt != "nsrun" {
				if _, err := exec.LookPath(rt); err != nil {
					t.Skipf("%s not installed", rt)
				}
			}
			e, err := ByName(context.Background(), tc.env, t.TempDir(), nsrunBin)
			require.NoError(t, err)
			require.NoError(t, e.Available(context.Background()))
			out, err := e.Run(context.Background(), Job{Args: []string{"/usr/bin/grep", "^Seccomp:", "/proc/self/status"}})
			require.NoError(t, err)
			assert.Equal(t, tc.want, strings.TrimSpace(string(out)))
		})
	}
	for _, tc := range []struct{ env, err string }{
		{"nsrun:seccomp=lxc", `environment "nsrun:seccomp=lxc": option "seccomp=lxc": want nsrun:seccomp=docker or nsrun:seccomp=podman`},
		{"crun:cpus=1", `want crun:seccomp=docker or crun:seccomp=podman`},
		{"docker:seccomp=docker", `unknown environment "docker:seccomp=docker"`},
		{"docker:storage=", `unknown environment "docker:storage="`},
	} {
		_, err := ByName(context.Background(), tc.env, t.TempDir(), nsrunBin)
		assert.ErrorContains(t, err, tc.err)
	}
}

// An engine with another storage driver is an environment of its own name;
// a driver the kernel lacks is refused by the engine with its reason, and
// nothing of it is left.
func TestEngineStorageDriver(t *testing.T) {
	e, err := ByName(context.Background(), "docker:storage=vfs", t.TempDir(), nsrunBin)
	require.NoError(t, err)
	assert.Equal(t, "docker:storage=vfs", e.Name())
	bad, err := ByName(context.Background(), "docker:storage=--debug", t.TempDir(), nsrunBin)
	require.NoError(t, err)
	assert.ErrorContains(t, bad.Available(context.Background()), `docker: storage driver "--debug": want a driver name such as overlay2, aufs or vfs`)
	require.NoError(t, bad.Close())
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("starts dockerd: needs root, skipped in -short mode")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skip("dockerd is not installed (apt-get install docker.io)")
	}
	before := snapshot(t)
	require.NoError(t, e.Available(context.Background()))
	assert.Contains(t, e.Version(context.Background()), "(storage vfs)")
	out, err := e.Run(context.Background(), Job{Args: []string{"/usr/bin/stat", "-f", "-c", "%T", "/"}})
	require.NoError(t, err)
	assert.NotEqual(t, "overlayfs", strings.TrimSpace(string(out)), "the container's root is not an overlay: vfs copies layers")
	require.NoError(t, e.Close())

	// This host's kernel has no aufs: dockerd refuses the driver, says so,
	// and the environment is skipped with that reason.
	if fsTypes, _ := os.ReadFile("/proc/filesystems"); !strings.Contains(string(fsTypes), "aufs") {
		a, err := ByName(context.Background(), "docker:storage=aufs", t.TempDir(), nsrunBin)
		require.NoError(t, err)
		err = a.Available(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "dockerd exited during start-up")
		assert.Contains(t, err.Error(), "aufs")
		require.NoError(t, a.Close())
	}
	if diff := cmp.Diff(before, snapshot(t)); diff != "" {
		t.Errorf("the engines left traces on the host (-before +after):\n%s", diff)
	}
}

func TestEngineSkipsWithReason(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no engine on PATH
	for _, tc := range []struct{ name, pkg string }{{"docker", "docker.io"}, {"podman", "podman"}} {
		e, err := ByName(context.Background(), tc.name, t.TempDir(), nsrunBin)
		require.NoError(t, err)
		err = e.Available(context.Background())
		if os.Geteuid() != 0 {
			assert.ErrorContains(t, err, tc.name+": needs root")
		} else {
			assert.ErrorContains(t, err, tc.name+" is not installed (apt-get install "+tc.pkg+")")
		}
		assert.NoError(t, e.Close())
	}
	_, err := ByName(context.Background(), "lxc", "", nsrunBin)
	assert.ErrorContains(t, err, `unknown environment "lxc"`)
}

func TestBridgeJobSpec(t *testing.T) {
	br := &Bridge{Network: network.Config{Bridge: "nsbp1", Subnet: "10.209.128.0/24", LeaseDir: "/tmp/l", MTU: 1500},
		Address: netip.MustParseAddr("10.209.128.2"), Hook: "/tmp/bin/nsnet"}
	want := []string{"nsnet", "--bridge", "nsbp1", "--subnet", "10.209.128.0/24", "--lease-dir", "/tmp/l", "--mtu", "1500", "--address", "10.209.128.2"}
	assert.Equal(t, want, br.HookArgs())

	for _, tc := range []struct {
		name     string
		job      Job
		hooks    int
		ownNetns bool
	}{
		{"own namespace, loopback only", Job{}, 0, true},
		{"host network", Job{HostNetwork: true}, 0, false},
		{"on the bridge", Job{Bridge: br}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spec.Default(false)
			(&OCI{name: "runc"}).adjust(s, tc.job)
			hasNetns := slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
			assert.Equal(t, tc.ownNetns, hasNetns)
			if tc.hooks == 0 {
				assert.True(t, s.Hooks == nil || len(s.Hooks.CreateRuntime)+len(s.Hooks.Poststop) == 0)
				return
			}
			require.NotNil(t, s.Hooks)
			for _, hs := range [][]specs.Hook{s.Hooks.CreateRuntime, s.Hooks.Poststop} {
				require.Len(t, hs, 1)
				assert.Equal(t, "/tmp/bin/nsnet", hs[0].Path)
				assert.Equal(t, want, hs[0].Args)
			}
		})
	}

	_, err := Native{}.Run(context.Background(), Job{Args: []string{"/bin/true"}, Bridge: br})
	assert.ErrorIs(t, err, ErrUnsupported)
}

// checkDataLocations runs a short fio write on each data location in e: it
// must work everywhere, and only a bind mount writes to the host directory.
func checkDataLocations(t *testing.T, e Env, fio string) {
	t.Helper()
	for _, kind := range []string{"bind", "tmpfs", "rootfs"} {
		host := t.TempDir()
		args := []string{fio, "--name=t", "--filename=" + DataDir + "/f", "--rw=write", "--bs=64k", "--size=4M",
			"--ioengine=sync", "--time_based", "--runtime=1", "--output-format=json"}
		out, err := e.Run(context.Background(), Job{Args: args, Data: &Data{Kind: kind, Host: host}})
		require.NoError(t, err, kind)
		var r struct {
			Jobs []struct {
				Write struct {
					IOPS float64 `json:"iops"`
				} `json:"write"`
			} `json:"jobs"`
		}
		require.NoError(t, json.Unmarshal(out, &r), kind)
		require.Len(t, r.Jobs, 1, kind)
		assert.Positive(t, r.Jobs[0].Write.IOPS, kind)
		_, statErr := os.Stat(filepath.Join(host, "f"))
		assert.Equal(t, kind == "bind", statErr == nil, "only a bind mount writes to the host directory (%s)", kind)
	}
}

func TestFreeSubnet(t *testing.T) {
	p, err := freeSubnet()
	require.NoError(t, err)
	assert.True(t, netip.MustParsePrefix("10.209.128.0/17").Overlaps(p), p)
	assert.Equal(t, 24, p.Bits())
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(ipn.IP.To4())
			assert.False(t, p.Contains(ip), "%s is in use here (%s)", p, a)
		}
	}
}
