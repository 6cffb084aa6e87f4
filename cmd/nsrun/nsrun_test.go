package main

// These tests drive the nsrun binary the way engines do: a real process per
// command, real bundles, real containers. Each checks that what it made is
// gone afterwards: no state, cgroup, process or host mount.
//
// The file is a little over 500 lines because it holds the helpers every
// test file of the package uses (newEnv, the bundle builder, leftovers)
// beside the lifecycle tests; the verbs, exec, faults, hostile images and
// seccomp have files of their own.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/sigforward"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/timeline"
)

// nsprobeBin runs inside containers where a test needs to look around.
var nsrunBin, nsprobeBin string

func TestMain(m *testing.M) {
	os.Exit(gobuild.RunWith(m, map[string]*string{"nsrun": &nsrunBin, "nsprobe": &nsprobeBin}))
}

type env struct {
	t    *testing.T
	root string
	tmp  string
	cred *syscall.Credential
	xdg  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	tmp := t.TempDir()
	return &env{t: t, root: filepath.Join(tmp, "state"), tmp: tmp}
}

func randomID(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// nsrun runs the binary and returns stdout, stderr and the exit code.
func (e *env) nsrun(args ...string) (string, string, int) {
	return e.nsrunEnv(nil, args...)
}

func (e *env) nsrunEnv(extraEnv []string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nsrunBin, append([]string{"--root", e.root}, args...)...)
	// Files, not pipes: a created container inherits nsrun's stdio and
	// would hold a pipe open long after nsrun exits.
	out, errb := e.tempFile(), e.tempFile()
	defer out.Close()
	defer errb.Close()
	cmd.Stdout, cmd.Stderr = out, errb
	cmd.Env = append(os.Environ(), extraEnv...)
	if e.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
		cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+e.xdg)
	}
	code := testutil.ExitCode(e.t, cmd.Run())
	return readAll(e.t, out), readAll(e.t, errb), code
}

func (e *env) tempFile() *os.File {
	e.t.Helper()
	f, err := os.CreateTemp(e.tmp, "stdio-")
	require.NoError(e.t, err)
	// Readable by the rootless user the container may run as.
	require.NoError(e.t, os.Chmod(f.Name(), 0o666))
	return f
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	return string(data)
}

// newBundle makes a busybox bundle running args; rootless when not root.
func (e *env) newBundle(args ...string) *bundle.Bundle {
	e.t.Helper()
	return e.newBundleFiles(nil, args...)
}

// newBundleFiles is newBundle with files copied in (rootfs path -> host file).
func (e *env) newBundleFiles(files map[string]string, args ...string) *bundle.Bundle {
	e.t.Helper()
	opts := bundle.Options{Args: args, Rootless: os.Geteuid() != 0 || e.cred != nil, Files: files}
	if e.cred != nil {
		opts.Owner = &bundle.Owner{UID: int(e.cred.Uid), GID: int(e.cred.Gid)}
	}
	b, err := bundle.New(filepath.Join(e.tmp, randomID("bundle")), opts)
	require.NoError(e.t, err)
	return b
}

// leftovers lists what container id left on the host.
func (e *env) leftovers(id string) []string {
	return e.scope(id).List()
}

// forceDeleted deletes container id with --force, which must succeed and
// leave nothing on the host.
func (e *env) forceDeleted(id string) {
	e.t.Helper()
	_, stderr, code := e.nsrun("delete", "--force", id)
	require.Zero(e.t, code, stderr)
	assert.Empty(e.t, e.leftovers(id))
}

// scope is what container id may leave on the host. Only mounts naming
// this test's files are attributable to it; other processes on the
// machine may mount and unmount meanwhile.
func (e *env) scope(id string) leftover.Scope {
	return leftover.Scope{
		Paths:        []string{filepath.Join(e.root, id)},
		Cgroups:      []string{"nsrun/" + id},
		Cmdlines:     []string{"nsrun init " + id + " "},
		MountsNaming: []string{e.tmp},
	}
}

// TestBadBundles: every bad bundle of testdata/bundles/bad is refused with
// an error that says what and where, a non-zero exit, and nothing left
// behind. runtime/spec's TestBadBundles runs the same files without root.
func TestBadBundles(t *testing.T) {
	testutil.BadBundles(t, func(t *testing.T, bad *testutil.BadBundle) {
		e := newEnv(t)
		b := e.newBundle("true")
		require.NoError(t, bad.Apply(b.Dir))
		id := randomID("bad")
		_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
		assert.NotZero(t, code, "create of a bad bundle must fail: %s", bad.Why)
		assert.Contains(t, stderr, bad.Error)
		assert.Empty(t, e.leftovers(id))
	})
}

