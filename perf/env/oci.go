package env

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/engineprofile"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/runtime/network"
)

// OCI runs each job in a fresh container of an OCI runtime CLI.
type OCI struct {
	name    string
	rt      *oci.Runtime
	err     error // why the runtime is unavailable
	workDir string
	// seccomp, when set, gives every container an engine's default
	// profile ("nsrun:seccomp=docker"): what docker or podman would add,
	// measured apart from everything else an engine does.
	seccomp engineprofile.Profile
}

// setOption applies the option of "RUNTIME:<opt>": "seccomp=docker" or
// "seccomp=podman".
func (o *OCI) setOption(opt string) error {
	k, v, _ := strings.Cut(opt, "=")
	p, err := engineprofile.ByEngine(v)
	if k != "seccomp" || err != nil {
		return fmt.Errorf("environment %q: option %q: want %s:seccomp=docker or %s:seccomp=podman (that engine's default seccomp profile)", o.name, opt, o.base(), o.base())
	}
	o.seccomp = p
	return nil
}

// base is the runtime's part of the environment's name.
func (o *OCI) base() string {
	b, _, _ := strings.Cut(o.name, ":")
	return b
}

// NewOCI prepares the environment name that runs runtime (a name on PATH
// or an absolute path). Failures surface through Available.
func NewOCI(name, runtime, stateDir string) *OCI {
	o := &OCI{name: name, workDir: stateDir}
	if os.Geteuid() != 0 {
		o.err = fmt.Errorf("%s: needs root for rootful containers (run make bench as root)", name)
		return o
	}
	if runtime == "" {
		o.err = fmt.Errorf("%s: no runtime binary given", name)
		return o
	}
	o.rt, o.err = oci.New(runtime, filepath.Join(stateDir, name+"-state"))
	return o
}

// Name implements Env.
func (o *OCI) Name() string { return o.name }

// Available implements Env.
func (o *OCI) Available(ctx context.Context) error {
	if o.err != nil {
		return o.err
	}
	if _, err := o.rt.Version(ctx); err != nil {
		return fmt.Errorf("%s version: %w", o.name, err)
	}
	return nil
}

// Close implements Env: every container is deleted when its job ends, and
// stateDir belongs to the caller.
func (o *OCI) Close() error { return nil }

// Version implements Env.
func (o *OCI) Version(ctx context.Context) string {
	if o.rt == nil {
		return ""
	}
	v, err := o.rt.Version(ctx)
	if err != nil {
		return ""
	}
	return strings.SplitN(strings.TrimSpace(v), "\n", 2)[0]
}

func randomID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Run implements Env: a bundle per job (so concurrent jobs are separate
// containers), created, run in the foreground and deleted.
func (o *OCI) Run(ctx context.Context, job Job) (_ []byte, err error) {
	if o.err != nil {
		return nil, o.err
	}
	if len(job.Args) == 0 {
		return nil, fmt.Errorf("%s: empty command", o.name)
	}
	if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", o.workDir, err)
	}
	dir, err := mkdirTemp(o.workDir, "bundle-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("remove bundle %s: %w", dir, rerr)
		}
	}()

	prog := job.Args[0]
	inside := prog
	if !strings.HasPrefix(prog, "/usr/") {
		// Static programs of this suite are bind-mounted read-only; /usr
		// comes from the host. Not copied: a copy being written while a
		// concurrent job's runtime forks leaks the write descriptor into that
		// child, and this job's exec then fails with "text file busy".
		inside = "/nsbench/" + filepath.Base(prog)
	}
	dataInside := ""
	if job.Data != nil {
		dataInside = "/data"
	}
	args := substitute(job.Args, dataInside)
	args[0] = inside
	b, err := bundle.New(dir, bundle.Options{Args: args})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.name, err)
	}
	id := randomID("nsbench-")
	o.adjust(b.Spec, job)
	if o.seccomp != nil && b.Spec.Linux != nil {
		// After adjust: the profile follows the spec's capabilities.
		if b.Spec.Linux.Seccomp, err = o.seccomp(b.Spec); err != nil {
			return nil, fmt.Errorf("%s: %w", o.name, err)
		}
	}
	if inside != prog {
		// the mount point, made here because the root is mounted read-only
		mp := filepath.Join(b.Rootfs(), inside)
		if err := os.MkdirAll(filepath.Dir(mp), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(mp), err)
		}
		if err := os.WriteFile(mp, nil, 0o755); err != nil {
			return nil, fmt.Errorf("create mount point %s: %w", mp, err)
		}
		b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: inside, Type: "bind", Source: prog,
			Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	if job.Data != nil && job.Data.Kind == "rootfs" {
		if err := os.MkdirAll(filepath.Join(b.Rootfs(), "data"), 0o777); err != nil {
			return nil, fmt.Errorf("create data dir in %s: %w", b.Rootfs(), err)
		}
	}
	if err := b.Save(); err != nil {
		return nil, err
	}

	out, err := os.CreateTemp(dir, "stdout-")
	if err != nil {
		return nil, fmt.Errorf("create stdout file in %s: %w", dir, err)
	}
	defer out.Close()
	errf, err := os.CreateTemp(dir, "stderr-")
	if err != nil {
		return nil, fmt.Errorf("create stderr file in %s: %w", dir, err)
	}
	defer errf.Close()

	code, runErr := o.rt.Run(ctx, id, dir, oci.IO{Stdout: out, Stderr: errf})
	// Run deletes on success; after a failure or cancellation make sure.
	dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, serr := o.rt.State(dctx, id); serr == nil {
		_ = o.rt.Delete(dctx, id, true)
	}
	if job.Bridge != nil {
		// The poststop hook detaches; a runtime killed mid-run never gets
		// there, and Teardown is idempotent.
		if terr := teardown(dctx, job.Bridge.Network, id); terr != nil {
			return nil, fmt.Errorf("%s: detach container %s from bridge %s: %w", o.name, id, job.Bridge.Network.Bridge, terr)
		}
	}
	stdout, rerr := os.ReadFile(out.Name())
	if rerr != nil {
		return nil, fmt.Errorf("read stdout of %s: %w", id, rerr)
	}
	if runErr != nil || code != 0 {
		stderr, _ := os.ReadFile(errf.Name())
		return stdout, fmt.Errorf("%s run %s (exit %d): %w: %s", o.name, strings.Join(job.Args, " "), code,
			errors.Join(runErr, errors.New("non-zero exit")), tail(string(stderr)))
	}
	return stdout, nil
}

