package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/procfs"
	"github.com/nsbench/nsbench/internal/testpause"
	"github.com/nsbench/nsbench/runtime/cgroups"
	"github.com/nsbench/nsbench/runtime/hooks"
	"github.com/nsbench/nsbench/runtime/state"
	"github.com/nsbench/nsbench/runtime/timeline"
)

// Runtime manages the containers whose state lives under Root.
type Runtime struct {
	Root string
	// Warn receives non-fatal problems (a failing poststart hook, say).
	Warn io.Writer
	// PauseAt names a step at which the command stops for good, for the
	// fault tests (see testPause); empty outside them.
	PauseAt string
	// Trace, when not nil, records the points a container's start passes
	// (package timeline); the init records its own into the same file.
	Trace *timeline.Recorder
	// HookVia is the argv the hooks this process runs go through (see
	// hooks.Run): nsrun's sigforward.Prefix, when it blocked signals that
	// hooks must not inherit.
	HookVia []string
}

// DefaultRoot is /run/nsrun for root and $XDG_RUNTIME_DIR/nsrun otherwise.
func DefaultRoot() string {
	if os.Geteuid() != 0 {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return filepath.Join(d, "nsrun")
		}
		return filepath.Join(os.TempDir(), "nsrun-"+strconv.Itoa(os.Geteuid()))
	}
	return "/run/nsrun"
}

func (r *Runtime) store() *state.Store { return &state.Store{Root: r.Root} }

// lockAndLoad takes container id's lock and loads its record: what every
// change of a container's state starts with. The caller defers unlock.
func (r *Runtime) lockAndLoad(ctx context.Context, id string) (*state.Store, *state.Container, func(), error) {
	st := r.store()
	unlock, err := st.Lock(ctx, id)
	if err != nil {
		return nil, nil, nil, err
	}
	rec, err := st.Load(id)
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	return st, rec, unlock, nil
}

func (r *Runtime) warn(format string, args ...any) {
	if r.Warn != nil {
		fmt.Fprintf(r.Warn, "nsrun: warning: "+format+"\n", args...)
	}
}

// CreateOptions describe one `create`.
type CreateOptions struct {
	ID, Bundle string
	// PreserveFDs passes descriptors 3 .. 3+PreserveFDs-1 to the container.
	PreserveFDs int
	// ConsoleSocket, for process.terminal, is a connected unix socket: the
	// init sends the pty master over it (SCM_RIGHTS), as runc does.
	ConsoleSocket *os.File
	// Stdio the container inherits; nil means this process's own.
	Stdin, Stdout, Stderr *os.File
}

// Process is a created container's init, for callers that wait on it
// (`run`); after `create` returns it can also be left alone.
type Process struct {
	ID  string
	Pid int
	sp  *spawned
}

// Wait waits for the process to exit and returns its wait status.
func (p *Process) Wait() (syscall.WaitStatus, error) { return p.sp.wait() }

// undo is a stack of clean-up steps run when create fails half-way.
type undo []func()

func (u *undo) push(f func()) { *u = append(*u, f) }
func (u undo) run() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}

// makeFifo makes a fifo in dir and opens it read-write: O_RDWR opens a fifo
// without waiting for a peer.
func makeFifo(dir, name string) (*os.File, error) {
	path := filepath.Join(dir, name)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

// socketpair returns the two ends of the sync socket, close-on-exec (the
// child's end is passed on explicitly).
func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair for the container's init: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "init-parent"), os.NewFile(uintptr(fds[1]), "init-child"), nil
}

// cgroup returns the container's cgroup manager, or nil for a rootless
// container that asks for no limits on a host where it cannot have one.
func (r *Runtime) cgroup(layout *cgroups.Layout, s *specs.Spec, id string, rootless bool) (*cgroups.Manager, error) {
	mgr, err := cgroups.New(layout, s.Linux.CgroupsPath, id, rootless)
	if errors.Is(err, cgroups.ErrRootless) {
		if wantsLimits(s.Linux.Resources) {
			return nil, fmt.Errorf("linux.resources: %w; run as root or drop the limits", err)
		}
		return nil, nil
	}
	return mgr, err
}

func wantsLimits(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	return r.Memory != nil && (r.Memory.Limit != nil || r.Memory.Reservation != nil || r.Memory.Swap != nil) ||
		r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 ||
		r.CPU != nil && (r.CPU.Quota != nil || r.CPU.Shares != nil || r.CPU.Cpus != "" || r.CPU.Mems != "")
}

