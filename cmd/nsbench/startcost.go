package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/engineprofile"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/startcost"
)

// inNamespaceFlag marks the re-executed startcost that runs in its own
// mount namespace (see startcostCmd).
const inNamespaceFlag = "in-private-mount-ns"

// startcostCmd is `nsbench startcost`: the fair start-cost benchmark of
// package startcost. On a hybrid cgroup host, where crun must not see the
// cgroup2 mount, it re-executes itself once in a new mount namespace,
// detaches that mount there and runs every runtime inside: the same view
// for all, the setup outside the timed runs. The per-call wrapper that
// internal/oci uses elsewhere is then timed on its own.
func startcostCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("startcost", flag.ExitOnError)
	rounds := fs.Int("n", 30, "rounds: runs per runtime")
	profile := fs.String("seccomp", "", "give the bundle docker's or podman's default seccomp profile")
	trace := fs.Bool("trace", true, "also run nsrun with NSRUN_TRACE for the breakdown by phase")
	wrapper := fs.Bool("wrapper", true, "on a hybrid host, also time crun through internal/oci's per-call wrapper, and the wrapper alone")
	gap := fs.Duration("gap", 100*time.Millisecond, "pause before every run, so that each starts on a quiet host (0: back to back)")
	nsrunBin := fs.String("nsrun", "", "nsrun binary (default $NSBENCH_NSRUN, else built from this tree)")
	out := fs.String("out", "", "also write the results as JSON here")
	dirFlag := fs.String("dir", "", "directory for the bundle and the runtimes' state (default: a temporary one)")
	inNS := fs.Bool(inNamespaceFlag, false, "internal: already in the private mount namespace")
	_ = fs.Parse(args)
	names := fs.Args()
	if len(names) == 0 {
		names = []string{"nsrun", "runc", "crun"}
	}
	var configure func(*specs.Spec) error
	switch *profile {
	case "":
	default:
		get, err := engineprofile.ByEngine(*profile)
		if err != nil {
			return fmt.Errorf("startcost: -seccomp: %w", err)
		}
		configure = func(s *specs.Spec) (err error) {
			s.Linux.Seccomp, err = get(s)
			return err
		}
	}

	if *out != "" {
		// Before the runs, not after: a fresh clone has no results/.
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return fmt.Errorf("startcost: -out %s: %w", *out, err)
		}
	}
	dir := *dirFlag
	if dir == "" {
		d, err := os.MkdirTemp("", "startcost-")
		if err != nil {
			return fmt.Errorf("startcost: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	// nsrun is resolved (built) once, before any namespace.
	if slices.Contains(names, "nsrun") && *nsrunBin == "" {
		bin, err := gobuild.Resolve(ctx, "nsrun", *nsrunBin, os.Getenv, filepath.Join(dir, "bin"), "")
		if err != nil {
			return err
		}
		*nsrunBin = bin
	}
	hidden := oci.CrunNeedsCgroup2Hidden()
	if hidden && os.Geteuid() == 0 && !*inNS {
		return reexecInMountNS(ctx, []string{"-n", strconv.Itoa(*rounds), "-seccomp", *profile, "-trace=" + strconv.FormatBool(*trace), "-gap", gap.String(),
			"-wrapper=" + strconv.FormatBool(*wrapper), "-nsrun", *nsrunBin, "-out", *out, "-dir", dir}, names)
	}
	o := startcost.Options{Rounds: *rounds, Dir: dir, Configure: configure, Trace: *trace, Gap: *gap, Progress: os.Stderr}
	switch {
	case *inNS:
		if err := oci.HideCgroup2(); err != nil {
			return err
		}
		o.Setup = "hybrid cgroup host: every runtime runs in one private mount namespace whose cgroup2 mount was hidden once, before the first run"
		if *wrapper {
			w, err := oci.Cgroup2Wrapper(0, 0, oci.Cgroup2Mount)
			if err != nil {
				return err
			}
			o.Wrapper = w
		}
	case hidden:
		o.Setup = "NOT FAIR: unprivileged on a hybrid host, crun runs through internal/oci's per-call wrapper (a user and mount namespace, three execs) on every run"
	default:
		o.Setup = "no cgroup2 controllers to hide from crun: every runtime runs as it is"
	}
	for i, name := range names {
		path := name
		if label, p, ok := strings.Cut(name, "="); ok {
			name, path = label, p
		}
		if name == "nsrun" && path == name {
			path = *nsrunBin
		}
		r, err := oci.New(path, filepath.Join(dir, "state-"+strconv.Itoa(i)))
		if err != nil {
			fmt.Fprintf(os.Stderr, "startcost: skip %s: %v\n", name, err)
			continue
		}
		r.Name = name
		o.Runtimes = append(o.Runtimes, r)
	}
	res, err := startcost.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Println()
	startcost.Print(os.Stdout, res)
	if *out != "" {
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("encode results: %w", err)
		}
		if err := atomicfile.Write(*out, append(data, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "results:", *out)
	}
	return nil
}

// reexecInMountNS runs this startcost again in a new mount namespace
// (clone with CLONE_NEWNS: unlike unshare from Go's SysProcAttr it leaves
// mount propagation as the host has it, so container mounts behave as on
// the host). The namespace ends with the child.
func reexecInMountNS(ctx context.Context, flags []string, names []string) error {
	argv := append(append(append([]string{"startcost"}, flags...), "-"+inNamespaceFlag), names...)
	cmd := exec.CommandContext(ctx, "/proc/self/exe", argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("startcost in a private mount namespace: %w", err)
	}
	return nil
}
