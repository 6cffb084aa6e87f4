package runtime

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/cgroups"
	"github.com/nsbench/nsbench/runtime/nsenter"
)

// spawnOptions describe one `nsrun init` process: a container's init or
// an exec'd process.
type spawnOptions struct {
	// ID names the container in the init's argv (ps shows it).
	ID string
	// Namespaces the process gets: new ones (no path) and joined ones.
	// A new cgroup namespace is left to the init (it unshares it once in
	// its cgroup).
	Namespaces []specs.LinuxNamespace
	// Maps of a new user namespace.
	UIDMappings, GIDMappings []specs.LinuxIDMapping
	Rootless                 bool
	// Stdio; nil means this process's own.
	Stdin, Stdout, Stderr *os.File
	// Extra are passed as descriptors 3, 4, ... in this order; the sync
	// socket follows them.
	Extra []*os.File
	// Sock is the init's end of the sync socketpair.
	Sock *os.File
	// Exe is the sealed nsrun executable the process starts from (see
	// package exeseal), executed through its /proc/self/fd path in the
	// child: that needs no search permission on the binary's directories,
	// which a remapped root (host uid 200000, say) may lack for /root/...
	Exe *os.File
	// CgroupFD, when >= 0, is a cgroup v2 directory the process is cloned
	// into.
	CgroupFD int
	// JoinThread, when set, moves the thread that clones the process into
	// its v1 cgroups first (cgroups.Manager.JoinThread), so that it is
	// born in them like CgroupFD's, and returns how to move it back.
	JoinThread func() (leave func() error, err error)
	// Exec: an exec'd process always goes through the constructor (it
	// joins every namespace) and is made non-dumpable until its execve.
	Exec bool
	// Trace, when not nil, is nsrun's trace file (package timeline): the
	// process records its own points there until its execve.
	Trace *os.File
}

// spawned is a started `nsrun init` and the channel to it. It is started
// with syscall.ForkExec and reaped with wait4, not with os/exec: the first
// os.StartProcess of a process forks a throw-away child to check that
// pidfds work, a fork and a reap on every container's start.
type spawned struct {
	// Pid is the process that goes on: the init, or for a pid namespace
	// the child the constructor forked (nsrun's child too, CLONE_PARENT).
	Pid int
	// first is the process nsrun started while it is not yet reaped: the
	// constructor's, which reports Pid and exits when it forks.
	first int
	// FirstExtraFD is the descriptor number of Extra[0] in the child.
	FirstExtraFD int
	conn         *conn

	// reaped is Pid's wait, done once whoever asks first; gone is set
	// then, so that no signal is sent to a pid that may be reused.
	reaped sync.Once
	gone   atomic.Bool
	ws     syscall.WaitStatus
	werr   error
}

// initGoEnv sets up the Go runtime of the init, which runs one goroutine
// on one locked thread: with a single P the runtime takes the P back as
// soon as that thread blocks in a read (config, hooks, the exec fifo), and
// its monitor thread then sleeps instead of polling every 20-100 µs for as
// long as another P is idle (a context switch each time); and a set
// GOMAXPROCS spares the start-up the reading of cgroup files for a CPU
// limit. The program's own environment replaces this one at execve, and
// hooks get theirs from the config.
const initGoEnv = "GOMAXPROCS=1"

// needsNSEnter: joining a namespace by path goes through the C constructor
// (a Go program cannot join a user or mount namespace once its threads
// run), and so does creating new ones after such a join. Everything else
// is one clone(2) from Go, the cheapest way to start an init.
func needsNSEnter(o *spawnOptions) bool {
	if o.Exec {
		return true
	}
	for _, ns := range o.Namespaces {
		if ns.Path != "" {
			return true
		}
	}
	return false
}

