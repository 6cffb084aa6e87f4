package cgroups

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsbench/nsbench/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// testManager makes a real cgroup under a random /nsrun-test-<hex>/ parent
// and removes both when the test ends.
func testManager(t *testing.T) *Manager {
	t.Helper()
	testutil.NeedRoot(t, "creating cgroups")
	l, err := HostLayout()
	require.NoError(t, err)
	if l.Mode() == ModeNone {
		t.Skip("no cgroup hierarchy is mounted on this host")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	parent := "/nsrun-test-" + hex.EncodeToString(b)
	m, err := New(l, parent+"/c", "c", false)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Signal(unix.SIGKILL)
		assert.NoError(t, m.Destroy(ctx))
		for _, d := range m.Paths() {
			assert.NoDirExists(t, d)
			assert.NoDirExists(t, filepath.Dir(d), "the parent this test created")
		}
	})
	require.NoError(t, m.Create())
	return m
}

// startInCgroup starts cmd and moves it into m; the test kills it at the end.
func startInCgroup(t *testing.T, m *Manager, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.NoError(t, m.Apply(cmd.Process.Pid))
	return cmd
}

func need(t *testing.T, m *Manager, controller string) string {
	t.Helper()
	d, _ := m.dir(controller)
	if d == "" {
		t.Skipf("this host has no %s cgroup controller", controller)
	}
	return d
}

func read(t *testing.T, dir, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

func TestCreateApplyPids(t *testing.T) {
	m := testManager(t)
	for _, d := range m.Paths() {
		assert.DirExists(t, d)
	}
	cmd := startInCgroup(t, m, "sleep", "60")
	pids, err := m.Pids()
	require.NoError(t, err)
	assert.Equal(t, []int{cmd.Process.Pid}, pids)
	self, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	require.NoError(t, err)
	assert.Contains(t, string(self), "/nsrun-test-")
}

func TestSetLimits(t *testing.T) {
	m := testManager(t)
	memLimit, pidsLimit := int64(64<<20), int64(17)
	quota, period, shares := int64(50000), uint64(100000), uint64(512)
	require.NoError(t, m.Set(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &memLimit},
		Pids:   &specs.LinuxPids{Limit: &pidsLimit},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares},
	}))
	memDir, v2 := m.dir("memory")
	if v2 {
		assert.Equal(t, "67108864", read(t, memDir, "memory.max"))
		assert.Equal(t, "50000 100000", read(t, need(t, m, "cpu"), "cpu.max"))
		assert.Equal(t, strconv.FormatUint(SharesToWeight(shares), 10), read(t, need(t, m, "cpu"), "cpu.weight"))
	} else {
		assert.Equal(t, "67108864", read(t, need(t, m, "memory"), "memory.limit_in_bytes"))
		assert.Equal(t, "50000", read(t, need(t, m, "cpu"), "cpu.cfs_quota_us"))
		assert.Equal(t, "512", read(t, need(t, m, "cpu"), "cpu.shares"))
	}
	assert.Equal(t, "17", read(t, need(t, m, "pids"), "pids.max"))
}

func TestPidsLimitStopsFork(t *testing.T) {
	m := testManager(t)
	need(t, m, "pids")
	limit := int64(2)
	require.NoError(t, m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}))
	// sh waits for a start signal (a fifo) so it is inside the cgroup before
	// it forks; then it tries to start 5 children with 2 pids allowed.
	fifo := filepath.Join(t.TempDir(), "go")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	out := filepath.Join(t.TempDir(), "out")
	cmd := startInCgroup(t, m, "sh", "-c", `read x < `+fifo+`; n=0; for i in 1 2 3 4 5; do sleep 30 & n=$((n+1)); done; echo started > `+out+`; wait`)
	require.NoError(t, os.WriteFile(fifo, []byte("go\n"), 0))
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
	pids, err := m.Pids()
	require.NoError(t, err)
	assert.LessOrEqual(t, len(pids), 2, "the pids limit holds: %v", pids)
	assert.Positive(t, mustUint(t, need(t, m, "pids"), "pids.events", "max"), "the kernel counted refused forks")
}