// TestBadCommands: bad ids, signals and orders of commands.
func TestBadCommands(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "60")
	id := randomID("cmd")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	t.Cleanup(func() { e.nsrun("delete", "--force", id) })
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"duplicate id", []string{"create", "--bundle", b.Dir, id}, "already exists"},
		{"invalid id", []string{"create", "--bundle", b.Dir, "../escape"}, "invalid container id"},
		{"unknown id state", []string{"state", "nope-" + id}, "container does not exist"},
		{"unknown id start", []string{"start", "nope-" + id}, "container does not exist"},
		{"unknown id kill", []string{"kill", "nope-" + id}, "container does not exist"},
		{"unknown id delete", []string{"delete", "nope-" + id}, "container does not exist"},
		{"bad signal", []string{"kill", id, "SIGNOPE"}, `unknown signal "SIGNOPE"`},
		{"signal out of range", []string{"kill", id, "99"}, "out of range"},
		{"delete created without force", []string{"delete", id}, "stop it first or use --force"},
		{"missing id", []string{"start"}, "want exactly one container id"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"negative preserve-fds", []string{"create", "--preserve-fds", "-1", "--bundle", b.Dir, "x" + id}, "must be 0 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := e.nsrun(tc.args...)
			assert.NotZero(t, code)
			assert.Contains(t, stderr, tc.want)
		})
	}
	e.forceDeleted(id)
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "60")
	id := randomID("life")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, "--pid-file", filepath.Join(e.tmp, "pid"), id)
	require.Zero(t, code, stderr)
	t.Cleanup(func() { e.nsrun("delete", "--force", id) })

	st := e.state(id)
	assert.Equal(t, specs.StateCreated, st.Status)
	pidFile, err := os.ReadFile(filepath.Join(e.tmp, "pid"))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(st.Pid), string(pidFile))
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cmdline")
	require.NoError(t, err)
	assert.Equal(t, "nsrun\x00init\x00"+id+"\x00", string(cmdline), "created: blocked before execve")

	out, _, code := e.nsrun("list")
	require.Zero(t, code)
	assert.Contains(t, out, id)

	_, stderr, code = e.nsrun("start", id)
	require.Zero(t, code, stderr)
	assert.Equal(t, specs.StateRunning, e.state(id).Status)
	_, stderr, code = e.nsrun("start", id)
	assert.NotZero(t, code)
	assert.Contains(t, stderr, "not created")

	out, _, code = e.nsrun("ps", id)
	require.Zero(t, code)
	assert.Contains(t, out, strconv.Itoa(st.Pid))

	_, stderr, code = e.nsrun("kill", id, "KILL")
	require.Zero(t, code, stderr)
	require.Eventually(t, func() bool { return e.state(id).Status == specs.StateStopped }, 10*time.Second, 5*time.Millisecond)
	_, stderr, code = e.nsrun("delete", id)
	require.Zero(t, code, stderr)
	assert.Empty(t, e.leftovers(id))
}

func (e *env) state(id string) *specs.State {
	e.t.Helper()
	out, stderr, code := e.nsrun("state", id)
	require.Zero(e.t, code, stderr)
	var st specs.State
	require.NoError(e.t, json.Unmarshal([]byte(out), &st))
	return &st
}

func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		run  []string
		want int
	}{
		{"exit status", []string{"sh", "-c", "exit 7"}, nil, 7},
		{"success", []string{"true"}, nil, 0},
		{"timeout", []string{"sleep", "60"}, []string{"--timeout", "300ms"}, 128 + 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.newBundle(tc.args...)
			id := randomID("run")
			args := append([]string{"run", "--bundle", b.Dir}, tc.run...)
			_, stderr, code := e.nsrun(append(args, id)...)
			assert.Equal(t, tc.want, code, stderr)
			assert.Empty(t, e.leftovers(id))
		})
	}
}

