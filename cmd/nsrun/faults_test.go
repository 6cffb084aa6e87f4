package main

// The fault tests: nsrun SIGKILLed at every step of create, start, exec
// and delete; a state directory that fills up or turns read-only; a hook
// that fails or hangs at each of the six stages; a cgroup controller
// missing. Each gives a clear error, keeps the state that was there whole
// (never a torn state file) and `delete --force` removes everything.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime"
)

// killAt runs nsrun args stopped at step, waits for it to get there
// and SIGKILLs it.
func (e *env) killAt(step string, args ...string) {
	e.t.Helper()
	cmd := exec.Command(nsrunBin, append([]string{"--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), runtime.EnvTestPause+"="+step)
	out := e.tempFile()
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(e.t, cmd.Start())
	require.Eventually(e.t, func() bool {
		return strings.Contains(readAll(e.t, out), "nsrun: paused at "+step+"\n")
	}, 30*time.Second, 5*time.Millisecond, "nsrun %s never reached %s: %s", args[0], step, readAll(e.t, out))
	require.NoError(e.t, cmd.Process.Kill())
	_ = cmd.Wait()
}

// stateWhole: the container's record is either gone or whole: `state`
// prints a state nsrun can read, never a decode error of a torn file.
func (e *env) stateWhole(id string) {
	e.t.Helper()
	out, stderr, code := e.nsrun("state", id)
	if code != 0 {
		assert.Contains(e.t, stderr, "container does not exist", "state after the kill")
		return
	}
	var st specs.State
	assert.NoError(e.t, json.Unmarshal([]byte(out), &st), "state after the kill: %s", out)
	assert.Equal(e.t, id, st.ID)
}

// deleteForceCleans: delete --force succeeds (or finds nothing to delete)
// and nothing of the container is left.
func (e *env) deleteForceCleans(id string) {
	e.t.Helper()
	_, stderr, code := e.nsrun("delete", "--force", id)
	if code != 0 {
		assert.Contains(e.t, stderr, "container does not exist", "delete --force")
	}
	require.Eventually(e.t, func() bool { return len(e.leftovers(id)) == 0 }, 10*time.Second, 10*time.Millisecond, "left: %v", e.leftovers(id))
}

// TestKilledAtEveryStep: nsrun SIGKILLed at each step of create, start,
// exec and delete (runtime.PauseSteps) leaves a whole record or none, and
// delete --force removes everything. A hook bundle makes the steps around
// the hooks real.
func TestKilledAtEveryStep(t *testing.T) {
	steps := runtime.PauseSteps()
	for _, command := range []string{"create", "start", "exec", "delete"} {
		for _, step := range steps[command] {
			t.Run(command+"/"+step, func(t *testing.T) {
				if step == "cgroup-created" && os.Geteuid() != 0 {
					t.Skip("a rootless container on this host has no cgroup (v1 hierarchies are root's)")
				}
				e := newEnv(t)
				b := e.newBundle("sleep", "60")
				hook := filepath.Join(e.tmp, "hook.sh")
				require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755))
				b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: hook}}, Poststart: []specs.Hook{{Path: hook}}, Poststop: []specs.Hook{{Path: hook}}}
				require.NoError(t, b.Save())
				id := randomID("kill")
				t.Cleanup(func() { e.nsrun("delete", "--force", id) })
				if command == "create" {
					e.killAt(step, "create", "--bundle", b.Dir, id)
					assert.NotEmpty(t, e.leftovers(id), "the killed create left its record")
				} else {
					_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
					require.Zero(t, code, stderr)
					if command != "start" {
						_, stderr, code = e.nsrun("start", id)
						require.Zero(t, code, stderr)
					}
					switch command {
					case "start":
						e.killAt(step, "start", id)
					case "exec":
						e.killAt(step, "exec", id, "true")
					case "delete":
						e.killAt(step, "delete", "--force", id)
					}
				}
				e.stateWhole(id)
				e.deleteForceCleans(id)
			})
		}
	}
}

// stateOnTmpfs puts the state directory on a small tmpfs of its own,
// unmounted at the end; outside e.tmp, where the leftover check looks for
// the containers' mounts.
func (e *env) stateOnTmpfs(size string) {
	e.t.Helper()
	e.root = filepath.Join(e.t.TempDir(), "state")
	require.NoError(e.t, os.MkdirAll(e.root, 0o711))
	require.NoError(e.t, unix.Mount("tmpfs", e.root, "tmpfs", 0, "size="+size+",mode=0711"))
	e.t.Cleanup(func() { _ = unix.Unmount(e.root, unix.MNT_DETACH) })
}