// spawn starts `nsrun init`, in its namespaces, and returns once the
// process that will run the container's program exists. parent is this
// end of the sync socket.
func spawn(o *spawnOptions, parent *os.File) (*spawned, error) {
	useC := needsNSEnter(o)
	if useC && !nsenter.Linked {
		return nil, errors.New("this nsrun was built without cgo, so it lacks the C part that joins namespaces by path and enters containers for exec: build it with CGO_ENABLED=1 (make nsrun)")
	}
	if o.Rootless && !hasNS(o.Namespaces, specs.UserNamespace) {
		return nil, errors.New("config.json: linux.namespaces: an unprivileged user needs a user namespace ({\"type\": \"user\"}); make the bundle with `nsrun spec --rootless`")
	}
	newUser := hasNewNS(o.Namespaces, specs.UserNamespace)
	if newUser && o.Rootless {
		if err := checkRootlessMaps(o.UIDMappings, o.GIDMappings); err != nil {
			return nil, err
		}
	}
	files := append([]*os.File{orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr)}, o.Extra...)
	files = append(files, o.Sock, o.Exe)
	syncFD := 3 + len(o.Extra)
	exeFD := strconv.Itoa(syncFD + 1)
	path := "/proc/self/fd/" + exeFD
	// The id in argv names the init in ps until it execs the program.
	args := []string{"nsrun", "init", o.ID}
	env := []string{nsenter.EnvSyncFD + "=" + strconv.Itoa(syncFD), envExeFD + "=" + exeFD, initGoEnv}
	if o.Trace != nil {
		env = append(env, envTraceFD+"="+strconv.Itoa(len(files)))
		files = append(files, o.Trace)
	}
	attr := &syscall.SysProcAttr{Setsid: true}
	if o.CgroupFD >= 0 {
		attr.UseCgroupFD, attr.CgroupFD = true, o.CgroupFD
	}
	var req *nsenter.Request
	if useC {
		env = append(env, nsenter.Env+"=1")
		req = nsenterRequest(o)
	} else {
		for _, ns := range o.Namespaces {
			if ns.Type != specs.CgroupNamespace {
				attr.Cloneflags |= cloneFlags[ns.Type]
			}
		}
		if newUser {
			attr.UidMappings, attr.GidMappings = idMaps(o.UIDMappings), idMaps(o.GIDMappings)
			// An unprivileged user may write a gid map only with setgroups
			// denied; root keeps setgroups so additionalGids work.
			attr.GidMappingsEnableSetgroups = !o.Rootless
			// Become root of the new namespace. Without this the init keeps
			// its host uid, which a map that leaves it out (root mapping a
			// range such as 0 -> 200000) shows as nobody: no capabilities.
			attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: o.Rootless}
		}
	}
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	pid, err := forkExec(o.JoinThread, path, args, &syscall.ProcAttr{Env: env, Files: fds, Sys: attr})
	// The files must stay open until the child has them.
	goruntime.KeepAlive(files)
	if err != nil {
		return nil, fmt.Errorf("start container init (%s, sealed nsrun): %w", path, err)
	}
	sp := &spawned{Pid: pid, first: pid, FirstExtraFD: 3, conn: newConn(parent)}
	if req == nil {
		return sp, nil
	}
	if err := sp.nsenter(req, o); err != nil {
		sp.kill()
		return nil, err
	}
	return sp, nil
}

// spawnIn is spawn with the process born in mgr's cgroup where it can be:
// clone3's CLONE_INTO_CGROUP for the unified hierarchy, the cloning
// thread's own cgroups for the v1 ones (forkExec). born says whether it
// was; if not (no cgroup, or the fallback below), the caller moves it in
// with mgr.Apply. so's cgroup fields are set here.
func spawnIn(so *spawnOptions, parent *os.File, mgr *cgroups.Manager) (sp *spawned, born bool, err error) {
	so.CgroupFD, so.JoinThread = -1, nil
	// Born in all of the container's cgroups or in none: born in the
	// unified one alone, Apply would not add it to the v1 ones.
	if mgr == nil || !mgr.CanBeBornIn() {
		sp, err = spawn(so, parent)
		return sp, false, err
	}
	fd, err := mgr.OpenUnified()
	if err != nil {
		return nil, false, err
	}
	if fd >= 0 {
		defer unix.Close(fd)
		so.CgroupFD = fd
	}
	if mgr.CanJoinThread() {
		so.JoinThread = mgr.JoinThread
	}
	sp, err = spawn(so, parent)
	if err == nil || !(errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.E2BIG)) {
		return sp, err == nil, err
	}
	// EAGAIN: a pids limit counts the cloning thread too (pids.max 1), or
	// the cgroup is full already; a process moved in after its clone is
	// not held to the limit, as under runc. ENOSYS, E2BIG: a kernel
	// without clone3's CLONE_INTO_CGROUP (before 5.7).
	so.CgroupFD, so.JoinThread = -1, nil
	sp, err = spawn(so, parent)
	return sp, false, err
}

