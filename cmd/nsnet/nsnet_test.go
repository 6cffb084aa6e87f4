package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/network"
)

// nsnetBin is the hook under test; nsrunBin one of the runtimes it is
// tried in.
var nsnetBin, nsrunBin string

func TestMain(m *testing.M) {
	os.Exit(gobuild.RunWith(m, map[string]*string{"nsnet": &nsnetBin, "nsrun": &nsrunBin}))
}

// flags gives the test its own bridge, subnet and lease directory and
// removes the bridge afterwards.
func flags(t *testing.T) []string {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	br := fmt.Sprintf("nsbt%x", b)
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(br); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	return []string{"--bridge", br, "--subnet", fmt.Sprintf("10.209.%d.0/24", 1+int(b[0])%250), "--lease-dir", filepath.Join(t.TempDir(), "leases")}
}

func nsnet(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(nsnetBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := testutil.ExitCode(t, cmd.Run())
	return out.String(), errb.String(), code
}

func stateJSON(id string, pid int, status specs.ContainerState) string {
	data, _ := json.Marshal(specs.State{Version: "1.0.2", ID: id, Pid: pid, Status: status, Bundle: "/b"})
	return string(data)
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no state", "", nil, "read the OCI state JSON on stdin"},
		{"garbage", "not json", nil, "read the OCI state JSON on stdin"},
		{"no id", `{"status": "creating", "pid": 1}`, nil, "no container id"},
		{"running", stateJSON("c", 1, specs.StateRunning), nil, `is "running"`},
		{"bad subnet", stateJSON("c", 1, specs.StateCreating), []string{"--subnet", "10.0.0.0/40"}, `subnet "10.0.0.0/40"`},
		{"long bridge", stateJSON("c", 1, specs.StateCreating), []string{"--bridge", "a-very-long-bridge-name"}, "at most 15"},
		{"bad address", stateJSON("c", 1, specs.StateCreating), []string{"--address", "10.0.0.x"}, `--address "10.0.0.x"`},
		{"missing config", stateJSON("c", 1, specs.StateCreating), []string{"--config", "/nonexistent.json"}, "read nsnet config /nonexistent.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := nsnet(t, tc.stdin, tc.args...)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
	out, _, code := nsnet(t, "", "--help")
	assert.Zero(t, code)
	_ = out
}

func TestPidGone(t *testing.T) {
	testutil.NeedRoot(t, "nsnet changes the host's network")
	f := flags(t)
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	_, stderr, code := nsnet(t, stateJSON("gone", gone.Process.Pid, specs.StateCreating), f...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "has the container exited?")
	_, err := netlink.LinkByName(network.HostVethName("gone"))
	assert.Error(t, err)
	_, stderr, code = nsnet(t, "", append([]string{"cleanup"}, f...)...)
	assert.Zero(t, code, stderr)
}

func TestRootlessRefused(t *testing.T) {
	u, err := user.Lookup("nsbench-user")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root to switch to the unprivileged nsbench-user account (make test creates it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	cmd := exec.Command(nsnetBin, "--lease-dir", t.TempDir())
	cmd.Stdin = strings.NewReader(stateJSON("c", os.Getpid(), specs.StateCreating))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "rootless containers get only lo")
}

// TestTenConcurrentProcesses: ten hooks at once, as ten containers starting
// together would run them, end on one bridge with ten distinct addresses.
func TestTenConcurrentProcesses(t *testing.T) {
	testutil.NeedRoot(t, "nsnet changes the host's network")
	f := flags(t)
	const n = 10
	pids := make([]int, n)
	for i := range pids {
		cmd := exec.Command("unshare", "--net", "sleep", "120")
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		pids[i] = cmd.Process.Pid
	}
	// Let every unshare take effect before the hooks look.
	time.Sleep(200 * time.Millisecond)
	atts := make([]network.Attachment, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, stderr, code := nsnet(t, stateJSON("p"+strconv.Itoa(i), pids[i], specs.StateCreating), f...)
			if assert.Zero(t, code, stderr) {
				assert.NoError(t, json.Unmarshal([]byte(out), &atts[i]))
			}
		}(i)
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for _, a := range atts {
		require.True(t, a.Addr.IsValid())
		assert.False(t, seen[a.Addr], "%s given twice", a.Addr)
		seen[a.Addr] = true
		// The host reaches each container at the address its hook assigned
		// (and only those: these are the test's own namespaces).
		out, err := exec.Command("busybox", "ping", "-c", "1", "-W", "3", a.Addr.String()).CombinedOutput()
		assert.NoError(t, err, "ping %s: %s", a.Addr, out)
	}
	for i := 0; i < n; i++ {
		_, stderr, code := nsnet(t, stateJSON("p"+strconv.Itoa(i), pids[i], specs.StateStopped), f...)
		assert.Zero(t, code, stderr)
		_, err := netlink.LinkByName(network.HostVethName("p" + strconv.Itoa(i)))
		assert.Error(t, err, "poststop removed the veth")
	}
	_, stderr, code := nsnet(t, "", append([]string{"cleanup"}, f...)...)
	assert.Zero(t, code, stderr)
}

// TestHookInRealContainers: a bundle whose createRuntime and poststop hooks
// are nsnet gets eth0 on the bridge in runc, crun and nsrun alike, and
// leaves nothing after delete.
func TestHookInRealContainers(t *testing.T) {
	testutil.NeedRoot(t, "nsnet changes the host's network")
	ctx := context.Background()
	for _, name := range []string{"nsrun", "runc", "crun"} {
		t.Run(name, func(t *testing.T) {
			path := name
			if name == "nsrun" {
				path = nsrunBin
			}
			r, err := oci.New(path, filepath.Join(t.TempDir(), "state"))
			if err != nil {
				t.Skipf("%s is not installed: %v", name, err)
			}
			f := flags(t)
			b, err := bundle.New(filepath.Join(t.TempDir(), "bundle"), bundle.Options{Args: []string{"sh", "-c", "ip -4 -o addr show eth0; ip route"}})
			require.NoError(t, err)
			hook := specs.Hook{Path: nsnetBin, Args: append([]string{"nsnet"}, f...)}
			b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook}, Poststop: []specs.Hook{hook}}
			require.NoError(t, b.Save())
			out, err := os.Create(filepath.Join(t.TempDir(), "out"))
			require.NoError(t, err)
			defer out.Close()
			code, err := r.Run(ctx, "nsnet-"+name, b.Dir, oci.IO{Stdout: out})
			require.Zero(t, code, "%v", err)
			data, err := os.ReadFile(out.Name())
			require.NoError(t, err)
			subnet := netip.MustParsePrefix(f[3])
			assert.Contains(t, string(data), "eth0")
			assert.Contains(t, string(data), "inet "+subnet.Addr().Next().Next().String()+"/24", "the first container address")
			assert.Contains(t, string(data), "default via "+subnet.Addr().Next().String())
			_, err = netlink.LinkByName(network.HostVethName("nsnet-" + name))
			assert.Error(t, err, "poststop removed the host veth")
			_, stderr, code2 := nsnet(t, "", append([]string{"cleanup"}, f...)...)
			assert.Zero(t, code2, "cleanup finds no lease left: %s", stderr)
		})
	}
}