// createdOnTmpfs creates a container (sleep 60) with its state on a tmpfs
// of size; it returns the bundle and the id.
func (e *env) createdOnTmpfs(size string) (*bundle.Bundle, string) {
	e.t.Helper()
	e.stateOnTmpfs(size)
	b := e.newBundle("sleep", "60")
	id := randomID("state")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
	require.Zero(e.t, code, stderr)
	e.t.Cleanup(func() { e.nsrun("delete", "--force", id) })
	return b, id
}

// fill writes a file into dir until the filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, unix.ENOSPC)
			return p
		}
	}
}

// TestStateDirectoryFull: with the state directory's filesystem full, a
// create fails saying so and leaves nothing; a start whose state write
// fails (ENOSPC in the middle of it) errs and leaves the earlier record
// whole; once there is room, delete --force cleans up.
func TestStateDirectoryFull(t *testing.T) {
	testutil.NeedRoot(t, "mounting the small tmpfs that fills up")
	e := newEnv(t)
	b, a := e.createdOnTmpfs("256k")
	before, err := os.ReadFile(filepath.Join(e.root, a, "state.json"))
	require.NoError(t, err)
	filler := fill(t, e.root)

	c := randomID("full")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, c)
	assert.NotZero(t, code)
	assert.Contains(t, stderr, "no space left on device")
	assert.Contains(t, stderr, filepath.Join(e.root, c), "the error names where")
	assert.Empty(t, e.leftovers(c))

	_, stderr, code = e.nsrun("start", a)
	assert.NotZero(t, code, "start cannot save its state")
	assert.Contains(t, stderr, "no space left on device")
	after, err := os.ReadFile(filepath.Join(e.root, a, "state.json"))
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the record is the one before the failed write")
	e.stateWhole(a)
	ents := testutil.ListDir(t, filepath.Join(e.root, a))
	for _, n := range ents {
		assert.False(t, strings.Contains(n, ".tmp"), "a temporary of the failed write is left: %v", ents)
	}

	require.NoError(t, os.Remove(filler))
	e.deleteForceCleans(a)
}

// TestStateDirectoryReadOnly: with the state directory read-only, create
// fails saying so and leaves nothing; an existing container can still be
// inspected, and its delete fails without losing its record; once
// writable again, delete --force cleans up.
func TestStateDirectoryReadOnly(t *testing.T) {
	testutil.NeedRoot(t, "mounting and remounting the state tmpfs")
	e := newEnv(t)
	b, a := e.createdOnTmpfs("1m")
	require.NoError(t, unix.Mount("", e.root, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""))

	c := randomID("ro")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, c)
	assert.NotZero(t, code)
	assert.Contains(t, stderr, "read-only file system")
	assert.Empty(t, e.leftovers(c))

	assert.Equal(t, specs.StateCreated, e.state(a).Status)
	_, stderr, code = e.nsrun("delete", "--force", a)
	assert.NotZero(t, code, "the record cannot be removed")
	assert.Contains(t, stderr, "read-only file system")
	e.stateWhole(a)

	require.NoError(t, unix.Mount("", e.root, "", unix.MS_REMOUNT, ""))
	e.deleteForceCleans(a)
}

