package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/capabilities"
	"github.com/nsbench/nsbench/runtime/console"
	"github.com/nsbench/nsbench/runtime/hooks"
	"github.com/nsbench/nsbench/runtime/nsenter"
	"github.com/nsbench/nsbench/runtime/procfs"
	"github.com/nsbench/nsbench/runtime/rootfs"
	"github.com/nsbench/nsbench/runtime/seccomp"
	"github.com/nsbench/nsbench/runtime/spec"
	"github.com/nsbench/nsbench/runtime/timeline"
)

// Init is the process nsrun starts as "nsrun init": a container's first
// process, or an exec'd one. Namespaces it joins by path were joined by the
// C constructor of runtime/nsenter before the Go runtime started. It must
// run on the main OS thread, locked (cmd/nsrun locks it in an init
// function): credentials and capabilities below are per-thread, and execve
// keeps only the calling thread. It returns only on failure, after
// reporting it to the parent.
func Init() error {
	goruntime.LockOSThread()
	trace := initTrace()
	syncFD, err := strconv.Atoi(os.Getenv(nsenter.EnvSyncFD))
	if err != nil {
		return errors.New("nsrun init is started by `nsrun create` and `nsrun exec`, not by hand")
	}
	// It must not reach the user's program.
	unix.CloseOnExec(syncFD)
	// The sealed executable this init was started from (see spawn):
	// needed only for that exec, and no hook or program may inherit it.
	if fd, err := strconv.Atoi(os.Getenv(envExeFD)); err == nil {
		unix.Close(fd)
	}
	// (An exec'd process or one joining a pid namespace was made
	// non-dumpable before the Go runtime started: nsenter.)
	if err := undumpable(); err != nil {
		return err
	}
	sock := os.NewFile(uintptr(syncFD), "init-sync")
	c := newConn(sock)
	m, err := c.recv()
	if err != nil {
		return fmt.Errorf("nsrun init: read config from the parent: %v", err)
	}
	trace.Mark(timeline.Configured)
	switch {
	case m.Type == msgConfig && m.Config != nil:
		err = initContainer(c, sock, m.Config, trace)
	case m.Type == msgExec && m.Exec != nil:
		err = initExec(m.Exec, trace)
	default:
		err = fmt.Errorf("nsrun init: unexpected first message %q from the parent", m.Type)
	}
	_ = c.send(message{Type: msgError, Error: err.Error()})
	return err
}

// initTrace is the recorder of nsrun's trace file when nsrun records one
// (envTraceFD), else nil. The file must not reach the program.
func initTrace() *timeline.Recorder {
	v := os.Getenv(envTraceFD)
	if v == "" {
		return nil
	}
	start := timeline.Now()
	fd, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	unix.CloseOnExec(fd)
	r := timeline.FromFile(os.NewFile(uintptr(fd), "trace"), os.Getpid())
	r.MarkAt(timeline.InitMain, start)
	return r
}

// initContainer builds the container, reports ready, waits for `start` on
// the exec fifo and executes the program.
func initContainer(c *conn, sock *os.File, cfg *initConfig, trace *timeline.Recorder) error {
	unix.CloseOnExec(cfg.FifoFD)
	unix.CloseOnExec(cfg.ResultFD)
	if cfg.ConsoleFD >= 0 {
		unix.CloseOnExec(cfg.ConsoleFD)
	}
	if err := setup(c, cfg, trace); err != nil {
		return err
	}
	path, err := lookPath(cfg.Spec.Process)
	if err != nil {
		return err
	}
	trace.Mark(timeline.Ready)
	trace.Flush()
	if err := c.send(message{Type: msgReady}); err != nil {
		return err
	}
	sock.Close()

	// Block until `start` writes to the fifo.
	buf := make([]byte, 1)
	for {
		_, err := unix.Read(cfg.FifoFD, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("nsrun init: wait for start on the exec fifo: %w", err)
		}
		break
	}
	trace.Mark(timeline.Woken)
	unix.Close(cfg.FifoFD)
	var hooks func() error
	if h := cfg.Spec.Hooks; h != nil && len(h.StartContainer) > 0 {
		hooks = func() error { return startContainerHooks(cfg) }
	}
	err = execProcess(cfg.Spec.Process, cfg.Spec.Linux.Personality, path, cfg.FirstFD, cfg.Seccomp, hooks, trace)
	// Here only when it failed: `start` waits on the result fifo for this.
	msg := err.Error()
	if len(msg) > maxResult {
		msg = msg[:maxResult]
	}
	_, _ = unix.Write(cfg.ResultFD, []byte(msg))
	return err
}

