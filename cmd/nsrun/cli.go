package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/sigforward"
	"github.com/nsbench/nsbench/runtime"
	"github.com/nsbench/nsbench/runtime/console"
	"github.com/nsbench/nsbench/runtime/spec"
	"github.com/nsbench/nsbench/runtime/timeline"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = "0.1.0-dev"

const usage = `usage: nsrun [--root DIR] [--log FILE] [--log-format text|json] COMMAND [ARGS]

commands:
  spec [--rootless] [--bundle B]                  write a default config.json
  create --bundle B [--pid-file F] [--preserve-fds N] [--console-socket S] ID
  start ID                                        run the created container's process
  state ID                                        print the OCI state as JSON
  kill [--all] ID [SIGNAL]                        send SIGNAL (default TERM)
  delete [--force] ID
  run --bundle B [--detach] [--timeout D] [--pid-file F] [--preserve-fds N] [--console-socket S] ID
  exec [--process F | ...] [--detach] [--pid-file F] [--tty] [--console-socket S]
       [--cwd D] [--env K=V] [--user U[:G]] [--additional-gids G] [--cap C]
       [--no-new-privs] [--preserve-fds N] ID [COMMAND [ARG...]]
                                                  run a new process in the container
  list                                            list containers
  ps [--format table|json] ID [PS-OPTIONS]        the container's processes
  pause ID | resume ID                            freeze and thaw every process
  update [-r FILE|-] [--memory N ...] ID          change resource limits (runc's flags)
  features                                        the runtime-spec features document
`

// globals are nsrun's global options.
type globals struct {
	root, logPath, logFormat, rootless string
	showVersion, systemd               bool
}

// globalFlags defines the global options; internal/sigforward's
// constructor reads the same command line before Go starts, and
// TestSubcommandMatchesFlags keeps its list of options that take a value
// equal to this one.
func globalFlags(stderr io.Writer) (*flag.FlagSet, *globals) {
	var g globals
	global := flag.NewFlagSet("nsrun", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, usage) }
	global.StringVar(&g.root, "root", runtime.DefaultRoot(), "state directory")
	global.BoolVar(&g.showVersion, "version", false, "print the version")
	global.BoolVar(&g.showVersion, "v", false, "print the version")
	// The global options runc has, as containerd's shim and conmon pass
	// them: --log/--log-format (the shim reads errors back from the file),
	// --systemd-cgroup (refused where it matters), the rest accepted.
	global.StringVar(&g.logPath, "log", "", "write nsrun's errors and warnings to this file (default stderr)")
	global.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	global.Bool("debug", false, "accepted for compatibility; nsrun has no debug output")
	global.BoolVar(&g.systemd, "systemd-cgroup", false, "refused: nsrun manages cgroupfs itself, without systemd")
	global.StringVar(&g.rootless, "rootless", "auto", "accepted for compatibility: auto, true or false (nsrun decides from the effective uid)")
	global.String("criu", "criu", "accepted for compatibility; nsrun has no checkpoint/restore")
	return global, &g
}

// exit codes follow runc: 1 for any failure, the container's status for run.
func run(args []string, stdout, stderr io.Writer, trace *timeline.Recorder) int {
	global, g := globalFlags(stderr)
	if err := global.Parse(args); err != nil {
		return 2
	}
	if g.showVersion {
		fmt.Fprintf(stdout, "nsrun version %s\nspec: %s\n", version, specs.Version)
		return 0
	}
	log, closeLog, err := newLogger(g.logPath, g.logFormat, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "nsrun:", err)
		return 2
	}
	defer closeLog()
	switch g.rootless {
	case "auto", "true", "false":
	default:
		log.Error(fmt.Errorf("--rootless %q: use auto, true or false", g.rootless))
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 {
		global.Usage()
		return 2
	}
	rt := &runtime.Runtime{Root: g.root, Warn: warnWriter{log}, PauseAt: os.Getenv(runtime.EnvTestPause), Trace: trace, HookVia: sigforward.Prefix()}
	cmd, cargs := rest[0], rest[1:]
	ctx := context.Background()
	switch cmd {
	case "create", "start", "delete", "pause", "resume", "update":
		var cancel context.CancelFunc
		ctx, cancel = interruptible(ctx)
		defer cancel()
	}
	if g.systemd && (cmd == "create" || cmd == "run" || cmd == "update") {
		log.Error(errors.New("--systemd-cgroup: nsrun has no systemd cgroup driver (it manages cgroupfs itself, and needs no systemd); run the engine with cgroupfs: dockerd --exec-opt native.cgroupdriver=cgroupfs, podman --cgroup-manager cgroupfs"))
		return 1
	}
	switch cmd {
	case "spec":
		err = cmdSpec(cargs, stderr)
	case "create":
		err = cmdCreate(ctx, rt, cargs, stderr)
	case "start":
		err = oneID("start", cargs, stderr, func(id string) error { return rt.Start(ctx, id) })
	case "state":
		err = oneID("state", cargs, stderr, func(id string) error {
			s, err := rt.State(id)
			if err != nil {
				return err
			}
			return printJSON(stdout, s)
		})
	case "kill":
		err = cmdKill(rt, cargs, stderr)
	case "delete":
		err = cmdDelete(ctx, rt, cargs, stderr)
	case "run":
		// run and exec forward signals to the container instead.
		return cmdRun(rt, cargs, stderr, log)
	case "exec":
		return cmdExec(rt, cargs, stderr, log)
	case "list":
		err = cmdList(rt, stdout)
	case "ps":
		err = cmdPs(rt, cargs, stdout, stderr)
	case "pause":
		err = oneID("pause", cargs, stderr, func(id string) error { return rt.Pause(ctx, id) })
	case "resume":
		err = oneID("resume", cargs, stderr, func(id string) error { return rt.Resume(ctx, id) })
	case "update":
		err = cmdUpdate(ctx, rt, cargs, os.Stdin, stderr)
	case "features":
		err = printJSON(stdout, runtime.Features())
	default:
		fmt.Fprintf(stderr, "nsrun: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			log.Error(err)
		}
		return 1
	}
	return 0
}