// forkExec is syscall.ForkExec, from a thread of its own that first runs
// join when that is set: a child is born in the cgroups of the thread that
// clones it. The thread moves back out right after the clone (leave), and
// is never handed back to the Go scheduler either (no UnlockOSThread): it
// ends with its goroutine.
//
// It must not be the main thread, which Go never ends but parks for good:
// the work goes to another goroutine while the main thread, should it be
// the one here, stays locked and out of reach.
func forkExec(join func() (func() error, error), path string, args []string, attr *syscall.ProcAttr) (int, error) {
	if join == nil {
		return syscall.ForkExec(path, args, attr)
	}
	done := make(chan forkResult, 1)
	go forkExecJoined(join, path, args, attr, done)
	r := <-done
	return r.pid, r.err
}

type forkResult struct {
	pid int
	err error
}

func forkExecJoined(join func() (func() error, error), path string, args []string, attr *syscall.ProcAttr, done chan<- forkResult) {
	goruntime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// Locked here, the main thread can take no other goroutine.
		inner := make(chan forkResult, 1)
		go forkExecJoined(join, path, args, attr, inner)
		r := <-inner
		goruntime.UnlockOSThread()
		done <- r
		return
	}
	leave, err := join()
	pid := 0
	if err == nil {
		pid, err = syscall.ForkExec(path, args, attr)
	}
	if leave != nil {
		if lerr := leave(); lerr != nil {
			// A child whose cloning thread is stuck in its cgroup does not go on.
			if err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				_, _ = reap(pid)
			}
			pid, err = 0, errors.Join(err, lerr)
		}
	}
	done <- forkResult{pid, err}
}

func nsenterRequest(o *spawnOptions) *nsenter.Request {
	req := &nsenter.Request{NoDump: o.Exec}
	for _, ns := range o.Namespaces {
		switch {
		case ns.Path != "":
			req.Joins = append(req.Joins, nsenter.Join{Flag: int(cloneFlags[ns.Type]), Name: string(ns.Type), Path: ns.Path})
		case ns.Type != specs.CgroupNamespace:
			req.Unshare |= cloneFlags[ns.Type]
		}
		switch {
		case ns.Type == specs.PIDNamespace:
			// Joined or new, only children live in it.
			req.Fork = true
			// Until its execve the init holds host descriptors; processes
			// already in a joined pid namespace must not trace it.
			req.NoDump = req.NoDump || ns.Path != ""
		case ns.Type == specs.TimeNamespace && ns.Path == "":
			req.Fork = true // unshare(CLONE_NEWTIME) also holds only children
		}
	}
	return req
}

// nsenter carries the request out with the constructor: maps for a new
// user namespace, then the pid of the process that goes on.
func (sp *spawned) nsenter(req *nsenter.Request, o *spawnOptions) error {
	data, err := req.Encode()
	if err != nil {
		return err
	}
	if err := sp.conn.sendRaw(data); err != nil {
		return err
	}
	for {
		m, err := sp.conn.recv()
		if err != nil {
			return fmt.Errorf("the container's init exited while joining its namespaces: %s", sp.exitReason())
		}
		switch m.Type {
		case msgError:
			// The constructor's process exits after reporting.
			_, _ = sp.wait()
			sp.first = 0
			return errors.New(m.Error)
		case msgIDMap:
			if err := writeIDMaps(sp.first, o.UIDMappings, o.GIDMappings, o.Rootless); err != nil {
				return err
			}
			if err := sp.conn.sendRaw([]byte{nsenter.Ack}); err != nil {
				return err
			}
		case msgPid:
			if m.Pid <= 0 {
				return fmt.Errorf("the container's init reported pid %d", m.Pid)
			}
			if m.Pid != sp.first {
				// The constructor forked and exits: reap it. Its child is
				// ours (CLONE_PARENT).
				ws, err := reap(sp.first)
				sp.first = 0
				if err != nil || ws.ExitStatus() != 0 || !ws.Exited() {
					sp.Pid = m.Pid
					return fmt.Errorf("the container's init exited after forking into its pid namespace: %s", waitString(ws))
				}
			}
			sp.Pid = m.Pid
			return nil
		default:
			return fmt.Errorf("unexpected %q message from the container's init while it joins its namespaces", m.Type)
		}
	}
}