// TestKilledMidSetup: nsnet SIGKILLed at each step of its setup (lease
// saved, veth made, container side configured) leaves a whole lease file;
// `nsnet cleanup` refuses while the lease is held, and `nsnet cleanup
// --force` removes the bridge, the veth and the leases.
func TestKilledMidSetup(t *testing.T) {
	testutil.NeedRoot(t, "nsnet changes the host's network")
	for _, step := range []string{"lease-saved", "veth-created", "configured"} {
		t.Run(step, func(t *testing.T) {
			f := flags(t)
			holder := exec.Command("unshare", "--net", "sleep", "120")
			require.NoError(t, holder.Start())
			t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
			time.Sleep(100 * time.Millisecond) // the unshare takes effect
			id := "killed-" + step
			cmd := exec.Command(nsnetBin, f...)
			cmd.Stdin = strings.NewReader(stateJSON(id, holder.Process.Pid, specs.StateCreating))
			cmd.Env = append(os.Environ(), network.EnvTestPause+"="+step)
			var errb syncBuffer
			cmd.Stderr = &errb
			require.NoError(t, cmd.Start())
			require.Eventually(t, func() bool { return strings.Contains(errb.String(), "nsnet: paused at "+step) },
				20*time.Second, 5*time.Millisecond, "nsnet never reached %s: %s", step, errb.String())
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()

			leaseFile := filepath.Join(f[5], f[1]+".leases.json")
			data, err := os.ReadFile(leaseFile)
			require.NoError(t, err)
			var leases map[string]string
			require.NoError(t, json.Unmarshal(data, &leases), "a whole lease file: %s", data)
			assert.Contains(t, leases, id)

			_, stderr, code := nsnet(t, "", append([]string{"cleanup"}, f...)...)
			assert.NotZero(t, code, "cleanup while the lease is held")
			assert.Contains(t, stderr, id)
			_, stderr, code = nsnet(t, "", append([]string{"cleanup", "--force"}, f...)...)
			assert.Zero(t, code, stderr)
			assert.Empty(t, leftover.Scope{Links: []string{f[1], network.HostVethName(id)}, Paths: []string{leaseFile}}.List())
		})
	}
}

// syncBuffer is a bytes.Buffer a child's output goroutine writes while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