func (o *OCI) adjust(s *specs.Spec, job Job) {
	ro := []string{"rbind", "ro", "nosuid", "nodev"}
	for _, d := range []string{"/usr", "/lib", "/lib64"} {
		if _, err := os.Stat(d); err == nil {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: d, Type: "bind", Source: d, Options: ro})
		}
	}
	// iperf3 makes its stream buffers as files in /tmp; the root is read-only
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777", "size=64m"}})
	if job.Data != nil {
		switch job.Data.Kind {
		case "bind":
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: job.Data.Host, Options: []string{"rbind", "rw"}})
		case "rootfs":
			// the default root is read-only; this job writes to it
			if s.Root != nil {
				s.Root.Readonly = false
			}
		case "tmpfs":
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1g"}})
		}
	}
	if job.Bridge != nil {
		// nsnet attaches the container's own network namespace once it
		// exists and before the job starts, and detaches it when it stops.
		if s.Hooks == nil {
			s.Hooks = &specs.Hooks{}
		}
		timeout := 30
		hook := specs.Hook{Path: job.Bridge.Hook, Args: job.Bridge.HookArgs(), Timeout: &timeout}
		s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, hook)
		s.Hooks.Poststop = append(s.Hooks.Poststop, hook)
	}
	if job.CPUs != "" && s.Linux != nil {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		if s.Linux.Resources.CPU == nil {
			s.Linux.Resources.CPU = &specs.LinuxCPU{}
		}
		s.Linux.Resources.CPU.Cpus = job.CPUs
	}
	if job.HostNetwork && job.Bridge == nil && s.Linux != nil {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
			return n.Type == specs.NetworkNamespace
		})
	}
	if s.Process != nil {
		// fio opens many files at high numjobs; the engine limit here is 20000
		for i := range s.Process.Rlimits {
			if s.Process.Rlimits[i].Type == "RLIMIT_NOFILE" {
				s.Process.Rlimits[i].Hard, s.Process.Rlimits[i].Soft = 20000, 20000
			}
		}
	}
}

// teardown is network.Teardown for a container whose namespace may be going
// away right now: the kernel deletes the veth pair with the namespace, so
// the veth Teardown found can be gone when it deletes it ("no such device").
// Then the veth is gone as wanted and a second Teardown releases the lease.
func teardown(ctx context.Context, cfg network.Config, id string) error {
	err := network.Teardown(ctx, cfg, id)
	if err == nil {
		return nil
	}
	if _, lerr := netlink.LinkByName(network.HostVethName(id)); lerr != nil {
		return network.Teardown(ctx, cfg, id)
	}
	return err
}
