// Command nsvm runs the conformance suite inside a QEMU guest booted with
// one kernel variant:
//
//	nsvm run --kernel stock|hardened|aufs|distro --arch x86_64|arm64 [--runtime nsrun|runc|crun] [--perf-smoke=false] [--self-test=false] [--accel kvm|tcg] [--timeout 20m] [-v]
//
// It prints the guest's go test output, the matrix and the perf smoke's
// numbers, and exits with the suite's status.
//
//	nsvm startcost --kernel stock --arch x86_64 [--kernel-image bzImage] [-n 20] [LABEL=PATH ...]
//
// runs `nsbench startcost` (nsrun, runc, crun and any other static builds
// given as LABEL=PATH) in the guest: the start-cost comparison on a cgroup
// v2 host.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/vmtest"
)

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "startcost" {
		os.Exit(startcost(os.Args[2:]))
	}
	if len(os.Args) < 2 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "usage: nsvm run [--kernel stock|hardened|aufs|distro] [--arch x86_64|arm64] [--runtime nsrun|runc|crun] [--perf-smoke=BOOL] [--self-test=BOOL] [--aufs-src DIR] [--accel kvm|tcg] [--kvm-probe D] [--timeout D] [--out DIR] [-v]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("nsvm run", flag.ExitOnError)
	var o vmtest.SuiteOptions
	fs.StringVar(&o.Variant, "kernel", envOr("KERNEL", "stock"), "kernel variant")
	fs.StringVar(&o.Arch, "arch", envOr("ARCH", "x86_64"), "guest architecture")
	fs.StringVar(&o.Runtime, "runtime", envOr("VMTEST_RUNTIME", "nsrun"), "OCI runtime the suite drives in the guest: nsrun, runc or crun")
	fs.BoolVar(&o.PerfSmoke, "perf-smoke", true, "also run a few seconds of fio and iperf3 in the guest")
	fs.BoolVar(&o.SelfTest, "self-test", true, "also run the suite's self-test (every broken setting) in the guest")
	fs.StringVar(&o.AufsSrc, "aufs-src", os.Getenv("AUFS_SRC"), "aufs-standalone checkout for --kernel aufs")
	fs.StringVar(&o.KernelToolchain, "kernel-toolchain", os.Getenv("KERNEL_TOOLCHAIN"), "buildroot (default: the pinned Debian 12 build root) or host (this host's gcc)")
	fs.StringVar(&o.OutDir, "out", "", "directory for console.log and the share (default results/vm/<kernel>-<arch>)")
	fs.DurationVar(&o.Timeout, "timeout", 20*time.Minute, "give up on the guest after this long")
	fs.StringVar(&o.Accel.Force, "accel", os.Getenv("NSBENCH_ACCEL"), "kvm or tcg to force QEMU's accelerator (default: KVM if it is shown to run the guest, else TCG)")
	fs.DurationVar(&o.Accel.ProbeDeadline, "kvm-probe", vmtest.DefaultProbeDeadline, "drop KVM for TCG when the guest kernel prints nothing for this long")
	verbose := fs.Bool("v", false, "show kernel build output")
	_ = fs.Parse(os.Args[2:])
	if *verbose {
		o.Log = os.Stderr
	}
	o.Notice = os.Stderr
	// The KVM verdict is kept per host boot beside the kernel cache.
	o.Accel.VerdictDir = filepath.Join(envOr("NSBENCH_CACHE", "/var/cache/nsbench"), "accel")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	progs, cleanup, err := guestPrograms(ctx, o.KernelToolchain, o.Arch, o.Log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsvm:", err)
		os.Exit(1)
	}
	o.Programs = progs
	code, err := vmtest.RunConformance(ctx, o, os.Stdout)
	cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsvm:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// guestPrograms builds the image's programs and the conformance suite for
// the guest's arch (NSBENCH_NSRUN and the like name prebuilt ones when they
// are of that arch), in the pinned Debian 12 root unless toolchain is host.
func guestPrograms(ctx context.Context, toolchain, arch string, log io.Writer) (map[string]string, func(), error) {
	gb, err := gobuild.ForGuest(ctx, toolchain, debpkg.Bookworm(os.Getenv("NSBENCH_DEBIAN_MIRROR")),
		filepath.Join(envOr("NSBENCH_CACHE", "/var/cache/nsbench"), "gobuild"), log)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "nsvm-bin-")
	if err != nil {
		return nil, nil, fmt.Errorf("create build directory: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	progs, err := gb.ResolveAll(ctx, images.Programs(), os.Getenv, dir, arch)
	if err == nil {
		suite := filepath.Join(dir, "conformance.test")
		err = gb.TestBinary(ctx, "./conformance/", suite, arch)
		progs[images.GuestConformance] = suite
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return progs, cleanup, nil
}

// startcost is `nsvm startcost`.
func startcost(args []string) int {
	fs := flag.NewFlagSet("nsvm startcost", flag.ExitOnError)
	var o vmtest.StartcostOptions
	fs.StringVar(&o.Variant, "kernel", envOr("KERNEL", "stock"), "kernel variant")
	fs.StringVar(&o.Arch, "arch", envOr("ARCH", "x86_64"), "guest architecture")
	fs.StringVar(&o.KernelImage, "kernel-image", "", "a kernel of that variant built already (a cache entry's bzImage): nothing is built")
	fs.IntVar(&o.Rounds, "n", 20, "rounds: runs per runtime in the guest")
	fs.StringVar(&o.OutDir, "out", "", "directory for console.log, the share and the results (default results/vm/startcost-<kernel>-<arch>)")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "give up on the guest after this long")
	fs.StringVar(&o.Accel.Force, "accel", os.Getenv("NSBENCH_ACCEL"), "kvm or tcg to force QEMU's accelerator")
	verbose := fs.Bool("v", false, "show build output")
	_ = fs.Parse(args)
	if *verbose {
		o.Log = os.Stderr
	}
	o.Extra = fs.Args()
	o.Accel.ProbeDeadline = vmtest.DefaultProbeDeadline
	o.Accel.VerdictDir = filepath.Join(envOr("NSBENCH_CACHE", "/var/cache/nsbench"), "accel")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "nsvm-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsvm:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	progs, err := gobuild.ResolveAll(ctx, images.Programs(), os.Getenv, dir, o.Arch)
	if err == nil {
		o.Programs = progs
		err = vmtest.RunStartcost(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsvm:", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