// initExec runs an exec'd process: it is in the container's namespaces and
// cgroup already; what is left is its own terminal, limits, directory and
// credentials.
func initExec(cfg *execConfig, trace *timeline.Recorder) error {
	p := cfg.Process
	if cfg.ConsoleFD >= 0 {
		unix.CloseOnExec(cfg.ConsoleFD)
		if err := setupTerminal(cfg.ConsoleFD, false, p.ConsoleSize); err != nil {
			return err
		}
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	// The process is nsrun's child and starts with nsrun's score, not the
	// container's. /proc/self is the container's /proc here (the process
	// joined its mount and pid namespaces), procfs.WriteFile checks that
	// it is a procfs.
	if err := setOOMScoreAdj(p.OOMScoreAdj); err != nil {
		return err
	}
	if err := chdirInRoot(p.Cwd); err != nil {
		return err
	}
	path, err := lookPath(p)
	if err != nil {
		return err
	}
	return execProcess(p, cfg.Personality, path, cfg.FirstFD, cfg.Seccomp, nil, trace)
}

// setOOMScoreAdj applies process.oomScoreAdj to the calling process.
func setOOMScoreAdj(adj *int) error {
	if adj == nil {
		return nil
	}
	if err := procfs.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*adj))); err != nil {
		return fmt.Errorf("set process.oomScoreAdj %d: %w", *adj, err)
	}
	return nil
}

// setupTerminal opens a pty in the container, sends its master over the
// console socket and makes the slave this process's controlling terminal
// and stdio; for a container's init (bindConsole) the slave is also bound
// onto /dev/console, as runc does. size, process.consoleSize, is set before
// the program can ask for it.
func setupTerminal(consoleFD int, bindConsole bool, size *specs.Box) error {
	sock := os.NewFile(uintptr(consoleFD), "console-socket")
	defer sock.Close()
	master, slave, _, err := console.OpenPty("/dev/ptmx")
	if err != nil {
		return err
	}
	defer master.Close()
	defer slave.Close()
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set process.consoleSize %dx%d: %w", size.Width, size.Height, err)
		}
	}
	if bindConsole {
		if err := rootfs.BindConsole(slave); err != nil {
			return err
		}
	}
	if err := console.SendMaster(sock, master); err != nil {
		return err
	}
	return console.SetControlling(slave)
}

// setup builds the container up to the point where only execve is left.
func setup(c *conn, cfg *initConfig, trace *timeline.Recorder) error {
	s := cfg.Spec
	// Before pivot_root: /proc here is still the host's, known mounted.
	if err := setOOMScoreAdj(s.Process.OOMScoreAdj); err != nil {
		return err
	}
	if err := c.send(message{Type: msgNamespaces}); err != nil {
		return err
	}
	m, err := c.recv()
	if err != nil {
		return fmt.Errorf("wait for createRuntime hooks: %w", err)
	}
	if m.Type != msgContinue {
		return fmt.Errorf("create aborted: %s", m.Error)
	}
	// create has moved us into the container's cgroup by now.
	if hasNewNS(s.Linux.Namespaces, specs.CgroupNamespace) {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	// A new user namespace, or a joined one the init is root of: either
	// way mounts are made as in a user namespace (no mknod, bind /dev
	// nodes from the host).
	userns := hasNS(s.Linux.Namespaces, specs.UserNamespace)
	if err := rootfs.Prepare(&rootfs.Options{Spec: s, Rootfs: cfg.Rootfs, UserNS: userns, CgroupV2: cfg.CgroupV2, CgroupV1: cfg.CgroupV1}); err != nil {
		return err
	}
	trace.Mark(timeline.Mounted)
	if s.Hooks != nil && len(s.Hooks.CreateContainer) > 0 {
		st := cfg.State
		st.Status = specs.StateCreating
		if err := hooks.Run(context.Background(), "createContainer", s.Hooks.CreateContainer, &st, nil); err != nil {
			return err
		}
	}
	trace.Mark(timeline.HooksDone)
	if err := rootfs.Pivot(cfg.Rootfs); err != nil {
		return err
	}
	trace.Mark(timeline.Pivoted)
	if s.Process.Terminal {
		if err := setupTerminal(cfg.ConsoleFD, true, s.Process.ConsoleSize); err != nil {
			return err
		}
	}
	if err := applySysctls(s.Linux.Sysctl); err != nil {
		return err
	}
	if err := rootfs.Finish(s); err != nil {
		return err
	}
	// Only a namespace of its own: a joined one is its owner's to name.
	if hasNewNS(s.Linux.Namespaces, specs.UTSNamespace) {
		if s.Hostname != "" {
			if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
				return fmt.Errorf("set hostname %q: %w", s.Hostname, err)
			}
		}
		if s.Domainname != "" {
			if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
				return fmt.Errorf("set domainname %q: %w", s.Domainname, err)
			}
		}
	}
	if err := setRlimits(s.Process.Rlimits); err != nil {
		return err
	}
	return chdirInRoot(s.Process.Cwd)
}

