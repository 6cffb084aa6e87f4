package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/kernels"
	"github.com/nsbench/nsbench/perf/runner"
	"github.com/nsbench/nsbench/perf/vm"
	"github.com/nsbench/nsbench/vmtest"
)

// vmFlags are run's options for a run in VM guests.
type vmFlags struct {
	kernels, arch, aufsSrc, toolchain, dir string
	accel                                  vmtest.Accel
	timeout, hang                          time.Duration
	verbose                                bool
}

func (v *vmFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.kernels, "kernels", "", "run the matrix in VM guests booted with these kernel variants, e.g. stock,hardened (config field \"kernels\")")
	fs.StringVar(&v.arch, "arch", "", "guest arch with -kernels: x86_64 (default) or arm64 (config field \"arch\")")
	fs.StringVar(&v.aufsSrc, "aufs-src", os.Getenv("AUFS_SRC"), "aufs-standalone checkout, for the aufs kernel")
	fs.StringVar(&v.toolchain, "kernel-toolchain", os.Getenv("KERNEL_TOOLCHAIN"), "buildroot (default: the pinned Debian 12 build root) or host (this host's gcc)")
	fs.StringVar(&v.dir, "vm-dir", "", "directory for each boot's share, console log and scratch disk (default results/vm/<config>)")
	fs.StringVar(&v.accel.Force, "accel", os.Getenv("NSBENCH_ACCEL"), "kvm or tcg to force QEMU's accelerator (default: KVM if it is shown to run the guest, else TCG)")
	fs.DurationVar(&v.accel.ProbeDeadline, "kvm-probe", vmtest.DefaultProbeDeadline, "drop KVM for TCG when the guest kernel prints nothing for this long")
	fs.DurationVar(&v.timeout, "vm-timeout", 2*time.Hour, "give up on one boot after this long")
	fs.DurationVar(&v.hang, "vm-hang", 5*time.Minute, "a guest whose console and share stay unchanged this long has hung")
	fs.BoolVar(&v.verbose, "v", false, "show kernel builds' and apt's output")
}

// runVM builds (or takes from the caches) the kernels, the guest's
// programs and image, and runs the matrix in the guests.
func runVM(ctx context.Context, cfg runner.Config, vf vmFlags, given runner.Binaries, out string, resume, quiet bool) error {
	arch := cfg.Arch
	if arch == "" {
		arch = "x86_64"
	}
	var log io.Writer
	if vf.verbose {
		log = os.Stderr
	}
	var notice io.Writer = os.Stderr
	if quiet {
		notice = nil
	}
	var ks []*kernels.Kernel
	for _, v := range cfg.Kernels {
		if notice != nil {
			fmt.Fprintf(notice, "nsbench: kernel %s for %s (cached, or built now: minutes)\n", v, arch)
		}
		k, err := vmtest.Kernel(ctx, kernels.Options{Variant: v, Arch: arch, AufsSrc: vf.aufsSrc, Toolchain: vf.toolchain, Log: log})
		if err != nil {
			return fmt.Errorf("kernel %s: %w", v, err)
		}
		ks = append(ks, k)
	}
	bin, err := os.MkdirTemp("", "nsbench-guest-bin-")
	if err != nil {
		return fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(bin)
	gb, err := gobuild.ForGuest(ctx, vf.toolchain, debpkg.Bookworm(os.Getenv("NSBENCH_DEBIAN_MIRROR")),
		filepath.Join(envOr("NSBENCH_CACHE", "/var/cache/nsbench"), "gobuild"), log)
	if err != nil {
		return err
	}
	progs, err := guestPrograms(ctx, gb, given, bin, arch)
	if err != nil {
		return err
	}
	img, err := vm.Image(ctx, cfg, arch, ks, progs, log)
	if err != nil {
		return err
	}
	disk, err := vm.ToolDisk(ctx, cfg, arch, log)
	if err != nil {
		return err
	}
	dir := vf.dir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(out), "vm", cfg.Name)
	}
	vf.accel.VerdictDir = filepath.Join(envOr("NSBENCH_CACHE", "/var/cache/nsbench"), "accel")
	start := time.Now()
	f, err := vm.Run(ctx, vm.Options{Config: cfg, Kernels: ks, Image: img, ToolDisk: disk, Out: out, Resume: resume, Dir: dir,
		Accel: vf.accel, Timeout: vf.timeout, Hang: vf.hang, Log: notice})
	if err != nil {
		return err
	}
	if err := vm.Check(cfg, f); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	fmt.Fprintf(os.Stderr, "results: %s (%d boots, %s)\n", out, len(f.VM.Blocks), time.Since(start).Round(time.Second))
	return nil
}

// guestPrograms resolves the image's programs for the guest's arch: the
// run's flags for nsrun, nsnet and nsbench-cpu, then the environment, then
// a build by gb.
func guestPrograms(ctx context.Context, gb gobuild.Builder, given runner.Binaries, dir, arch string) (map[string]string, error) {
	flags := map[string]string{"nsrun": given.NSRun, "nsnet": given.NSNet, "nsbench-cpu": given.CPU}
	out := map[string]string{}
	for gp, name := range images.Programs() {
		p, err := gb.Resolve(ctx, name, flags[name], os.Getenv, dir, arch)
		if err != nil {
			return nil, fmt.Errorf("%s for the %s guest: %w", name, arch, err)
		}
		out[gp] = p
	}
	return out, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
