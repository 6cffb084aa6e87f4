package env

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/nsbench/nsbench/runtime/network"
)

// DataDir is the token in Job.Args replaced by the path at which the
// environment sees Job.Data.
const DataDir = "{data}"

// Data is a scratch directory a job writes to.
type Data struct {
	// Kind is where it lives: "bind" (a host directory bind-mounted in),
	// "tmpfs" (a tmpfs inside the container, a host tmpfs natively) or
	// "rootfs" (a directory of the container's own root filesystem).
	Kind string
	// Host is the host directory for "bind" (and for every kind natively).
	Host string
}

// Job is one command to run to completion.
type Job struct {
	// Args[0] is a host path of the program.
	Args []string
	Data *Data
	// HostNetwork keeps the container in the host's network namespace
	// (docker --network=host); otherwise it has its own, with loopback only.
	HostNetwork bool
	// Bridge, when set, attaches the container's own network namespace to
	// an nsnet bridge (veth pair, fixed address) for the job's lifetime.
	Bridge *Bridge
	// OwnCgroup runs a native job in a CPU cgroup of its own, as runc and
	// crun run each container (see ownCgroup); containers always have one.
	OwnCgroup bool
	// CPUs, when set, pins the job to this cpuset ("1", "0-1"): natively by
	// its affinity (taskset), in a container by the runtime's or engine's
	// cpuset cgroup, so native and containers are pinned alike.
	CPUs string
}

// Bridge is a job's place on an nsnet bridge.
type Bridge struct {
	// Network names the bridge, its subnet and the lease directory.
	Network network.Config
	// Address is the container's fixed address in the subnet.
	Address netip.Addr
	// Hook is the host path of the nsnet binary, which the OCI runtime runs
	// as the bundle's createRuntime (attach) and poststop (detach) hook.
	Hook string
}

// HookArgs is the nsnet hook's argv for this bridge and address.
func (b *Bridge) HookArgs() []string {
	c := b.Network
	a := []string{"nsnet", "--bridge", c.Bridge, "--subnet", c.Subnet, "--lease-dir", c.LeaseDir}
	if c.MTU != 0 {
		a = append(a, "--mtu", strconv.Itoa(c.MTU))
	}
	if b.Address.IsValid() {
		a = append(a, "--address", b.Address.String())
	}
	return a
}

// ErrUnsupported is returned by Run for a job the environment cannot run
// (an engine container on the nsnet bridge); the runner skips such cells
// with the reason instead of failing the whole matrix.
var ErrUnsupported = errors.New("not supported by this environment")

// Env is an execution environment.
type Env interface {
	Name() string
	// Available is nil when the environment can run jobs here, else the
	// reason it cannot.
	Available(ctx context.Context) error
	// Version of the runtime, for the results file.
	Version(ctx context.Context) string
	// Run runs the job and returns its standard output, also when it fails
	// (iperf3 -J, for one, reports its errors there).
	Run(ctx context.Context, job Job) ([]byte, error)
	// Close stops whatever the environment started (an engine daemon) and
	// removes what it made on the host. The environment is unusable after.
	Close() error
}

// Native runs jobs as plain child processes.
type Native struct{}

// Name implements Env.
func (Native) Name() string { return "native" }

// Available implements Env.
func (Native) Available(context.Context) error { return nil }

// Version implements Env.
func (Native) Version(context.Context) string { return "" }

// Close implements Env.
func (Native) Close() error { return nil }

// Run implements Env.
func (Native) Run(ctx context.Context, job Job) ([]byte, error) {
	return runNative(ctx, "native", job, nil)
}

// runNative runs job as a child process; started, when set, is called
// with the process once it runs and must return when done is closed.
func runNative(ctx context.Context, name string, job Job, started func(p *os.Process, done <-chan struct{})) (_ []byte, err error) {
	if len(job.Args) == 0 {
		return nil, fmt.Errorf("%s: empty command", name)
	}
	if job.Bridge != nil {
		return nil, fmt.Errorf("%s: %w: a native job has no network namespace to attach", name, ErrUnsupported)
	}
	args := substitute(job.Args, dataPath(job.Data, ""))
	if job.CPUs != "" {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			return nil, fmt.Errorf("%s: pin to CPUs %s: taskset not found (apt-get install util-linux): %w", name, job.CPUs, err)
		}
		args = append([]string{ts, "-c", job.CPUs}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var cg *ownCgroup
	if job.OwnCgroup {
		var err error
		if cg, err = newOwnCgroup(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer func() {
			if rerr := cg.remove(); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, args[0], err)
	}
	if cg != nil {
		// the first instructions of the program run before the move: a few
		// milliseconds against jobs of seconds
		if err := cg.add(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	done := make(chan struct{})
	var watched sync.WaitGroup
	if started != nil {
		watched.Go(func() { started(cmd.Process, done) })
	}
	werr := cmd.Wait()
	close(done)
	watched.Wait()
	if werr != nil {
		return stdout.Bytes(), fmt.Errorf("%s: run %s: %w: %s", name, strings.Join(args, " "), werr, tail(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func dataPath(d *Data, inContainer string) string {
	if d == nil {
		return ""
	}
	if inContainer != "" {
		return inContainer
	}
	return d.Host
}

func substitute(args []string, data string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, DataDir, data)
	}
	return out
}

// tail keeps a command's stderr for an error message: all of it up to
// 16 KiB, else its start and its end (the first lines are often warnings,
// the last the failure).
func tail(s string) string {
	s = strings.TrimSpace(s)
	const keep = 8 << 10
	if len(s) > 2*keep {
		s = s[:keep] + "\n… (" + strconv.Itoa(len(s)-2*keep) + " bytes left out) …\n" + s[len(s)-keep:]
	}
	return s
}

// ByName returns the environment of that name: native, nsrun, runc, crun,
// docker or podman, an engine with another storage driver
// ("docker:storage=aufs"), an OCI runtime with an engine's default seccomp profile
// ("runc:seccomp=docker", "nsrun:seccomp=podman"), or a known-answer
// variant of native ("native:copy", "native:work=0.1", see NewInjected).
// stateDir holds container state and bundles; nsrun is the path of the
// nsrun binary the nsrun environments run (runc and crun are found on
// PATH).
func ByName(ctx context.Context, name, stateDir, nsrun string) (Env, error) {
	base, opt, hasOpt := strings.Cut(name, ":")
	if hasOpt && base == "native" {
		return NewInjected(name, opt)
	}
	switch base {
	case "native":
		return Native{}, nil
	case "nsrun", "runc", "crun":
		rt := base
		if base == "nsrun" {
			rt = nsrun
		}
		o := NewOCI(name, rt, stateDir)
		if hasOpt {
			if err := o.setOption(opt); err != nil {
				return nil, err
			}
		}
		return o, nil
	case "docker", "podman":
		if !hasOpt {
			return NewEngine(name, stateDir, ""), nil
		}
		if d, ok := strings.CutPrefix(opt, "storage="); ok && d != "" {
			return NewEngine(base, stateDir, d), nil
		}
	}
	return nil, fmt.Errorf("unknown environment %q: want native, nsrun, runc, crun, docker, podman, ENGINE:storage=DRIVER (docker or podman with that storage driver, e.g. docker:storage=aufs), RUNTIME:seccomp=docker|podman (nsrun, runc or crun with that engine's default seccomp profile), or for a known-answer test native:copy or native:stop=<fraction>", name)
}

// mkdirTemp is os.MkdirTemp with the operation in the error.
func mkdirTemp(dir, pattern string) (string, error) {
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("create temporary directory in %s: %w", dir, err)
	}
	return d, nil
}