// alive reports whether the container's init still runs (not a zombie, and
// not a new process that reused its pid).
func alive(rec *state.Container) bool {
	if rec.Pid <= 0 {
		return false
	}
	ps, err := procfs.ReadStat(rec.Pid)
	return err == nil && !ps.Zombie() && (rec.InitStartTime == 0 || ps.StartTime == rec.InitStartTime)
}

// status computes the container's OCI status from its record and the
// living processes.
func (r *Runtime) status(rec *state.Container) specs.ContainerState {
	if rec.Status == specs.StateCreating {
		return specs.StateCreating
	}
	if !alive(rec) {
		return specs.StateStopped
	}
	// Paused first, as runc: a created container can be paused too.
	if frozen(rec) {
		return statusPaused
	}
	if _, err := os.Stat(filepath.Join(r.store().Dir(rec.ID), fifoName)); err == nil {
		return specs.StateCreated
	}
	return specs.StateRunning
}

// State returns the OCI state of container id.
func (r *Runtime) State(id string) (*specs.State, error) {
	rec, err := r.store().Load(id)
	if err != nil {
		return nil, err
	}
	s := rec.State
	s.Status = r.status(rec)
	if s.Status == specs.StateStopped {
		s.Pid = 0
	}
	return &s, nil
}

// Start releases a created container's init to execve the user's program
// and runs the poststart hooks.
func (r *Runtime) Start(ctx context.Context, id string) error {
	st, rec, unlock, err := r.lockAndLoad(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	if s := r.status(rec); s != specs.StateCreated {
		return fmt.Errorf("start %s: container is %s, not created", id, s)
	}
	r.testPause("start-locked")
	// Opened before the init is released: what it reports must find a
	// reader (the fifo's buffer goes with the init's end).
	resultPath := filepath.Join(st.Dir(id), resultName)
	result, err := os.OpenFile(resultPath, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("start %s: open %s: %w", id, resultPath, err)
	}
	defer result.Close()
	fifoPath := filepath.Join(st.Dir(id), fifoName)
	// Non-blocking: with no reader (the init died) this fails at once
	// instead of hanging.
	f, err := os.OpenFile(fifoPath, os.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("start %s: open %s: %w (is the container's init still alive?)", id, fifoPath, err)
	}
	_, werr := f.Write([]byte{0})
	f.Close()
	if werr != nil {
		return fmt.Errorf("start %s: write %s: %w", id, fifoPath, werr)
	}
	r.testPause("fifo-written")
	for _, p := range []string{fifoPath, resultPath} {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("start %s: remove %s: %w", id, p, err)
		}
	}
	rec.Status = specs.StateRunning
	if err := st.Save(rec); err != nil {
		return err
	}
	r.testPause("start-saved")
	if err := awaitExec(ctx, result, rec); err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	if rec.Config != nil && rec.Config.Hooks != nil {
		s := rec.State
		if err := hooks.Run(ctx, "poststart", rec.Config.Hooks.Poststart, &s, r.HookVia); err != nil {
			// The spec: a failing poststart hook is a warning; the
			// container goes on.
			r.warn("%v", err)
		}
	}
	r.Trace.Mark(timeline.Started)
	return nil
}

// awaitExec waits until the released init has replaced itself with the
// container's program (its end of the result fifo closes on execve), or
// has reported on the fifo why it could not; then it waits until the init
// is gone, so that the container is stopped when start fails (the
// runtime-spec's lifecycle: a failed startContainer hook stops it). A
// hook's own timeout bounds the wait, ctx too.
func awaitExec(ctx context.Context, result *os.File, rec *state.Container) error {
	stop := context.AfterFunc(ctx, func() { _ = result.SetReadDeadline(time.Now()) })
	defer stop()
	text, err := io.ReadAll(io.LimitReader(result, maxResult))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("wait for the init to run the program: %w", ctx.Err())
		}
		return fmt.Errorf("read the init's result: %w", err)
	}
	if len(text) == 0 {
		return nil
	}
	if err := waitGone(ctx, rec); err != nil {
		return fmt.Errorf("%s (and then: %w)", text, err)
	}
	return fmt.Errorf("%s; the container is stopped", text)
}