func setRlimits(rls []specs.POSIXRlimit) error {
	for _, rl := range rls {
		res, ok := spec.Rlimit(rl.Type)
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		if err := unix.Setrlimit(res, &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return fmt.Errorf("set %s to %d/%d: %w (raising a hard limit needs CAP_SYS_RESOURCE)", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

// lookPath finds args[0] in the container's root with its own PATH, so a
// missing program fails `create`, not silently after `start`.
func lookPath(p *specs.Process) (string, error) {
	name := p.Args[0]
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("process.args[0] %s: %w", name, err)
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range p.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		cand := filepath.Join(dir, name)
		if executable(cand) == nil {
			return cand, nil
		}
	}
	return "", fmt.Errorf("process.args[0] %q: not found in the container's PATH %s", name, pathEnv)
}

// execProcess sets the personality, scheduling and I/O priority, the user,
// capabilities and no_new_privs, runs
// beforeExec (a container's startContainer hooks) with exactly those,
// closes every descriptor the program must not see, loads the seccomp
// filter (if any) and replaces itself with the program.
func execProcess(p *specs.Process, personality *specs.LinuxPersonality, path string, firstFD int, filter *seccomp.Filter, beforeExec func() error, trace *timeline.Recorder) error {
	if err := applyProcessAttrs(p, personality); err != nil {
		return err
	}
	caps, err := capabilities.Parse(p.Capabilities)
	if err != nil {
		return err
	}
	if beforeExec != nil && !hooksAfterCredentials {
		if err := beforeExec(); err != nil {
			return err
		}
	}
	// Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: load it
	// while this process still has it, before the capabilities go (as
	// runc). The filter must then allow the calls below: prctl, setgroups,
	// setres[ug]id, capset, umask, close_range and execve.
	if filter != nil && !p.NoNewPrivileges {
		// The trace ends here: under the filter a write may be denied.
		trace = endTrace(trace)
		if err := filter.Load(); err != nil {
			return err
		}
	}
	if p.Capabilities != nil {
		if err := caps.DropBounding(); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
	}
	if err := setUser(p.User); err != nil {
		return err
	}
	if p.Capabilities != nil {
		if err := caps.Apply(); err != nil {
			return err
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	// With no_new_privs the filter comes as late as possible, so that few
	// of nsrun's own calls run under it: just before execve, or before the
	// startContainer hooks if there are any, which run under it as the
	// container's process will (as in runc). It is this locked thread's,
	// which execve keeps; every process the program starts inherits it.
	late := filter != nil && p.NoNewPrivileges
	if late && beforeExec != nil {
		trace = endTrace(trace)
		if err := filter.Load(); err != nil {
			return err
		}
	}
	// startContainer hooks come with the image (their paths resolve in the
	// container), so they run as the container's process will: its user,
	// capabilities, no_new_privs and seccomp filter, as runc runs them.
	if beforeExec != nil && hooksAfterCredentials {
		if err := beforeExec(); err != nil {
			return err
		}
	}
	// Everything from FirstFD up closes on exec: only stdio and the
	// preserved descriptors reach the program.
	if err := unix.CloseRange(uint(firstFD), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		if err := closeFrom(firstFD); err != nil {
			return err
		}
	}
	endTrace(trace)
	if late && beforeExec == nil {
		if err := filter.Load(); err != nil {
			return err
		}
	}
	if err := unix.Exec(path, p.Args, p.Env); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// endTrace records the process's last point and writes its trace before
// the seccomp filter is loaded (which may deny the write) or execve; it
// returns nil, the recorder from then on, so the point is recorded once.
func endTrace(trace *timeline.Recorder) *timeline.Recorder {
	trace.Mark(timeline.Execve)
	trace.Flush()
	return nil
}

// startContainerHooks runs the startContainer hooks after checking that
// each path resolves inside the container's root to an executable file.
func startContainerHooks(cfg *initConfig) error {
	s := cfg.Spec
	if s.Hooks == nil || len(s.Hooks.StartContainer) == 0 {
		return nil
	}
	for i, h := range s.Hooks.StartContainer {
		if err := executable(h.Path); err != nil {
			return fmt.Errorf("hooks.startContainer[%d].path %s in the container: %w", i, h.Path, err)
		}
	}
	st := cfg.State
	st.Status = specs.StateRunning
	return hooks.Run(context.Background(), "startContainer", s.Hooks.StartContainer, &st, nil)
}

// closeFrom marks descriptors >= first close-on-exec where close_range is
// missing (Linux < 5.11).
func closeFrom(first int) error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list open descriptors: %w", err)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

func setUser(u specs.User) error {
	if len(u.AdditionalGids) > 0 {
		gids := make([]int, len(u.AdditionalGids))
		for i, g := range u.AdditionalGids {
			gids[i] = int(g)
		}
		if err := unix.Setgroups(gids); err != nil {
			return fmt.Errorf("set process.user.additionalGids %v: %w", u.AdditionalGids, err)
		}
	} else if err := unix.Setgroups(nil); err != nil && !errors.Is(err, unix.EPERM) {
		// EPERM: setgroups is denied in a rootless user namespace, where
		// there are no supplementary groups to drop anyway.
		return fmt.Errorf("clear supplementary groups: %w", err)
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("set process.user.gid %d: %w (is it mapped in linux.gidMappings?)", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("set process.user.uid %d: %w (is it mapped in linux.uidMappings?)", u.UID, err)
	}
	return nil
}