// interruptible is ctx, cancelled by SIGINT or SIGTERM. Go enables each
// signal for os/signal with a round trip to a thread of its own (two
// context switches, each a wait for a CPU on a loaded machine), so the two
// are enabled in the background while the command works, and never
// disabled again: nsrun exits instead.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGINT, unix.SIGTERM)
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parse parses a subcommand's flags, which may come before or after the id
// (runc accepts both).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func oneID(name string, args []string, stderr io.Writer, f func(string) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%s: want exactly one container id, got %d", name, len(pos))
	}
	return f(pos[0])
}

func cmdSpec(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("spec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rootless := fs.Bool("rootless", false, "a configuration for an unprivileged user")
	bundle := fs.String("bundle", ".", "bundle directory")
	fs.StringVar(bundle, "b", ".", "bundle directory")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	path := filepath.Join(*bundle, "config.json")
	data, err := json.MarshalIndent(spec.Default(*rootless), "", "\t")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("spec: %s exists: remove it first or pick another --bundle", path)
		}
		return fmt.Errorf("spec: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("spec: write %s: %w", path, err)
	}
	return f.Close()
}

type createFlags struct {
	bundle, pidFile, consoleSocket string
	preserveFDs                    int
}

func (c *createFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.bundle, "bundle", ".", "bundle directory")
	fs.StringVar(&c.bundle, "b", ".", "bundle directory")
	fs.StringVar(&c.pidFile, "pid-file", "", "write the container's init pid here")
	fs.IntVar(&c.preserveFDs, "preserve-fds", 0, "pass descriptors 3..3+N-1 to the container")
	fs.StringVar(&c.consoleSocket, "console-socket", "", "unix socket that receives the pty master of process.terminal")
}

// createOne parses create's flags (and extra's) and creates the container.
// terminal, when not nil, may set up a console socket once the bundle's
// process.terminal is known.
func createOne(ctx context.Context, rt *runtime.Runtime, name string, args []string, stderr io.Writer, extra func(*flag.FlagSet), terminal func(bool, *runtime.CreateOptions) error) (*runtime.Process, *createFlags, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf createFlags
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != 1 {
		return nil, nil, fmt.Errorf("%s: want exactly one container id, got %d", name, len(pos))
	}
	if cf.preserveFDs < 0 {
		return nil, nil, fmt.Errorf("%s: --preserve-fds %d: must be 0 or more", name, cf.preserveFDs)
	}
	o := runtime.CreateOptions{ID: pos[0], Bundle: cf.bundle, PreserveFDs: cf.preserveFDs}
	if cf.consoleSocket != "" {
		if o.ConsoleSocket, err = console.Dial(cf.consoleSocket); err != nil {
			return nil, nil, err
		}
		defer o.ConsoleSocket.Close()
	}
	if terminal != nil {
		s, err := spec.Load(cf.bundle)
		if err == nil && s.Process != nil {
			if err := terminal(s.Process.Terminal, &o); err != nil {
				return nil, nil, err
			}
			if o.ConsoleSocket != nil && cf.consoleSocket == "" {
				defer o.ConsoleSocket.Close()
			}
		}
		// A config that does not load fails in Create, with its reason.
	}
	p, err := rt.Create(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if cf.pidFile != "" {
		if err := writePidFile(cf.pidFile, p.Pid); err != nil {
			_ = rt.Delete(context.Background(), p.ID, true)
			return nil, nil, err
		}
	}
	return p, &cf, nil
}

func writePidFile(path string, pid int) error {
	if err := atomicfile.Write(path, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

func cmdCreate(ctx context.Context, rt *runtime.Runtime, args []string, stderr io.Writer) error {
	_, _, err := createOne(ctx, rt, "create", args, stderr, nil, nil)
	return err
}

func cmdKill(rt *runtime.Runtime, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "signal every process in the container")
	fs.BoolVar(all, "a", false, "signal every process in the container")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return fmt.Errorf("kill: want ID [SIGNAL], got %d arguments", len(pos))
	}
	sigName := "TERM"
	if len(pos) == 2 {
		sigName = pos[1]
	}
	sig, err := spec.Signal(sigName)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	return rt.Kill(pos[0], sig, *all)
}

func cmdDelete(ctx context.Context, rt *runtime.Runtime, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("delete", flag.ContinueOnError)
	fs.SetOutput(stderr)
	force := fs.Bool("force", false, "kill the container first if it still runs")
	fs.BoolVar(force, "f", false, "kill the container first if it still runs")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("delete: want exactly one container id, got %d", len(pos))
	}
	return rt.Delete(ctx, pos[0], *force)
}