func mustUint(t *testing.T, dir, file, key string) uint64 {
	t.Helper()
	for _, line := range strings.Split(read(t, dir, file), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			require.NoError(t, err)
			return v
		}
	}
	t.Fatalf("%s has no %q", filepath.Join(dir, file), key)
	return 0
}

func TestSignalReachesForkingTree(t *testing.T) {
	m := testManager(t)
	startInCgroup(t, m, "sh", "-c", "while :; do sleep 100 & sleep 0.01; done")
	require.Eventually(t, func() bool {
		p, _ := m.Pids()
		return len(p) >= 5
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, m.Signal(unix.SIGKILL))
	require.Eventually(t, func() bool {
		p, err := m.Pids()
		return err == nil && len(p) == 0
	}, 10*time.Second, 10*time.Millisecond, "every process, forks included, is gone")
}

func TestDestroyAfterCrashWithLoad(t *testing.T) {
	m := testManager(t)
	cmd := startInCgroup(t, m, "sleep", "60")
	// A new process (a later `delete`) knows only the saved paths.
	again := Load(m.Paths())
	require.NoError(t, again.Signal(unix.SIGKILL))
	_ = cmd.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, again.Destroy(ctx))
	for _, d := range m.Paths() {
		assert.NoDirExists(t, d)
	}
	require.NoError(t, again.Destroy(ctx), "destroy is idempotent")
}

func TestDestroyKillsStragglers(t *testing.T) {
	m := testManager(t)
	cmd := startInCgroup(t, m, "sleep", "60")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Destroy(ctx), "a process left in a container being destroyed is killed")
	_ = cmd.Wait()
	for _, d := range m.Paths() {
		assert.NoDirExists(t, d)
	}
}

func TestDestroyBusyTimesOut(t *testing.T) {
	m := testManager(t)
	freezer, v2 := m.dir("freezer")
	if freezer == "" || v2 {
		t.Skip("needs a v1 freezer hierarchy, where a frozen task cannot die until thawed")
	}
	startInCgroup(t, m, "sleep", "60")
	require.NoError(t, write(freezer, "freezer.state", "FROZEN"))
	t.Cleanup(func() { _ = write(freezer, "freezer.state", "THAWED") })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := m.Destroy(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still busy")
}

func TestStats(t *testing.T) {
	m := testManager(t)
	// The work waits for the move: v1 does not carry charges over on
	// migration, and a loaded machine may run the loop before Apply.
	fifo := filepath.Join(t.TempDir(), "go")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	startInCgroup(t, m, "sh", "-c", "read x < "+fifo+"; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 60")
	require.NoError(t, os.WriteFile(fifo, []byte("go\n"), 0))
	require.Eventually(t, func() bool {
		s, err := m.Stats()
		return err == nil && s.CPUUsage > 0 && s.MemoryUsage > 0
	}, 10*time.Second, 20*time.Millisecond)
	s, err := m.Stats()
	require.NoError(t, err)
	if d, _ := m.dir("pids"); d != "" {
		assert.GreaterOrEqual(t, s.Pids, uint64(1))
	}
}

func TestEveryHierarchy(t *testing.T) {
	m := testManager(t)
	l, err := HostLayout()
	require.NoError(t, err)
	var want []string
	for _, h := range l.Hierarchies {
		want = append(want, h.Name)
	}
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(m.Paths())), "the container is in every hierarchy, as with runc")
	cmd := startInCgroup(t, m, "sleep", "60")
	self := read(t, "/proc/"+strconv.Itoa(cmd.Process.Pid), "cgroup")
	for _, line := range strings.Split(self, "\n") {
		assert.Contains(t, line, "/nsrun-test-", "every line of /proc/PID/cgroup names the container's cgroup")
	}
}

// TestDeviceRulesOnV2 is the bug a VM guest (pure cgroup v2) found: device
// rules must not be written as v1 devices.deny files into a v2 directory;
// they become a device program there.
func TestDeviceRulesOnV2(t *testing.T) {
	testutil.NeedRoot(t, "attaching a cgroup device program")
	dir := newV2Group(t, cgroup2Root(t))
	m := Load(map[string]string{"unified": dir})
	require.NoError(t, m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}))
	_, err := os.Stat(filepath.Join(dir, "devices.deny"))
	assert.True(t, os.IsNotExist(err), "no v1 file written on v2")
	out, err := readZeroIn(t, dir)
	require.Error(t, err, "the rules hold: %s", out)
	assert.Contains(t, string(out), "Operation not permitted")
}

