package main

// exec, terminals and joining namespaces by path, driven through the binary
// like the other tests in this package.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/runtime/console"
)

// nsTypes are the /proc/PID/ns entries a container may have.
var nsTypes = []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"}

// hostView is what the host sees of a process: its namespaces, cgroups and
// capability sets.
func hostView(t *testing.T, pid int) (ns map[string]string, cgroup, caps string) {
	t.Helper()
	ns = map[string]string{}
	for _, n := range nsTypes {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, n))
		require.NoError(t, err)
		ns[n] = l
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	var c []string
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Cap") || strings.HasPrefix(line, "NoNewPrivs") {
			c = append(c, line)
		}
	}
	return ns, string(cg), strings.Join(c, "\n")
}

// startContainer creates and starts b as id and returns the init's pid.
func (e *env) startContainer(b *bundle.Bundle, id string) int {
	e.t.Helper()
	_, stderr, code := e.nsrun("run", "--detach", "--bundle", b.Dir, id)
	require.Zero(e.t, code, stderr)
	e.t.Cleanup(func() { e.nsrun("delete", "--force", id) })
	pid := e.state(id).Pid
	// start returns once the init is released; it then drops its
	// capabilities and executes the program on its own time.
	require.Eventually(e.t, func() bool {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && !strings.HasPrefix(string(cmdline), "nsrun\x00")
	}, 10*time.Second, 2*time.Millisecond, "the init executes the program")
	return pid
}

// TestExec: the exec'd process is in every namespace and the cgroup of the
// container, with its capabilities and no descriptor beyond stdio.
func TestExec(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "60")
	if os.Geteuid() == 0 {
		// A user and a time namespace too, so exec joins every type.
		b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		// Identity maps: the test's temporary directories are root's alone.
		b.Spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
		b.Spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
		b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		require.NoError(t, b.Save())
	}
	id := randomID("exec")
	initPid := e.startContainer(b, id)
	wantNS, wantCg, wantCaps := hostView(t, initPid)

	pidFile := filepath.Join(e.tmp, "exec.pid")
	_, stderr, code := e.nsrun("exec", "--detach", "--pid-file", pidFile, id, "sleep", "30")
	require.Zero(t, code, stderr)
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(data))
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	// The pid file is written once the process runs the program.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	require.NoError(t, err)
	assert.Equal(t, "sleep\x0030\x00", string(cmdline))
	ns, cg, caps := hostView(t, pid)
	assert.Equal(t, wantNS, ns, "every namespace of the container")
	assert.Equal(t, wantCg, cg, "the container's cgroup")
	assert.Equal(t, wantCaps, caps, "the container's capabilities")
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	var names []string
	for _, fd := range fds {
		names = append(names, fd.Name())
	}
	assert.Equal(t, []string{"0", "1", "2"}, names, "only stdio")

	// The foreground form: stdio, exit status, flags.
	out, stderr, code := e.nsrun("exec", "--env", "NSRUN_X=42", "--cwd", "/tmp", id, "sh", "-c", "echo $NSRUN_X $(pwd); exit 7")
	assert.Equal(t, 7, code, stderr)
	assert.Equal(t, "42 /tmp\n", out)
	out, stderr, code = e.nsrun("exec", "--user", "1000:1001", "--additional-gids", "1002", "--no-new-privs", id,
		"sh", "-c", "id -u; id -g; id -G; grep NoNewPrivs /proc/self/status")
	require.Zero(t, code, stderr)
	assert.Equal(t, "1000\n1001\n1001 1002\nNoNewPrivs:\t1\n", out)
	out, stderr, code = e.nsrun("exec", "--cap", "CAP_SYS_TIME", id, "grep", "CapEff", "/proc/self/status")
	require.Zero(t, code, stderr)
	eff, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(out, "CapEff:")), 16, 64)
	require.NoError(t, err, out)
	assert.NotZero(t, eff&(1<<unix.CAP_SYS_TIME), "--cap adds to the effective set")

	// --process: a process JSON as engines pass it.
	proc := *b.Spec.Process
	proc.Args = []string{"sh", "-c", "echo from-json; echo $FROM_JSON"}
	proc.Env = append(proc.Env, "FROM_JSON=yes")
	pj, err := json.Marshal(proc)
	require.NoError(t, err)
	pf := filepath.Join(e.tmp, "process.json")
	require.NoError(t, os.WriteFile(pf, pj, 0o644))
	out, stderr, code = e.nsrun("exec", "--process", pf, id)
	require.Zero(t, code, stderr)
	assert.Equal(t, "from-json\nyes\n", out)
	// process.oomScoreAdj holds for an exec'd process as for the init
	// (raising it needs no privilege, so rootless too).
	adj := 321
	proc.OOMScoreAdj = &adj
	proc.Args = []string{"cat", "/proc/self/oom_score_adj"}
	pj, err = json.Marshal(proc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(pf, pj, 0o644))
	out, stderr, code = e.nsrun("exec", "--process", pf, id)
	require.Zero(t, code, stderr)
	assert.Equal(t, "321\n", out)

	if os.Geteuid() == 0 {
		// Frozen, the new process could not get to its execve.
		_, stderr, code = e.nsrun("pause", id)
		require.Zero(t, code, stderr)
		_, stderr, code = e.nsrun("exec", id, "true")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "container is paused")
		_, stderr, code = e.nsrun("resume", id)
		require.Zero(t, code, stderr)
	}

	e.forceDeleted(id)
}