func cmdList(rt *runtime.Runtime, stdout io.Writer) error {
	states, err := rt.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPID\tSTATUS\tBUNDLE")
	for _, s := range states {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle)
	}
	return tw.Flush()
}

// cmdRun is create + start + wait + delete, with signals forwarded to the
// container and the container's exit status as nsrun's.
func cmdRun(rt *runtime.Runtime, args []string, stderr io.Writer, log *logger) int {
	var detach bool
	var timeout time.Duration
	// Signals that arrive while the container is being made are forwarded
	// once it exists.
	sigs, catching := sigforward.Catch()
	var proxy *os.File
	p, _, err := createOne(context.Background(), rt, "run", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&detach, "detach", false, "return once the container runs")
		fs.BoolVar(&detach, "d", false, "return once the container runs")
		fs.DurationVar(&timeout, "timeout", 0, "kill the container when it runs longer (e.g. 30s)")
	}, func(terminal bool, o *runtime.CreateOptions) error {
		// In the foreground without a console socket nsrun holds the
		// terminal itself, as runc does.
		if !terminal || o.ConsoleSocket != nil {
			return nil
		}
		if detach {
			return errors.New("run: process.terminal with --detach needs --console-socket: nothing would hold the terminal")
		}
		var err error
		proxy, o.ConsoleSocket, err = consolePair()
		return err
	})
	if proxy != nil {
		defer proxy.Close()
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			log.Error(err)
		}
		return 1
	}
	if proxy != nil {
		// Before start: the program finds the window size already set.
		defer startProxy(proxy)()
	}
	if err := catching(); err != nil {
		log.Error(fmt.Errorf("run %s: forward signals: %w", p.ID, err))
		_ = rt.Delete(context.Background(), p.ID, true)
		return 1
	}
	if err := rt.Start(context.Background(), p.ID); err != nil {
		log.Error(err)
		_ = rt.Delete(context.Background(), p.ID, true)
		return 1
	}
	if detach {
		return 0
	}
	var expire <-chan time.Time
	if timeout > 0 {
		expire = time.After(timeout)
	}
	code := waitForwarding(p, sigs, func(sig unix.Signal) { _ = rt.Kill(p.ID, sig, false) }, expire, func() {
		log.Error(fmt.Errorf("container %s ran longer than --timeout %s: killing it", p.ID, timeout))
		_ = rt.Kill(p.ID, unix.SIGKILL, true)
	})
	rt.Trace.Mark(timeline.Exited)
	if err := rt.Delete(context.Background(), p.ID, true); err != nil {
		log.Error(err)
	}
	return code
}

// waitForwarding waits for p, forwarding the signals nsrun gets with
// forward, and returns runc's exit code for it: its exit status, or 128+N
// when signal N killed it. When expire fires, onExpire runs (and a kill
// by SIGKILL then counts as 137).
func waitForwarding(p *runtime.Process, sigs <-chan os.Signal, forward func(unix.Signal), expire <-chan time.Time, onExpire func()) int {
	done := make(chan struct{})
	var ws unix.WaitStatus
	go func() {
		w, _ := p.Wait()
		ws = unix.WaitStatus(w)
		close(done)
	}()
	timedOut := false
loop:
	for {
		select {
		case <-done:
			break loop
		case s := <-sigs:
			sig, ok := s.(unix.Signal)
			// SIGCHLD is ours; SIGURG is the Go runtime's preemption
			// signal; SIGWINCH is the terminal proxy's.
			if !ok || sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGWINCH {
				continue
			}
			forward(sig)
		case <-expire:
			timedOut = true
			onExpire()
			expire = nil
		}
	}
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		if timedOut {
			return 128 + int(unix.SIGKILL)
		}
		return 128 + int(ws.Signal())
	}
	return 1
}
