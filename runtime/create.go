package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/procfs"
	"github.com/nsbench/nsbench/runtime/cgroups"
	"github.com/nsbench/nsbench/runtime/hooks"
	"github.com/nsbench/nsbench/runtime/seccomp"
	"github.com/nsbench/nsbench/runtime/spec"
	"github.com/nsbench/nsbench/runtime/state"
	"github.com/nsbench/nsbench/runtime/timeline"
)

// creation is one `create` on its way: what the steps of Create share.
type creation struct {
	o        CreateOptions
	s        *specs.Spec
	bundle   string
	rootfs   string
	rootless bool
	filter   *seccomp.Filter
	layout   *cgroups.Layout
	// mgr is the container's cgroup; nil for a rootless container that
	// may have none.
	mgr *cgroups.Manager

	st  *state.Store
	rec *state.Container
	// cleanup undoes what the steps made when a later one fails.
	cleanup undo

	// The init's side of things, closed when Create returns.
	fifo, result, parentSock, childSock, exe *os.File
	fifoFD, resultFD, consoleFD              int
	sp                                       *spawned
	bornInCgroup                             bool
	// pidSaved: the record on disk has the init's pid.
	pidSaved bool
	// stopDeadline ends the watch that unblocks the socket when ctx ends.
	stopDeadline func() bool
}

// Create builds container o.ID from its bundle and leaves its init blocked
// before execve. On failure everything it made is removed again.
//
// The steps, and why in this order: the config is checked before anything
// exists. Then the container's id is reserved, its record saved and its
// cgroup directories made, and the init is cloned straight into that
// cgroup (spawnIn): it is never moved there, which on cgroup v1 would wait
// out an RCU grace period (5-30 ms here) whenever the kernel's cgroup lock
// has been idle, i.e. for nearly every container started on its own. The
// limits are set while the init's exec and Go runtime start run (a few
// ms); it can do nothing meanwhile but wait for its config, and it exits on
// its own should nsrun die before (its socket reads end of file). Without
// a cgroup (rootless on v1) the init is cloned first and the record saved
// while it starts. Then the handshake: the config goes to the init as soon
// as it runs, so that it decodes it meanwhile too; it then waits to be told
// to go on, which comes only once the limits are set; then the
// createRuntime hooks, ready.
func (r *Runtime) Create(ctx context.Context, o CreateOptions) (_ *Process, err error) {
	c, err := r.checkConfig(o)
	if err != nil {
		return nil, err
	}
	r.Trace.Mark(timeline.Validated)
	c.st = r.store()
	unlock, err := c.st.Create(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer func() {
		if err != nil {
			c.cleanup.run()
		}
	}()
	c.cleanup.push(func() { _ = c.st.Remove(o.ID) })
	defer c.close()
	c.rec = &state.Container{
		State:    specs.State{Version: specs.Version, ID: o.ID, Status: specs.StateCreating, Bundle: c.bundle, Annotations: c.s.Annotations},
		Created:  time.Now().UTC(),
		Rootless: c.rootless,
		Config:   c.s,
	}
	if c.mgr != nil {
		c.rec.CgroupPaths = c.mgr.Paths()
	}
	if err := r.prepareInit(c); err != nil {
		return nil, err
	}
	cgroupFirst := c.mgr != nil
	if cgroupFirst {
		if err := r.saveRecord(c); err != nil {
			return nil, err
		}
		if err := r.makeCgroup(c); err != nil {
			return nil, err
		}
	}
	if err := r.startInit(ctx, c); err != nil {
		return nil, err
	}
	if err := r.sendConfig(c); err != nil {
		return nil, err
	}
	if !cgroupFirst {
		if err := r.saveRecord(c); err != nil {
			return nil, err
		}
		if err := r.makeCgroup(c); err != nil {
			return nil, err
		}
	}
	if err := r.setLimits(c); err != nil {
		return nil, err
	}
	if err := r.joinCgroup(c); err != nil {
		return nil, err
	}
	return r.awaitReady(ctx, c)
}

// checkConfig loads and validates the bundle's config and everything
// derived from it (seccomp filter, cgroup paths) before anything exists.
func (r *Runtime) checkConfig(o CreateOptions) (*creation, error) {
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle path %s: %w", o.Bundle, err)
	}
	s, err := spec.Load(bundle)
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(s, bundle); err != nil {
		return nil, err
	}
	if err := state.ValidateID(o.ID); err != nil {
		return nil, err
	}
	r.normalize(s)
	switch {
	case s.Process.Terminal && o.ConsoleSocket == nil:
		return nil, errors.New("config.json: process.terminal is true: pass --console-socket (a unix socket that receives the pty master), or run it in the foreground with `nsrun run`")
	case !s.Process.Terminal && o.ConsoleSocket != nil:
		return nil, errors.New("--console-socket given but config.json's process.terminal is false: set it to true or drop the socket")
	}
	c := &creation{o: o, s: s, bundle: bundle, rootless: os.Geteuid() != 0, fifoFD: -1, resultFD: -1, consoleFD: -1}
	if c.filter, err = compileSeccomp(s.Linux.Seccomp); err != nil {
		return nil, err
	}
	if c.rootfs, err = spec.RootfsPath(s, bundle); err != nil {
		return nil, err
	}
	// The one reading of the host's cgroup layout for this container.
	if c.layout, err = cgroups.HostLayout(); err != nil {
		return nil, err
	}
	if c.mgr, err = r.cgroup(c.layout, s, o.ID, c.rootless); err != nil {
		return nil, err
	}
	return c, nil
}