// reap waits for pid to exit (wait4, EINTR retried).
func reap(pid int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for pid %d: %w", pid, err)
		}
		return ws, nil
	}
}

// wait waits for the process that goes on and returns its wait status;
// every caller gets the one wait's result.
func (sp *spawned) wait() (syscall.WaitStatus, error) {
	sp.reaped.Do(func() {
		sp.ws, sp.werr = reap(sp.Pid)
		sp.gone.Store(true)
	})
	return sp.ws, sp.werr
}

// kill ends the process (and the constructor's, if it still runs) and
// reaps it.
func (sp *spawned) kill() {
	if !sp.gone.Load() {
		_ = unix.Kill(sp.Pid, unix.SIGKILL)
	}
	if sp.first != 0 && sp.first != sp.Pid {
		_ = unix.Kill(sp.first, unix.SIGKILL)
		_, _ = reap(sp.first)
		sp.first = 0
	}
	_, _ = sp.wait()
}

// exitReason says why the process that goes on stopped talking.
func (sp *spawned) exitReason() string {
	done := make(chan string, 1)
	go func() {
		ws, err := sp.wait()
		if err != nil {
			done <- err.Error()
			return
		}
		done <- waitString(ws)
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(2 * time.Second):
		return fmt.Sprintf("pid %d closed its channel but did not exit", sp.Pid)
	}
}

func waitString(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET, specs.MountNamespace: unix.CLONE_NEWNS,
	specs.IPCNamespace: unix.CLONE_NEWIPC, specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// hasNS reports whether the config lists a namespace of type t, new or
// joined: the container has its own (not the host's).
func hasNS(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	for _, ns := range nss {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// hasNewNS reports whether the config asks for a new namespace of type t.
func hasNewNS(nss []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	for _, ns := range nss {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

func idMaps(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range ms {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}

// writeIDMaps writes the maps of pid's new user namespace, as Go's
// SysProcAttr does for a clone from Go.
func writeIDMaps(pid int, uids, gids []specs.LinuxIDMapping, rootless bool) error {
	proc := "/proc/" + strconv.Itoa(pid) + "/"
	if rootless {
		if err := os.WriteFile(proc+"setgroups", []byte("deny"), 0); err != nil {
			return fmt.Errorf("write %ssetgroups: %w", proc, err)
		}
	}
	for _, f := range []struct {
		file string
		ms   []specs.LinuxIDMapping
	}{{"uid_map", uids}, {"gid_map", gids}} {
		var b strings.Builder
		for _, m := range f.ms {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		if err := os.WriteFile(proc+f.file, []byte(b.String()), 0); err != nil {
			return fmt.Errorf("write %s%s: %w", proc, f.file, err)
		}
	}
	return nil
}

// checkRootlessMaps: without newuidmap an unprivileged process may map only
// its own ids, one each.
func checkRootlessMaps(uids, gids []specs.LinuxIDMapping) error {
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	for _, m := range uids {
		if m.HostID != uid || m.Size != 1 || len(uids) != 1 {
			return fmt.Errorf("config.json: linux.uidMappings: rootless nsrun maps only your own uid %d (size 1); got hostID %d size %d", uid, m.HostID, m.Size)
		}
	}
	for _, m := range gids {
		if m.HostID != gid || m.Size != 1 || len(gids) != 1 {
			return fmt.Errorf("config.json: linux.gidMappings: rootless nsrun maps only your own gid %d (size 1); got hostID %d size %d", gid, m.HostID, m.Size)
		}
	}
	return nil
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}
