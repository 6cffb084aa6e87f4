package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/sigforward"
	"github.com/nsbench/nsbench/runtime"
	"github.com/nsbench/nsbench/runtime/console"
	"github.com/nsbench/nsbench/runtime/spec"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type execFlags struct {
	process, pidFile, consoleSocket, cwd, user, label, apparmor, cgroup string
	env, caps, gids                                                     stringList
	detach, tty, noNewPrivs, ignorePaused                               bool
	preserveFDs                                                         int
}

func (f *execFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.process, "process", "", "a JSON file with the process (runtime-spec process object)")
	fs.StringVar(&f.process, "p", "", "short for --process")
	fs.StringVar(&f.pidFile, "pid-file", "", "write the new process's pid here")
	fs.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master (with --tty)")
	fs.StringVar(&f.cwd, "cwd", "", "working directory in the container")
	fs.StringVar(&f.user, "user", "", "UID[:GID] to run as")
	fs.StringVar(&f.user, "u", "", "short for --user")
	fs.Var(&f.env, "env", "NAME=value to add to the environment (repeatable)")
	fs.Var(&f.env, "e", "short for --env")
	fs.Var(&f.caps, "cap", "capability to add, e.g. CAP_NET_ADMIN (repeatable)")
	fs.Var(&f.caps, "c", "short for --cap")
	fs.Var(&f.gids, "additional-gids", "supplementary group id (repeatable)")
	fs.Var(&f.gids, "g", "short for --additional-gids")
	fs.BoolVar(&f.detach, "detach", false, "return once the process runs")
	fs.BoolVar(&f.detach, "d", false, "short for --detach")
	fs.BoolVar(&f.tty, "tty", false, "give the process a terminal")
	fs.BoolVar(&f.tty, "t", false, "short for --tty")
	fs.BoolVar(&f.noNewPrivs, "no-new-privs", false, "set no_new_privs")
	fs.BoolVar(&f.ignorePaused, "ignore-paused", false, "exec into a paused container too")
	fs.IntVar(&f.preserveFDs, "preserve-fds", 0, "pass descriptors 3..3+N-1 to the process")
	fs.StringVar(&f.label, "process-label", "", "refused: nsrun applies no SELinux label")
	fs.StringVar(&f.apparmor, "apparmor", "", "refused: nsrun applies no AppArmor profile")
	fs.StringVar(&f.cgroup, "cgroup", "", "refused: nsrun runs exec'd processes in the container's cgroup")
}

// cmdExec is runc's exec: `exec [flags] ID [COMMAND [ARG...]]`, flags
// before the id, everything after it the command.
func cmdExec(rt *runtime.Runtime, args []string, stderr io.Writer, log *logger) int {
	// Signals that arrive while the process is being made are forwarded
	// once it exists.
	sigs, catching := sigforward.Catch()
	fail := func(err error) int {
		if !errors.Is(err, flag.ErrHelp) {
			log.Error(err)
		}
		return 1
	}
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f execFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return fail(err)
	}
	pos := fs.Args()
	if len(pos) == 0 {
		return fail(errors.New("exec: want a container id (exec [flags] ID [COMMAND [ARG...]])"))
	}
	id, cmdArgs := pos[0], pos[1:]
	for _, refused := range []struct{ flag, v string }{{"--process-label", f.label}, {"--apparmor", f.apparmor}, {"--cgroup", f.cgroup}} {
		if refused.v != "" {
			return fail(fmt.Errorf("exec: %s %s: not supported by nsrun (no SELinux, no AppArmor, no sub-cgroups); drop it", refused.flag, refused.v))
		}
	}
	p, source, err := execProcess(rt, id, cmdArgs, &f)
	if err != nil {
		return fail(err)
	}
	o := runtime.ExecOptions{ID: id, Process: p, Source: source, PreserveFDs: f.preserveFDs, IgnorePaused: f.ignorePaused}
	var proxy *os.File // our end of an in-process console socket
	switch {
	case f.consoleSocket != "":
		if o.ConsoleSocket, err = console.Dial(f.consoleSocket); err != nil {
			return fail(err)
		}
		defer o.ConsoleSocket.Close()
	case p.Terminal && f.detach:
		return fail(errors.New("exec: --tty with --detach needs --console-socket: nothing would hold the terminal"))
	case p.Terminal:
		if proxy, o.ConsoleSocket, err = consolePair(); err != nil {
			return fail(err)
		}
		// The program may ask for its window size at once, before the
		// proxy runs: give it nsrun's own, as runc does.
		if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil && p.ConsoleSize == nil {
			p.ConsoleSize = &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
		}
		defer proxy.Close()
		defer o.ConsoleSocket.Close()
	}
	proc, err := rt.Exec(context.Background(), o)
	if err != nil {
		return fail(err)
	}
	if f.pidFile != "" {
		if err := writePidFile(f.pidFile, proc.Pid); err != nil {
			_ = unix.Kill(proc.Pid, unix.SIGKILL)
			return fail(err)
		}
	}
	if f.detach {
		return 0
	}
	if err := catching(); err != nil {
		_ = unix.Kill(proc.Pid, unix.SIGKILL)
		return fail(fmt.Errorf("exec in %s: forward signals: %w (the process was killed)", id, err))
	}
	var restore func()
	if proxy != nil {
		restore = startProxy(proxy)
		defer restore()
	}
	return waitForwarding(proc, sigs, func(sig unix.Signal) { _ = unix.Kill(proc.Pid, sig) }, nil, nil)
}