// saveRecord saves the container's record: before its cgroup exists, so a
// create killed at any later point leaves a record `delete --force` can
// clean up from (the init, when it runs already, by its pid).
func (r *Runtime) saveRecord(c *creation) error {
	if c.sp != nil {
		c.notePid()
	}
	if err := c.st.Save(c.rec); err != nil {
		return err
	}
	c.pidSaved = c.sp != nil
	r.Trace.Mark(timeline.StateSaved)
	r.testPause("state-saved")
	return nil
}

// notePid records the init's pid and start time (which tell it from a
// later process with the same pid), once.
func (c *creation) notePid() {
	if c.rec.Pid != 0 {
		return
	}
	c.rec.Pid = c.sp.Pid
	if ps, err := procfs.ReadStat(c.sp.Pid); err == nil {
		c.rec.InitStartTime = ps.StartTime
	}
}

// makeCgroup makes the container's cgroup directories.
func (r *Runtime) makeCgroup(c *creation) error {
	if c.mgr == nil {
		r.Trace.Mark(timeline.CgroupMade)
		return nil
	}
	mgr := c.mgr
	c.cleanup.push(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mgr.Signal(unix.SIGKILL)
		_ = mgr.Destroy(ctx)
	})
	if err := mgr.Create(); err != nil {
		return err
	}
	r.Trace.Mark(timeline.CgroupMade)
	r.testPause("cgroup-created")
	return nil
}

// setLimits applies linux.resources to the container's cgroup, all but the
// pids limit (setPidsLimit): after the init is born in it, while its Go
// runtime starts, and before it is told to go on, so that nothing of the
// container's runs without them.
func (r *Runtime) setLimits(c *creation) error {
	if c.mgr == nil {
		return nil
	}
	res := withAllowedDevices(c.s)
	if res != nil && res.Pids != nil {
		withoutPids := *res
		withoutPids.Pids = nil
		res = &withoutPids
	}
	return c.mgr.Set(res)
}

// setPidsLimit applies linux.resources.pids last, right before the init
// is told to go on: the limit counts threads, and the init's Go runtime
// starts its own inside the cgroup, so pids.max 1 (room for the init
// alone, which runc allows) must come after them.
func (c *creation) setPidsLimit() error {
	if c.mgr == nil || c.s.Linux.Resources == nil || c.s.Linux.Resources.Pids == nil {
		return nil
	}
	return c.mgr.Set(&specs.LinuxResources{Pids: c.s.Linux.Resources.Pids})
}

// prepareInit makes what the init is started with: the exec fifo, the
// sync socket, the sealed executable (and the seccomp filter's file).
func (r *Runtime) prepareInit(c *creation) (err error) {
	dir := c.st.Dir(c.o.ID)
	if err := saveFilter(dir, c.filter); err != nil {
		return err
	}
	// The init reads the exec fifo and so blocks until `start` writes; it
	// reports on the result fifo what kept it from the program.
	if c.fifo, err = makeFifo(dir, fifoName); err != nil {
		return err
	}
	if c.result, err = makeFifo(dir, resultName); err != nil {
		return err
	}
	if c.parentSock, c.childSock, err = socketpair(); err != nil {
		return err
	}
	if c.exe, err = sealedExe(dir); err != nil {
		return err
	}
	r.Trace.Mark(timeline.Sealed)
	return nil
}

// close closes the init's side of things held by nsrun.
func (c *creation) close() {
	if c.stopDeadline != nil {
		c.stopDeadline()
	}
	for _, f := range []*os.File{c.fifo, c.result, c.parentSock, c.childSock, c.exe} {
		if f != nil {
			f.Close()
		}
	}
}