// TestRunForwardsSignals: a signal to `nsrun run` reaches the container,
// whether nsrun catches it with os/signal (SIGTERM, which Go keeps
// unblocked) or reads it from its signalfd (SIGUSR1, a real-time signal).
// The trap matters: as PID 1 of its namespace, sh ignores signals it has no
// handler for.
func TestRunForwardsSignals(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
	}{
		{"TERM", syscall.SIGTERM},
		{"USR1", syscall.SIGUSR1},
		{"RTMIN+3", 37},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			n := strconv.Itoa(int(tc.sig))
			b := e.newBundle("sh", "-c", `trap "exit 42" `+n+`; echo ready; while :; do sleep 0.05; done`)
			id := randomID("sig")
			out := e.tempFile()
			defer out.Close()
			cmd := exec.Command(nsrunBin, "--root", e.root, "run", "--bundle", b.Dir, id)
			cmd.Stdout, cmd.Stderr = out, out
			require.NoError(t, cmd.Start())
			require.Eventually(t, func() bool { return strings.Contains(readAll(t, out), "ready") }, 20*time.Second, 5*time.Millisecond)
			require.NoError(t, cmd.Process.Signal(tc.sig))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				_, _, _ = e.nsrun("delete", "--force", id)
				t.Fatalf("signal %d was not forwarded: the container still runs; output: %s", tc.sig, readAll(t, out))
			}
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, readAll(t, out))
			assert.Equal(t, 42, ee.ExitCode())
			assert.Empty(t, e.leftovers(id))
		})
	}
}

// TestSignalMasks: `nsrun run` blocks signals to read them from a
// signalfd, and none of that reaches its children: the container's process
// and the hooks nsrun runs start with the mask nsrun was given (here:
// none blocked).
func TestSignalMasks(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	if !strings.Contains(string(status), "SigBlk:\t0000000000000000\n") {
		t.Skip("the tests run with signals blocked (inherited from the caller): nsrun's children would inherit them too")
	}
	e := newEnv(t)
	b := e.newBundle("grep", "SigBlk", "/proc/self/status")
	log := filepath.Join(e.tmp, "hooks.log")
	hook := filepath.Join(e.tmp, "hook.sh")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho \"$1 $(grep SigBlk /proc/self/status)\" >> "+log+"\n"), 0o755))
	h := func(name string) []specs.Hook { return []specs.Hook{{Path: hook, Args: []string{"hook.sh", name}}} }
	b.Spec.Hooks = &specs.Hooks{CreateRuntime: h("createRuntime"), Poststart: h("poststart"), Poststop: h("poststop")}
	require.NoError(t, b.Save())
	id := randomID("mask")
	out, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	assert.Equal(t, "SigBlk:\t0000000000000000", strings.TrimSpace(out), "the container's process")
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "createRuntime SigBlk:\t0000000000000000\npoststart SigBlk:\t0000000000000000\npoststop SigBlk:\t0000000000000000\n", string(data))
	assert.Empty(t, e.leftovers(id))
}

// TestSubcommandMatchesFlags: internal/sigforward's constructor, which
// reads the command line before Go starts, skips nsrun's global options as
// the flag package does, so it finds run and exec behind any of them.
func TestSubcommandMatchesFlags(t *testing.T) {
	if !sigforward.Linked {
		t.Skip("built without cgo: no constructor")
	}
	fs, _ := globalFlags(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		var forms [][]string
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			forms = [][]string{{"--" + f.Name, "run"}, {"-" + f.Name + "=true", "run"}}
		} else {
			forms = [][]string{{"--" + f.Name, "x", "run"}, {"-" + f.Name, "run", "exec"}, {"--" + f.Name + "=x", "run"}}
		}
		for _, args := range forms {
			gfs, _ := globalFlags(io.Discard)
			require.NoError(t, gfs.Parse(args))
			assert.Equal(t, gfs.Arg(0), sigforward.Subcommand(args), "%q", args)
		}
	})
}

