package leftover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/mountinfo"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/cgroups"
)

func TestPathsAndWait(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	s := Scope{Paths: []string{p}}
	assert.Empty(t, s.List())
	require.NoError(t, os.WriteFile(p, nil, 0o600))
	assert.Equal(t, []string{"path " + p}, s.List())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	assert.Equal(t, []string{"path " + p}, s.Wait(ctx), "what is left when the wait ends")
	go func() { time.Sleep(20 * time.Millisecond); os.Remove(p) }()
	assert.Empty(t, s.Wait(context.Background()), "gone while waiting")
}

func TestMountsFromTable(t *testing.T) {
	f, err := os.Open(testutil.Testdata(t, "mountinfo", "escapes"))
	require.NoError(t, err)
	defer f.Close()
	ms, err := mountinfo.Parse(f)
	require.NoError(t, err)
	assert.Equal(t, []string{"/tmp/a dir\ttab/bind", "/tmp/a dir\ttab"}, Mounts(ms, []string{"/tmp/a dir\ttab"}, nil), "deepest first")
	assert.Empty(t, Mounts(ms, []string{"/tmp/a"}, nil), "a prefix of a name is not a parent")
	assert.Equal(t, []string{"/tmp/a dir\ttab/bind"}, Mounts(ms, nil, []string{"/srv/data"}), "a bind mount names its source in its root")
	assert.Equal(t, []string{"/tmp/a dir\ttab"}, Mounts(ms, nil, []string{"my#source"}))
}

func TestRealMount(t *testing.T) {
	testutil.NeedRoot(t, "mounting a tmpfs")
	dir := filepath.Join(t.TempDir(), "m")
	require.NoError(t, os.Mkdir(dir, 0o755))
	s := Scope{MountsUnder: []string{filepath.Dir(dir)}}
	assert.Empty(t, s.List())
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	assert.Equal(t, []string{"mount " + dir}, s.List())
	require.NoError(t, unix.Unmount(dir, 0))
	assert.Empty(t, s.List())
}

// TestProcessesAndZombies: a live process is left; once killed it is a
// zombie of this process until waited for, then nothing.
func TestProcessesAndZombies(t *testing.T) {
	marker := fmt.Sprintf("%d.%d", 600+os.Getpid()%100, time.Now().UnixNano()%1000000)
	cmd := exec.Command("sleep", marker)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	s := Scope{Cmdlines: []string{"sleep " + marker + " "}, PIDs: []int{pid}, ZombiesOf: []int{os.Getpid()}}
	left := s.List()
	require.Len(t, left, 2, "%v", left)
	assert.Equal(t, fmt.Sprintf("process %d (sleep %s)", pid, marker), left[0])
	assert.Equal(t, fmt.Sprintf("process %d", pid), left[1])

	require.NoError(t, cmd.Process.Kill())
	// Unwaited, the child stays a zombie of this process.
	require.Eventually(t, func() bool {
		left = s.List()
		return len(left) == 1
	}, 5*time.Second, 5*time.Millisecond, "%v", left)
	assert.Equal(t, fmt.Sprintf("zombie %d", pid), left[0])
	_ = cmd.Wait()
	assert.Empty(t, s.List())
}

func TestCgroups(t *testing.T) {
	testutil.NeedRoot(t, "creating a cgroup")
	l, err := cgroups.HostLayout()
	require.NoError(t, err)
	require.NotEmpty(t, l.Hierarchies)
	name := fmt.Sprintf("leftover-test-%d", os.Getpid())
	dir := filepath.Join(l.Hierarchies[0].Mountpoint, name, "c1")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Cleanup(func() { _ = os.Remove(dir); _ = os.Remove(filepath.Dir(dir)) })
	assert.Equal(t, []string{"cgroup " + dir}, Scope{Cgroups: []string{name + "/c1"}}.List())
	assert.Contains(t, Scope{Cgroups: []string{"leftover-test-*/c1"}}.List(), "cgroup "+dir, "patterns match")
	require.NoError(t, os.Remove(dir))
	assert.Empty(t, Scope{Cgroups: []string{name + "/c1"}}.List())
}

func TestLinks(t *testing.T) {
	assert.Equal(t, []string{"link lo"}, Scope{Links: []string{"lo"}}.List())
	assert.Empty(t, Scope{Links: []string{"nsbench-nope0"}}.List())
	assert.Empty(t, Scope{}.List(), "an empty scope checks nothing")
}