func TestSetUnavailable(t *testing.T) {
	m := Load(map[string]string{"name=systemd": "/nonexistent"})
	lim := int64(1)
	err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &lim}})
	assert.ErrorContains(t, err, "no pids cgroup controller")
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim}})
	assert.ErrorContains(t, err, "no memory cgroup controller")
}

// BenchmarkCreateApplyDestroy measures the cgroup work on a container's
// start and delete path: create, move a process in, move it out, remove.
func BenchmarkCreateApplyDestroy(b *testing.B) {
	testutil.NeedRoot(b, "creating cgroups")
	child := exec.Command("sleep", "600")
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	pid := strconv.Itoa(child.Process.Pid)
	ctx := context.Background()
	l, err := HostLayout()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rel := "/nsrun-bench-" + pid + "/c"
		m, err := New(l, rel, "c", false)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Create(); err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(child.Process.Pid); err != nil {
			b.Fatal(err)
		}
		for _, d := range m.Paths() {
			root := strings.TrimSuffix(d, rel)
			if err := os.WriteFile(filepath.Join(root, "cgroup.procs"), []byte(pid), 0); err != nil {
				b.Fatal(err)
			}
		}
		if err := m.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// offMainThread runs f locked to a thread that is not the main one, as
// runtime/spawn.go's forkExecJoined does: Go parks a main thread whose
// goroutine exits locked instead of ending it, and a test process parked
// in the container's cgroups would be frozen and killed with them by the
// cleanup. Holding the main thread locked meanwhile keeps f off it.
func offMainThread(f func()) {
	runtime.LockOSThread()
	if unix.Gettid() != unix.Getpid() {
		f()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		offMainThread(f)
	}()
	<-done
	runtime.UnlockOSThread()
}

// TestJoinThreadBornInCgroup: a process cloned by a thread that joined the
// container's v1 cgroups is born in them; the thread goes back with leave,
// the test process never moved, and the container's cgroups hold the child
// alone. A Manager rebuilt from saved paths (Load) does not know the way
// back and must not join.
func TestJoinThreadBornInCgroup(t *testing.T) {
	m := testManager(t)
	if !m.CanJoinThread() {
		t.Skip("no cgroup v1 hierarchy on this host: processes are cloned into a v2 cgroup instead")
	}
	assert.False(t, Load(m.Paths()).CanJoinThread(), "a loaded Manager has no way back")
	before, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	type started struct {
		cmd          *exec.Cmd
		joined, back string
		err          error
	}
	done := make(chan started, 1)
	join := func() {
		// Never unlocked: the thread ends with the goroutine.
		var r started
		self := fmt.Sprintf("/proc/self/task/%d/cgroup", unix.Gettid())
		leave, err := m.JoinThread()
		if err == nil {
			data, _ := os.ReadFile(self)
			r.joined = string(data)
			r.cmd = exec.Command("sleep", "60")
			err = r.cmd.Start()
		}
		r.err = errors.Join(err, leave())
		data, _ := os.ReadFile(self)
		r.back = string(data)
		done <- r
	}
	go offMainThread(join)
	r := <-done
	require.NoError(t, r.err)
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
	child, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", r.cmd.Process.Pid))
	require.NoError(t, err)
	for name, dir := range m.Paths() {
		if name == unifiedName {
			continue
		}
		rel := dir[strings.Index(dir, "/nsrun-test-"):]
		assert.Contains(t, string(child), ":"+name+":"+rel+"\n", "the child is born in the %s cgroup", name)
		assert.Contains(t, r.joined, ":"+name+":"+rel+"\n", "the joining thread was in the %s cgroup", name)
		tasks, err := os.ReadFile(filepath.Join(dir, "tasks"))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(r.cmd.Process.Pid), strings.TrimSpace(string(tasks)), "only the child in the %s cgroup", name)
	}
	assert.Equal(t, string(before), r.back, "the thread went back to the process's cgroups")
	after, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the process (its main thread) did not move")
}