// TestHooks: every hook runs once, in the order the spec gives, with the
// state on stdin.
func TestHooks(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("cat", "/tmp/started")
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	log := filepath.Join(e.tmp, "hooks.log")
	hook := filepath.Join(e.tmp, "hook.sh")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\nread -r state\necho \"$1 $state\" >> "+log+"\n"), 0o755))
	h := func(name string) []specs.Hook { return []specs.Hook{{Path: hook, Args: []string{"hook.sh", name}}} }
	// startContainer runs inside the container: its hook lives in the rootfs.
	require.NoError(t, os.WriteFile(filepath.Join(b.Rootfs(), "hook.sh"), []byte("#!/bin/sh\nread -r state\necho \"startContainer $state\" > /tmp/started\n"), 0o755))
	b.Spec.Hooks = &specs.Hooks{
		CreateRuntime: h("createRuntime"), CreateContainer: h("createContainer"),
		StartContainer: []specs.Hook{{Path: "/hook.sh"}}, Poststart: h("poststart"), Poststop: h("poststop"),
	}
	require.NoError(t, b.Save())
	id := randomID("hooks")
	out, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	assert.Contains(t, out, "startContainer {", "the startContainer hook ran inside the container, before its process")
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, st, _ := strings.Cut(line, " ")
		order = append(order, name)
		var s specs.State
		require.NoError(t, json.Unmarshal([]byte(st), &s), line)
		assert.Equal(t, id, s.ID)
		assert.Equal(t, b.Dir, s.Bundle)
	}
	assert.Equal(t, []string{"createRuntime", "createContainer", "poststart", "poststop"}, order)
	assert.Empty(t, e.leftovers(id))
}

// TestPreserveFDs: only stdio and the preserved descriptors reach the
// container's process.
func TestPreserveFDs(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "ls /proc/self/fd")
	id := randomID("fds")
	extra, err := os.Open("/dev/null")
	require.NoError(t, err)
	defer extra.Close()
	cmd := exec.Command(nsrunBin, "--root", e.root, "run", "--preserve-fds", "1", "--bundle", b.Dir, id)
	cmd.ExtraFiles = []*os.File{extra}
	out, err := cmd.Output()
	require.NoError(t, err)
	// ls opens the directory itself as one more descriptor.
	fds := strings.Fields(string(out))
	assert.Subset(t, fds, []string{"0", "1", "2", "3"})
	assert.LessOrEqual(t, len(fds), 5, "leaked descriptors: %v", fds)
	assert.Empty(t, e.leftovers(id))
}

// TestRootless runs a container as an unprivileged user.
func TestRootless(t *testing.T) {
	e, uid := rootlessEnv(t)
	b := e.newBundle("sh", "-c", "id -u; cat /proc/self/uid_map; cat /proc/self/setgroups")
	id := randomID("rootless")
	out, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	f := strings.Fields(out)
	require.Len(t, f, 5, out)
	assert.Equal(t, "0", f[0], "root inside")
	assert.Equal(t, []string{"0", strconv.Itoa(uid), "1"}, f[1:4], "mapped to the user outside")
	assert.Equal(t, "deny", f[4])
	assert.Empty(t, e.leftovers(id))
}

// rootlessEnv is an env whose nsrun runs as the nsbench-user account.
func rootlessEnv(t *testing.T) (*env, int) {
	t.Helper()
	testutil.NeedRoot(t, "this test switches to the nsbench-user account (run the suite unprivileged for the plain rootless path)")
	u, err := user.Lookup("nsbench-user")
	if err != nil {
		t.Skip("no nsbench-user account (make test creates it: useradd -m nsbench-user)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	e := newEnv(t)
	// t.TempDir makes 0700 directories; the user must reach the bundle.
	require.NoError(t, os.Chmod(filepath.Dir(e.tmp), 0o755))
	require.NoError(t, os.Chmod(e.tmp, 0o755))
	e.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	e.xdg = filepath.Join(e.tmp, "xdg")
	require.NoError(t, os.Mkdir(e.xdg, 0o700))
	require.NoError(t, os.Chown(e.xdg, uid, gid))
	e.root = filepath.Join(e.xdg, "nsrun")
	return e, uid
}

// TestJoinNamespaceByPath: a network namespace given by path is joined,
// not created: the container sees the interfaces put there.
func TestJoinNamespaceByPath(t *testing.T) {
	testutil.NeedRoot(t, "creating a network namespace to join")
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8) from iproute2")
	}
	// A sleeping process holds the namespace; a veth pair inside marks it.
	holder := exec.Command("unshare", "--net", "sh", "-c", "ip link add nsrun-mark type veth peer name nsrun-peer && echo ok && exec sleep 60")
	out, err := holder.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, holder.Start())
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ok\n", line)

	e := newEnv(t)
	b := e.newBundle("cat", "/proc/net/dev")
	for i, ns := range b.Spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			b.Spec.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/net"
		}
	}
	require.NoError(t, b.Save())
	id := randomID("join")
	stdout, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	assert.Contains(t, stdout, "nsrun-mark", "the joined namespace's device is visible")
	assert.Empty(t, e.leftovers(id))
}