// startInit starts the container's init in its namespaces and its
// cgroup; it then waits for its config.
func (r *Runtime) startInit(ctx context.Context, c *creation) error {
	o, s := c.o, c.s
	so := &spawnOptions{
		ID: o.ID, Namespaces: s.Linux.Namespaces, UIDMappings: s.Linux.UIDMappings, GIDMappings: s.Linux.GIDMappings,
		Rootless: c.rootless, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Sock: c.childSock, Exe: c.exe, CgroupFD: -1,
		Trace: r.Trace.File(),
	}
	for i := 0; i < o.PreserveFDs; i++ {
		so.Extra = append(so.Extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	c.fifoFD = 3 + len(so.Extra)
	so.Extra = append(so.Extra, c.fifo)
	c.resultFD = 3 + len(so.Extra)
	so.Extra = append(so.Extra, c.result)
	if o.ConsoleSocket != nil {
		c.consoleFD = 3 + len(so.Extra)
		so.Extra = append(so.Extra, o.ConsoleSocket)
	}
	// The init's errors surface on the socket; a hung init must not hang
	// create.
	parent := c.parentSock
	c.stopDeadline = context.AfterFunc(ctx, func() { _ = parent.SetDeadline(time.Now()) })
	sp, born, err := spawnIn(so, c.parentSock, c.mgr)
	c.bornInCgroup = born
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("create %s: %w", o.ID, ctx.Err())
		}
		return fmt.Errorf("create %s: %w", o.ID, err)
	}
	c.childSock.Close()
	c.childSock = nil
	c.sp = sp
	c.cleanup.push(sp.kill)
	r.Trace.Mark(timeline.Cloned)
	return nil
}

// joinCgroup moves the init into its cgroup where it was not born there,
// and records its pid where the record was saved before the clone.
func (r *Runtime) joinCgroup(c *creation) error {
	if !c.pidSaved {
		c.notePid()
		if err := c.st.Save(c.rec); err != nil {
			return err
		}
		c.pidSaved = true
	}
	if c.mgr != nil && !c.bornInCgroup {
		if err := c.mgr.Apply(c.sp.Pid); err != nil {
			return err
		}
	}
	r.Trace.Mark(timeline.LimitsSet)
	r.testPause("init-started")
	return nil
}

// sendConfig sends the init what to build. The init only decodes it and
// reports its namespaces: it goes on to mount anything only once told to
// (awaitReady), after its cgroup join.
func (r *Runtime) sendConfig(c *creation) error {
	c.notePid() // the hooks the init runs get the state with its pid
	r.testPause("before-config")
	return c.sp.conn.send(message{Type: msgConfig, Config: &initConfig{
		State: c.rec.State, Rootfs: c.rootfs, Spec: withoutSeccomp(c.s), CgroupV2: c.layout.Mode() == cgroups.ModeV2, CgroupV1: cgroupV1Mounts(c.layout, c.mgr),
		FirstFD: 3 + c.o.PreserveFDs, FifoFD: c.fifoFD, ResultFD: c.resultFD, ConsoleFD: c.consoleFD,
		Seccomp: c.filter,
	}})
}

// awaitReady runs the createRuntime hooks once the init's namespaces exist,
// lets it go on and returns when it is ready: rootfs pivoted, blocked
// before execve.
func (r *Runtime) awaitReady(ctx context.Context, c *creation) (*Process, error) {
	o, s, st, rec := c.o, c.s, c.st, c.rec
	conn := c.sp.conn
	for {
		m, err := conn.recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("create %s: %w", o.ID, ctx.Err())
			}
			return nil, fmt.Errorf("create %s: the container's init exited before it was ready: %s", o.ID, c.sp.exitReason())
		}
		switch m.Type {
		case msgError:
			return nil, fmt.Errorf("create %s: %s", o.ID, m.Error)
		case msgNamespaces:
			hst := rec.State
			if s.Hooks != nil {
				// From the first createRuntime hook on, a failed create
				// runs the poststop hooks, as delete would: a hook that
				// set something up (nsnet's veth and lease) has it undone.
				c.cleanup.push(func() {
					ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
					defer cancel()
					r.poststop(ctx, rec)
				})
				//lint:ignore SA1019 the spec still requires running legacy prestart hooks, at createRuntime time
				if err := hooks.Run(ctx, "prestart", s.Hooks.Prestart, &hst, r.HookVia); err != nil {
					return nil, err
				}
				if err := hooks.Run(ctx, "createRuntime", s.Hooks.CreateRuntime, &hst, r.HookVia); err != nil {
					return nil, err
				}
			}
			r.testPause("hooks-done")
			if err := c.setPidsLimit(); err != nil {
				return nil, err
			}
			if err := conn.send(message{Type: msgContinue}); err != nil {
				return nil, err
			}
			r.Trace.Mark(timeline.Namespaces)
		case msgReady:
			r.testPause("ready")
			rec.Status = specs.StateCreated
			if err := st.Save(rec); err != nil {
				return nil, err
			}
			r.Trace.Mark(timeline.Created)
			r.testPause("created-saved")
			return &Process{ID: o.ID, Pid: c.sp.Pid, sp: c.sp}, nil
		default:
			return nil, fmt.Errorf("create %s: unexpected %q message from the container's init", o.ID, m.Type)
		}
	}
}