// TestHookFailsOrHangs: a hook that fails, or hangs past its timeout, at
// each of the six stages. Before the container's process runs (prestart,
// createRuntime, createContainer) create fails naming the stage and leaves
// nothing, a hung hook's children included; startContainer stops the
// container (its error on the container's stderr); poststart and poststop
// only warn, as the spec says.
func TestHookFailsOrHangs(t *testing.T) {
	stages := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	for _, stage := range stages {
		for _, mode := range []string{"fails", "hangs"} {
			t.Run(stage+"/"+mode, func(t *testing.T) {
				e := newEnv(t)
				// The marker names the hook's sleep: a hung hook's child
				// that outlived the timeout would be found by it.
				marker := fmt.Sprintf("%d", 3600+time.Now().UnixNano()%1000)
				script := "#!/bin/sh\ncat >/dev/null\necho " + stage + " hook says no >&2\nexit 7\n"
				if mode == "hangs" {
					script = "#!/bin/sh\ncat >/dev/null\nsleep " + marker + "\n"
				}
				b := e.newBundle("sleep", "60")
				path := filepath.Join(e.tmp, "hook.sh")
				if stage == "startContainer" {
					path = "/hook.sh" // run inside the container
					require.NoError(t, os.WriteFile(filepath.Join(b.Rootfs(), "hook.sh"), []byte(script), 0o755))
				} else {
					require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
				}
				one := int(1)
				h := []specs.Hook{{Path: path, Timeout: &one}}
				hs := &specs.Hooks{}
				switch stage {
				case "prestart":
					//lint:ignore SA1019 prestart is a stage runtimes still run
					hs.Prestart = h
				case "createRuntime":
					hs.CreateRuntime = h
				case "createContainer":
					hs.CreateContainer = h
				case "startContainer":
					hs.StartContainer = h
					// A failed startContainer hook ends the lifecycle:
					// no poststart hook may run after it.
					hs.Poststart = []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + filepath.Join(e.tmp, "poststart-ran")}}}
				case "poststart":
					hs.Poststart = h
				case "poststop":
					hs.Poststop = h
				}
				b.Spec.Hooks = hs
				require.NoError(t, b.Save())
				id := randomID("hook")
				t.Cleanup(func() { e.nsrun("delete", "--force", id) })
				want := stage + " hook says no"
				if mode == "hangs" {
					want = "killed after its 1s timeout"
				}
				_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
				switch stage {
				case "prestart", "createRuntime", "createContainer":
					assert.NotZero(t, code, "create with a failing %s hook", stage)
					assert.Contains(t, stderr, stage)
					assert.Contains(t, stderr, want)
				default:
					require.Zero(t, code, stderr)
					_, stderr, code = e.nsrun("start", id)
					switch stage {
					case "startContainer":
						// The runtime-spec: a failed startContainer hook
						// makes start fail and stops the container.
						assert.NotZero(t, code, "start with a failing %s hook", stage)
						assert.Contains(t, stderr, stage)
						assert.Contains(t, stderr, want)
						assert.Equal(t, specs.StateStopped, e.state(id).Status, "the container once start has failed")
						assert.NoFileExists(t, filepath.Join(e.tmp, "poststart-ran"), "a poststart hook after a failed startContainer hook")
					case "poststart":
						assert.Zero(t, code, stderr)
						assert.Contains(t, stderr, "warning")
						assert.Contains(t, stderr, want)
						assert.Equal(t, specs.StateRunning, e.state(id).Status, "the container goes on")
					default:
						assert.Zero(t, code, stderr)
					}
					_, stderr, code = e.nsrun("delete", "--force", id)
					assert.Zero(t, code, stderr)
					if stage == "poststop" {
						assert.Contains(t, stderr, "warning")
						assert.Contains(t, stderr, want)
					}
				}
				assert.Empty(t, leftover.Scope{Cmdlines: []string{"sleep " + marker}}.List(), "the hung hook's children")
				e.deleteForceCleans(id)
			})
		}
	}
}

// TestCgroupControllerMissing: a container asking for a pids limit on a
// host (here: a mount namespace of the test's own) whose pids hierarchy is
// not mounted is refused with the controller named, and leaves no cgroup
// in the hierarchies that are there.
func TestCgroupControllerMissing(t *testing.T) {
	testutil.NeedRoot(t, "a private mount namespace without the pids hierarchy")
	pidsDir := ""
	for _, d := range leftover.CgroupDirs(".") {
		if strings.Contains(filepath.Base(d), "pids") {
			pidsDir = d
		}
	}
	if pidsDir == "" {
		t.Skip("no pids hierarchy of its own on this host (cgroup v2 has one tree)")
	}
	e := newEnv(t)
	b := e.newBundle("sleep", "60")
	limit := int64(16)
	b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	require.NoError(t, b.Save())
	id := randomID("nopids")
	t.Cleanup(func() { e.nsrun("delete", "--force", id) })
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`umount -l "$1" && exec "$2" --root "$3" create --bundle "$4" "$5"`, "sh", pidsDir, nsrunBin, e.root, b.Dir, id)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "create without a pids hierarchy: %v: %s", err, out)
	assert.Contains(t, string(out), "pids", "the error names the controller")
	assert.Empty(t, e.leftovers(id))
}