// waitGone waits until the container's init has exited.
func waitGone(ctx context.Context, rec *state.Container) error {
	fd, err := unix.PidfdOpen(rec.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("pidfd_open %d: %w", rec.Pid, err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// The pid is the init's while it is alive; once the pidfd is open it
	// cannot be reused.
	if !alive(rec) {
		return nil
	}
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 100); err == nil && n > 0 {
			return nil
		} else if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll the init's pidfd: %w", err)
		}
	}
	return fmt.Errorf("wait for the init %d to exit: %w", rec.Pid, ctx.Err())
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	rec, err := r.store().Load(id)
	if err != nil {
		return err
	}
	switch s := r.status(rec); s {
	case specs.StateCreated, specs.StateRunning, statusPaused:
	default:
		return fmt.Errorf("kill %s: container is %s, not created or running", id, s)
	}
	if all && len(rec.CgroupPaths) > 0 {
		if err := cgroups.Load(rec.CgroupPaths).Signal(sig); err != nil {
			return fmt.Errorf("kill %s: %w", id, err)
		}
		return nil
	}
	if err := unix.Kill(rec.Pid, sig); err != nil {
		return fmt.Errorf("kill %s: signal %d to pid %d: %w", id, sig, rec.Pid, err)
	}
	return nil
}

// Delete removes a stopped container: its processes (with force, also a
// running one), cgroup and state; then the poststop hooks run.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	st, rec, unlock, err := r.lockAndLoad(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	r.testPause("delete-locked")
	status := r.status(rec)
	if status != specs.StateStopped {
		if !force && status != specs.StateCreating {
			return fmt.Errorf("delete %s: container is %s: stop it first or use --force", id, status)
		}
		if !force {
			return fmt.Errorf("delete %s: container is still being created: use --force if its create died", id)
		}
		if err := r.killAll(ctx, rec); err != nil {
			return err
		}
	}
	r.testPause("delete-killed")
	if len(rec.CgroupPaths) > 0 {
		mgr := cgroups.Load(rec.CgroupPaths)
		// A stopped init can leave orphans in the cgroup (no pid
		// namespace, or a daemonised child).
		_ = mgr.Signal(unix.SIGKILL)
		if err := mgr.Destroy(ctx); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	r.testPause("cgroup-destroyed")
	// The poststop hooks run once the container's processes and cgroup are
	// gone but before its record is: a delete killed during them leaves the
	// record, and the next delete --force runs them again (nsnet's teardown
	// is idempotent). Removed first, a killed delete would leave what the
	// hooks undo (a lease, a veth) with nothing left to find it by.
	r.poststop(ctx, rec)
	r.testPause("poststop-done")
	if err := st.Remove(id); err != nil {
		return err
	}
	r.Trace.Mark(timeline.Deleted)
	return nil
}

// poststop runs the container's poststop hooks; their failure is a warning
// (the spec's rule), the container is gone either way.
func (r *Runtime) poststop(ctx context.Context, rec *state.Container) {
	if rec.Config == nil || rec.Config.Hooks == nil || len(rec.Config.Hooks.Poststop) == 0 {
		return
	}
	s := rec.State
	s.Status = specs.StateStopped
	if err := hooks.Run(ctx, "poststop", rec.Config.Hooks.Poststop, &s, r.HookVia); err != nil {
		r.warn("%v", err)
	}
}

// killAll kills the container's processes and waits until the init is gone.
func (r *Runtime) killAll(ctx context.Context, rec *state.Container) error {
	if len(rec.CgroupPaths) > 0 {
		_ = cgroups.Load(rec.CgroupPaths).Signal(unix.SIGKILL)
	}
	if !alive(rec) {
		return nil
	}
	_ = unix.Kill(rec.Pid, unix.SIGKILL)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for alive(rec) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete %s: pid %d survived SIGKILL: %w", rec.ID, rec.Pid, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// List returns the state of every container under the root.
func (r *Runtime) List() ([]*specs.State, error) {
	ids, err := r.store().List()
	if err != nil {
		return nil, err
	}
	var out []*specs.State
	for _, id := range ids {
		s, err := r.State(id)
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, s)
	}
	return out, nil
}

// Pids lists the container's processes (host pids).
func (r *Runtime) Pids(id string) ([]int, error) {
	rec, err := r.store().Load(id)
	if err != nil {
		return nil, err
	}
	if len(rec.CgroupPaths) > 0 {
		return cgroups.Load(rec.CgroupPaths).Pids()
	}
	if alive(rec) {
		return []int{rec.Pid}, nil
	}
	return nil, nil
}

// testPause stops a command at a named step when PauseAt names it (nsrun
// sets it from EnvTestPause), so the fault tests can SIGKILL the CLI at
// every step of create, start, exec and delete (PauseSteps) and prove the
// state is never torn and `delete --force` cleans up.
func (r *Runtime) testPause(step string) { testpause.At("nsrun", r.PauseAt, step) }