// execProcess builds the process to run: the --process file as it is, or
// the container's own process with the command and the flags applied.
func execProcess(rt *runtime.Runtime, id string, args []string, f *execFlags) (*specs.Process, string, error) {
	if f.process != "" {
		data, err := os.ReadFile(f.process)
		if err != nil {
			return nil, "", fmt.Errorf("exec: read --process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, "", fmt.Errorf("exec: --process %s: %w", f.process, err)
		}
		if len(args) > 0 {
			return nil, "", fmt.Errorf("exec: both --process %s and a command %q: give one", f.process, args)
		}
		return &p, f.process, applyExecFlags(&p, f)
	}
	if len(args) == 0 {
		return nil, "", errors.New("exec: want a command after the container id, or --process FILE")
	}
	p, err := rt.DefaultExecProcess(id, args)
	if err != nil {
		return nil, "", err
	}
	return p, "exec", applyExecFlags(p, f)
}

// applyExecFlags overrides the process with the flags given, as runc does
// (also over a --process file).
func applyExecFlags(p *specs.Process, f *execFlags) error {
	if f.cwd != "" {
		p.Cwd = f.cwd
	}
	p.Env = append(p.Env, f.env...)
	if f.tty {
		p.Terminal = true
	}
	if f.noNewPrivs {
		p.NoNewPrivileges = true
	}
	if f.user != "" {
		uid, gid, hasGID := strings.Cut(f.user, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return fmt.Errorf("exec: --user %q: want UID[:GID] as numbers", f.user)
		}
		p.User.UID = uint32(u)
		if hasGID {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return fmt.Errorf("exec: --user %q: want UID[:GID] as numbers", f.user)
			}
			p.User.GID = uint32(g)
		}
	}
	for _, g := range f.gids {
		v, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return fmt.Errorf("exec: --additional-gids %q: want a number", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(v))
	}
	if len(f.caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, c := range f.caps {
			c = strings.ToUpper(c)
			if !strings.HasPrefix(c, "CAP_") {
				c = "CAP_" + c
			}
			if _, ok := spec.Capability(c); !ok {
				return fmt.Errorf("exec: --cap %q: unknown capability", c)
			}
			caps := p.Capabilities
			caps.Bounding = append(caps.Bounding, c)
			caps.Effective = append(caps.Effective, c)
			caps.Permitted = append(caps.Permitted, c)
		}
	}
	return nil
}

// consolePair is an in-process console socket: the process sends its pty
// master to one end, nsrun proxies it from the other.
func consolePair() (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair for the terminal: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console-ours"), os.NewFile(uintptr(fds[1]), "console-theirs"), nil
}

// startProxy receives the pty master (already sent: the process has
// set up its terminal) and copies between it and nsrun's own stdio in the
// background, nsrun's terminal raw and its size on the master before it
// returns. The returned function waits for the output to drain (the
// process and its children closed the terminal) and restores nsrun's
// terminal.
func startProxy(sock *os.File) func() {
	master, err := console.RecvMaster(sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsrun:", err)
		return func() {}
	}
	wait := console.Proxy(master, os.Stdin, os.Stdout)
	return func() {
		wait()
		master.Close()
	}
}