// TestExecRefused: what exec cannot do fails with the reason, and no
// process is left in the container.
func TestExecRefused(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sleep", "60")
	id := randomID("exref")
	e.startContainer(b, id)
	bad := filepath.Join(e.tmp, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"args": ["true"], "cwd": "relative"}`), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no such container", []string{"exec", "nope", "true"}, "does not exist"},
		{"no command", []string{"exec", id}, "want a command"},
		{"missing program", []string{"exec", id, "/nonexistent"}, "process.args[0] /nonexistent"},
		{"bad user", []string{"exec", "--user", "root", id, "true"}, "--user \"root\": want UID[:GID]"},
		{"unknown cap", []string{"exec", "--cap", "CAP_FLY", id, "true"}, "unknown capability"},
		{"bad process file", []string{"exec", "--process", bad, id}, bad + ": process.cwd"},
		{"process and command", []string{"exec", "--process", bad, id, "true"}, "give one"},
		{"tty detached without socket", []string{"exec", "--tty", "--detach", id, "true"}, "needs --console-socket"},
		{"apparmor", []string{"exec", "--apparmor", "x", id, "true"}, "not supported"},
		{"bad cwd", []string{"exec", "--cwd", "/nonexistent", id, "true"}, "chdir to process.cwd /nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := e.nsrun(tc.args...)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, tc.want)
			out, _, _ := e.nsrun("ps", "--format", "json", id)
			var pids []int
			require.NoError(t, json.Unmarshal([]byte(out), &pids), out)
			assert.Len(t, pids, 1, "only the init in the container: %v", pids)
		})
	}
	_, _, code := e.nsrun("kill", id, "KILL")
	require.Zero(t, code)
	require.Eventually(t, func() bool { return e.state(id).Status == specs.StateStopped }, 10*time.Second, 5*time.Millisecond)
	_, stderr, code := e.nsrun("exec", id, "true")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "container is stopped")
}

// consoleReceiver is an engine's end of --console-socket: it accepts one
// connection and receives the pty master with SCM_RIGHTS, written here
// from the socket API (not with runtime/console) so the test checks the
// protocol, not the package against itself.
type consoleReceiver struct {
	path   string
	master chan *os.File
	errs   chan error
}

func newConsoleReceiver(t *testing.T, dir string) *consoleReceiver {
	t.Helper()
	r := &consoleReceiver{path: filepath.Join(dir, "console.sock"), master: make(chan *os.File, 1), errs: make(chan error, 1)}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: r.path, Net: "unix"})
	require.NoError(t, err)
	require.NoError(t, os.Chmod(r.path, 0o777))
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			r.errs <- err
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			r.errs <- err
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			r.errs <- fmt.Errorf("control messages %v: %v", msgs, err)
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			r.errs <- fmt.Errorf("rights %v: %v", fds, err)
			return
		}
		r.master <- os.NewFile(uintptr(fds[0]), "master")
	}()
	return r
}

func (r *consoleReceiver) get(t *testing.T) *os.File {
	t.Helper()
	select {
	case m := <-r.master:
		t.Cleanup(func() { m.Close() })
		return m
	case err := <-r.errs:
		t.Fatalf("console socket: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no pty master arrived on the console socket")
	}
	return nil
}

// ttyReader reads a pty master in the background. The reads are plain
// blocking ones: the Go poller missed a pty master's readiness here (an
// edge lost between the line discipline's work queue and epoll), while
// read(2) sees the data. One reader per master, so no read loses data to
// another.
type ttyReader struct {
	chunks chan string
	seen   strings.Builder
}

func newTTYReader(master *os.File) *ttyReader {
	r := &ttyReader{chunks: make(chan string, 64)}
	fd := int(master.Fd())
	go func() {
		defer close(r.chunks)
		buf := make([]byte, 256)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || n == 0 {
				return // EIO once every slave is closed
			}
			r.chunks <- string(buf[:n])
		}
	}()
	return r
}

// until returns what was read once want shows up (the whole output so far).
func (r *ttyReader) until(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for !strings.Contains(r.seen.String(), want) {
		select {
		case c, ok := <-r.chunks:
			if !ok {
				t.Fatalf("the terminal closed before %q; got %q", want, r.seen.String())
			}
			r.seen.WriteString(c)
		case <-timeout:
			t.Fatalf("read the terminal: no %q within 30s; got %q", want, r.seen.String())
		}
	}
	return r.seen.String()
}

// TestTerminal: process.terminal with --console-socket for run and exec:
// the master arrives over the socket, the slave is the process's
// controlling terminal and stdio, and /dev/console is bound to it.
func TestTerminal(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "read x; echo got:$x; tty; stat -c %t:%T /dev/console $(tty); stty size; sleep 60")
	b.Spec.Process.Terminal = true
	b.Spec.Process.ConsoleSize = &specs.Box{Height: 21, Width: 77}
	require.NoError(t, b.Save())
	recv := newConsoleReceiver(t, e.tmp)
	id := randomID("tty")
	_, stderr, code := e.nsrun("run", "--detach", "--console-socket", recv.path, "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	t.Cleanup(func() { e.nsrun("delete", "--force", id) })
	master := recv.get(t)
	_, err := master.WriteString("hello\n")
	require.NoError(t, err)
	out := newTTYReader(master).until(t, "21 77\r\n")
	assert.Contains(t, out, "got:hello")
	// /dev/console and the tty are the same device (major 0x88 = 136, pts 0).
	assert.Contains(t, out, "/dev/pts/0\r\n88:0\r\n88:0\r\n21 77\r\n", "process.consoleSize is set")

	execRecv := newConsoleReceiver(t, t.TempDir())
	_, stderr, code = e.nsrun("exec", "--tty", "--detach", "--console-socket", execRecv.path, id, "sh", "-c", "tty; echo exec-done; sleep 60")
	require.Zero(t, code, stderr)
	m2 := execRecv.get(t)
	out = newTTYReader(m2).until(t, "exec-done")
	assert.Contains(t, out, "/dev/pts/1")

	// Without a socket and detach, create refuses: nothing would hold it.
	_, stderr, code = e.nsrun("create", "--bundle", b.Dir, randomID("tty"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "pass --console-socket")

	e.forceDeleted(id)
}

// TestPod: a second container joins the first's net, ipc, uts and pid
// namespaces by path, as pods do: it sees the first's processes, and an
// exec into it lands in the shared ones.
func TestPod(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("joining another container's namespaces: the test's containers need root (euid is not 0)")
	}
	e := newEnv(t)
	first := e.newBundle("sleep", "60")
	id1 := randomID("pod1")
	pid1 := e.startContainer(first, id1)
	ns1, _, _ := hostView(t, pid1)

	second := e.newBundle("sleep", "60")
	for i, ns := range second.Spec.Linux.Namespaces {
		switch ns.Type {
		case specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.PIDNamespace:
			second.Spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid1, nsFileName(ns.Type))
		}
	}
	second.Spec.Hostname = ""
	require.NoError(t, second.Save())
	id2 := randomID("pod2")
	pid2 := e.startContainer(second, id2)
	ns2, _, _ := hostView(t, pid2)
	for _, n := range []string{"net", "ipc", "uts", "pid"} {
		assert.Equal(t, ns1[n], ns2[n], "shared %s namespace", n)
	}
	assert.NotEqual(t, ns1["mnt"], ns2["mnt"], "its own mount namespace")

	// In the shared pid namespace the second sees the first's init as 1.
	out, stderr, code := e.nsrun("exec", id2, "sh", "-c", "cat /proc/1/cmdline; echo; readlink /proc/self/ns/pid")
	require.Zero(t, code, stderr)
	assert.Equal(t, "sleep60\n"+ns1["pid"]+"\n", strings.ReplaceAll(out, "\x00", ""))

	for _, id := range []string{id2, id1} {
		e.forceDeleted(id)
	}
}

func nsFileName(t specs.LinuxNamespaceType) string {
	switch t {
	case specs.NetworkNamespace:
		return "net"
	case specs.MountNamespace:
		return "mnt"
	}
	return string(t)
}

// TestJoinUserAndMountNamespace: a container joins a user and a mount
// namespace held by another process (user namespaces and mount namespaces
// can only be joined before the Go runtime starts: runtime/nsenter).
func TestJoinUserAndMountNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mapping a range of ids for the holder's user namespace needs root (euid is not 0)")
	}
	holder := exec.Command("sleep", "60")
	holder.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
	}
	require.NoError(t, holder.Start())
	t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
	hns, _, _ := hostView(t, holder.Process.Pid)

	e := newEnv(t)
	b := e.newBundle("sh", "-c", "readlink /proc/self/ns/user /proc/self/ns/mnt; cat /proc/self/uid_map")
	b.Spec.Process.Args = []string{"sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/mnt; cat /proc/self/uid_map"}
	for i, ns := range b.Spec.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			b.Spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)
		}
	}
	b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", holder.Process.Pid)})
	require.NoError(t, b.Save())
	id := randomID("joinum")
	out, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	f := strings.Fields(out)
	require.Len(t, f, 5, out)
	assert.Equal(t, hns["user"], f[0])
	assert.Equal(t, hns["mnt"], f[1])
	assert.Equal(t, []string{"0", "0", "65536"}, f[2:])
	assert.Empty(t, e.leftovers(id))
}

// TestRootlessExecAndPod: unprivileged, exec enters the container's user
// namespace (and the rest), and a second container joins the first's user,
// network and pid namespaces: an unprivileged caller must join the user
// namespace before the namespaces it owns (runtime/nsenter's order).
func TestRootlessExecAndPod(t *testing.T) {
	e, uid := rootlessEnv(t)
	first := e.newBundle("sleep", "60")
	id1 := randomID("rlpod1")
	pid1 := e.startContainer(first, id1)
	ns1, _, _ := hostView(t, pid1)

	out, stderr, code := e.nsrun("exec", id1, "sh", "-c", "id -u; cat /proc/self/uid_map")
	require.Zero(t, code, stderr)
	assert.Equal(t, []string{"0", "0", strconv.Itoa(uid), "1"}, strings.Fields(out))

	second := e.newBundle("sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/net; readlink /proc/self/ns/pid; cat /proc/1/cmdline")
	for i, ns := range second.Spec.Linux.Namespaces {
		switch ns.Type {
		case specs.UserNamespace, specs.NetworkNamespace, specs.PIDNamespace:
			second.Spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid1, nsFileName(ns.Type))
		}
	}
	require.NoError(t, second.Save())
	id2 := randomID("rlpod2")
	out, stderr, code = e.nsrun("run", "--bundle", second.Dir, id2)
	require.Zero(t, code, stderr)
	f := strings.Fields(strings.ReplaceAll(out, "\x00", " "))
	require.Len(t, f, 5, out)
	assert.Equal(t, []string{ns1["user"], ns1["net"], ns1["pid"]}, f[:3])
	assert.Equal(t, []string{"sleep", "60"}, f[3:], "the first container's init is pid 1 here")
	assert.Empty(t, e.leftovers(id2))
	_, stderr, code = e.nsrun("delete", "--force", id1)
	require.Zero(t, code, stderr)
	assert.Empty(t, e.leftovers(id1))
}

// TestRunTerminalProxy: `run` in the foreground with process.terminal and
// no console socket holds the pty itself, as runc does: the container's
// terminal is copied to nsrun's own (here a pty the test holds), with its
// window size.
func TestRunTerminalProxy(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("sh", "-c", "tty; stty size; read x; echo got:$x")
	b.Spec.Process.Terminal = true
	require.NoError(t, b.Save())
	outer, outerSlave, _, err := console.OpenPty("/dev/ptmx")
	require.NoError(t, err)
	defer outer.Close()
	require.NoError(t, unix.IoctlSetWinsize(int(outer.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}))
	id := randomID("proxy")
	cmd := exec.Command(nsrunBin, "--root", e.root, "run", "--bundle", b.Dir, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = outerSlave, outerSlave, outerSlave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	require.NoError(t, cmd.Start())
	outerSlave.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); e.nsrun("delete", "--force", id) })
	tty := newTTYReader(outer)
	out := tty.until(t, "33 111")
	assert.Contains(t, out, "/dev/pts/0", "the container's own terminal")
	_, err = outer.WriteString("typed\r")
	require.NoError(t, err)
	tty.until(t, "got:typed")
	require.NoError(t, cmd.Wait(), "nsrun run exits with the container's status 0")
	assert.Empty(t, e.leftovers(id))
}
