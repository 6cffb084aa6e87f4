package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/cgroups"
	"github.com/nsbench/nsbench/runtime/spec"
)

// ExecOptions describe one `exec`: a new process in a created or running
// container.
type ExecOptions struct {
	ID string
	// Process is complete: the caller fills what it does not set from the
	// container's own process (see DefaultExecProcess).
	Process *specs.Process
	// Source names where Process came from, for errors (a --process
	// file, or "exec").
	Source string
	// PreserveFDs passes descriptors 3 .. 3+PreserveFDs-1 to the process.
	PreserveFDs int
	// ConsoleSocket, for Process.Terminal, receives the pty master.
	ConsoleSocket *os.File
	// Stdio the process inherits; nil means this process's own.
	Stdin, Stdout, Stderr *os.File
	// IgnorePaused execs into a paused container too (the process starts
	// frozen with it), as runc's --ignore-paused.
	IgnorePaused bool
}

// DefaultExecProcess returns the process an exec without --process runs:
// the container's own, with args replaced (runc does the same).
func (r *Runtime) DefaultExecProcess(id string, args []string) (*specs.Process, error) {
	rec, err := r.store().Load(id)
	if err != nil {
		return nil, err
	}
	if rec.Config == nil || rec.Config.Process == nil {
		return nil, fmt.Errorf("exec %s: the container's record has no config", id)
	}
	p := *rec.Config.Process
	p.Args = append([]string(nil), args...)
	p.Env = append([]string(nil), p.Env...)
	p.Terminal = false
	p.ConsoleSize = nil
	if c := p.Capabilities; c != nil {
		cp := *c
		p.Capabilities = &cp
	}
	return &p, nil
}

// nsFile is the /proc/PID/ns entry of each namespace type.
var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt", specs.IPCNamespace: "ipc",
	specs.UTSNamespace: "uts", specs.UserNamespace: "user", specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// Exec starts o.Process inside container o.ID: in every namespace the
// container has (joined through the container's init, whatever the config
// said), in its cgroup, with the process's capabilities, no_new_privs,
// rlimits and user, and only stdio and the preserved descriptors. It
// returns once the program is executing.
func (r *Runtime) Exec(ctx context.Context, o ExecOptions) (_ *Process, err error) {
	p := o.Process
	if p == nil {
		return nil, errors.New("exec: no process")
	}
	if err := spec.ValidateProcess(p, o.Source); err != nil {
		return nil, err
	}
	if p.ApparmorProfile != "" || p.SelinuxLabel != "" {
		return nil, fmt.Errorf("%s: process.apparmorProfile/selinuxLabel: nsrun applies no AppArmor profile or SELinux label; drop them", o.Source)
	}
	switch {
	case p.Terminal && o.ConsoleSocket == nil:
		return nil, fmt.Errorf("exec %s: a terminal needs --console-socket (or run exec in the foreground with --tty)", o.ID)
	case !p.Terminal && o.ConsoleSocket != nil:
		return nil, fmt.Errorf("exec %s: --console-socket given without a terminal: add --tty", o.ID)
	}
	if o.PreserveFDs < 0 {
		return nil, fmt.Errorf("exec %s: --preserve-fds %d: must be 0 or more", o.ID, o.PreserveFDs)
	}
	st, rec, unlock, err := r.lockAndLoad(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	switch s := r.status(rec); {
	case s == specs.StateCreated || s == specs.StateRunning:
	case s == statusPaused && o.IgnorePaused:
	case s == statusPaused:
		return nil, fmt.Errorf("exec %s: container is paused: resume it first, or pass --ignore-paused", o.ID)
	default:
		return nil, fmt.Errorf("exec %s: container is %s, not created or running", o.ID, s)
	}
	r.testPause("exec-locked")
	cfg := rec.Config
	// The container's seccomp filter, as compiled by create.
	filter, err := loadFilter(st.Dir(o.ID), cfg)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", o.ID, err)
	}

	// Every namespace the container has, through its init: a namespace it
	// joined by path is the same one.
	so := &spawnOptions{
		ID: o.ID, Rootless: rec.Rootless, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, CgroupFD: -1, Exec: true,
	}
	for _, ns := range cfg.Linux.Namespaces {
		so.Namespaces = append(so.Namespaces, specs.LinuxNamespace{Type: ns.Type, Path: "/proc/" + strconv.Itoa(rec.Pid) + "/ns/" + nsFile[ns.Type]})
	}
	for i := 0; i < o.PreserveFDs; i++ {
		so.Extra = append(so.Extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	consoleFD := -1
	if o.ConsoleSocket != nil {
		consoleFD = 3 + len(so.Extra)
		so.Extra = append(so.Extra, o.ConsoleSocket)
	}
	var mgr *cgroups.Manager
	if len(rec.CgroupPaths) > 0 {
		mgr = cgroups.Load(rec.CgroupPaths)
	}
	// Like an init, the process starts from a sealed copy of nsrun: until
	// its execve its /proc/PID/exe is reachable from the container.
	exe, err := sealedExe(st.Dir(o.ID))
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", o.ID, err)
	}
	defer exe.Close()
	so.Exe = exe
	parentSock, childSock, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer parentSock.Close()
	defer childSock.Close()
	so.Sock = childSock
	stop := context.AfterFunc(ctx, func() { _ = parentSock.SetDeadline(time.Now()) })
	defer stop()
	sp, bornInCgroup, err := spawnIn(so, parentSock, mgr)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", o.ID, err)
	}
	childSock.Close()
	defer func() {
		if err != nil {
			sp.kill()
		}
	}()
	r.testPause("exec-spawned")
	// The namespaces were found through the init's pid: it must still be
	// the same process now that they are joined.
	if !alive(rec) {
		return nil, fmt.Errorf("exec %s: the container's init (pid %d) exited while the process joined its namespaces", o.ID, rec.Pid)
	}
	if mgr != nil && !bornInCgroup {
		if err := mgr.Apply(sp.Pid); err != nil {
			return nil, fmt.Errorf("exec %s: %w", o.ID, err)
		}
	}
	ec := &execConfig{Process: p, FirstFD: 3 + o.PreserveFDs, ConsoleFD: consoleFD, Seccomp: filter}
	if rec.Config != nil && rec.Config.Linux != nil {
		ec.Personality = rec.Config.Linux.Personality
	}
	if err := sp.conn.send(message{Type: msgExec, Exec: ec}); err != nil {
		return nil, err
	}
	r.testPause("exec-sent")
	// The socket closes on the execve (close-on-exec); an error comes
	// first otherwise.
	m, err := sp.conn.recv()
	switch {
	case errors.Is(err, io.EOF):
		return &Process{ID: o.ID, Pid: sp.Pid, sp: sp}, nil
	case err != nil:
		if ctx.Err() != nil {
			return nil, fmt.Errorf("exec %s: %w", o.ID, ctx.Err())
		}
		return nil, fmt.Errorf("exec %s: %w", o.ID, err)
	case m.Type == msgError:
		return nil, fmt.Errorf("exec %s: %s", o.ID, m.Error)
	default:
		return nil, fmt.Errorf("exec %s: unexpected %q message from the process", o.ID, m.Type)
	}
}