// TestResources: limits in linux.resources land in the container's cgroup.
func TestResources(t *testing.T) {
	testutil.NeedRoot(t, "cgroup limits on this host (v1 hierarchies are not delegated)")
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "cat /sys/fs/cgroup/pids.max 2>/dev/null || true; sleep 60")
	limit := int64(33)
	b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	require.NoError(t, b.Save())
	id := randomID("res")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	t.Cleanup(func() { e.nsrun("delete", "--force", id) })
	pid := e.state(id).Pid
	cg, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	require.NoError(t, err)
	var dir string
	for _, line := range strings.Split(string(cg), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && (f[1] == "pids" || f[1] == "") && strings.HasSuffix(f[2], "/"+id) {
			if f[1] == "pids" {
				dir = "/sys/fs/cgroup/pids" + f[2]
			} else if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				dir = "/sys/fs/cgroup" + f[2]
			}
		}
	}
	require.NotEmpty(t, dir, "the init is in a pids cgroup named after the container: %s", cg)
	max, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	require.NoError(t, err)
	assert.Equal(t, "33", strings.TrimSpace(string(max)))
	_, stderr, code = e.nsrun("delete", "--force", id)
	require.Zero(t, code, stderr)
	assert.NoDirExists(t, dir)
	assert.Empty(t, e.leftovers(id))
}

// TestPidsLimitOne: pids.max 1 leaves room for the init alone, as under
// runc. The init is born in its cgroup and its Go runtime starts threads
// there, which the limit counts: the limit is written only after them (a
// build that set it before the clone aborted in pthread_create).
func TestPidsLimitOne(t *testing.T) {
	testutil.NeedRoot(t, "cgroup limits on this host (v1 hierarchies are not delegated)")
	e := newEnv(t)
	b := e.newBundle("true")
	limit := int64(1)
	b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: &limit}
	require.NoError(t, b.Save())
	id := randomID("pids1")
	_, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	assert.Empty(t, e.leftovers(id))
}

// TestTrace: with NSRUN_TRACE nsrun and its init record every point of a
// run once, in order, on one clock; without it nothing is written.
func TestTrace(t *testing.T) {
	testutil.NeedRoot(t, "the traced run uses the root bundle and cgroups")
	e := newEnv(t)
	b := e.newBundle("true")
	path := filepath.Join(e.tmp, "trace.jsonl")
	id := randomID("trace")
	_, stderr, code := e.nsrunEnv([]string{"NSRUN_TRACE=" + path}, "run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	evs, err := timeline.Read(f)
	require.NoError(t, err)
	seen := map[string]int{}
	pids := map[string]int{}
	for _, ev := range evs {
		seen[ev.Point]++
		pids[ev.Point] = ev.Pid
	}
	for _, p := range timeline.Order() {
		if p == timeline.Spawn || p == timeline.Reaped {
			continue // the benchmark's own
		}
		assert.Equal(t, 1, seen[p], "point %s", p)
	}
	assert.Equal(t, timeline.Main, evs[0].Point)
	assert.Equal(t, timeline.Deleted, evs[len(evs)-1].Point)
	assert.NotEqual(t, pids[timeline.Main], pids[timeline.Mounted], "the init records its own points")
	// The init's points fall between nsrun's.
	at := map[string]int64{}
	for _, ev := range evs {
		at[ev.Point] = ev.NS
	}
	assert.Less(t, at[timeline.Cloned], at[timeline.Configured])
	assert.Less(t, at[timeline.Mounted], at[timeline.Pivoted])
	assert.Less(t, at[timeline.Ready], at[timeline.Created])
	// start marks its point after the init may have woken.
	assert.Less(t, at[timeline.Created], at[timeline.Woken])
	assert.Less(t, at[timeline.Execve], at[timeline.Exited])

	before, err := os.ReadFile(path)
	require.NoError(t, err)
	_, stderr, code = e.nsrun("run", "--bundle", b.Dir, randomID("notrace"))
	require.Zero(t, code, stderr)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "an untraced run writes nothing")
}
