// Command nskernel builds the kernels nsbench boots in its VM tests:
//
//	nskernel build --variant stock --arch x86_64
//
// prints the path of the cached image (building it first when needed).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/kernels"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprintln(stderr, "usage: nskernel build [--variant stock|hardened|aufs|distro] [--arch x86_64|arm64] [--src TARBALL|DIR] [--aufs-src DIR] [--cache DIR] [--json] [-v]")
		return 2
	}
	fs := flag.NewFlagSet("nskernel build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o kernels.Options
	fs.StringVar(&o.Variant, "variant", envOr("KERNEL", "stock"), "kernel variant: "+strings.Join(kernels.Variants(), ", ")+", or distro (Debian's prebuilt kernel)")
	fs.StringVar(&o.Arch, "arch", envOr("ARCH", "x86_64"), "guest architecture: x86_64 or arm64")
	pin := kernels.DebianSource().Package
	fs.StringVar(&o.Src, "src", os.Getenv("KERNEL_SRC"), "kernel tarball or tree (default Debian 12's "+pin.Name+" "+pin.Version+", fetched and checked)")
	fs.StringVar(&o.SrcSHA256, "src-sha256", os.Getenv("KERNEL_SRC_SHA256"), "the --src tarball's pinned SHA256")
	fs.StringVar(&o.Toolchain, "toolchain", os.Getenv("KERNEL_TOOLCHAIN"), "buildroot (default: Debian 12's gcc in a pinned build root) or host (this host's gcc)")
	fs.StringVar(&o.Mirror, "mirror", os.Getenv("NSBENCH_DEBIAN_MIRROR"), "Debian mirror for the source, build root and packages (default "+debpkg.DefaultMirror+")")
	fs.StringVar(&o.AufsSrc, "aufs-src", os.Getenv("AUFS_SRC"), "aufs-standalone checkout for the aufs variant")
	fs.StringVar(&o.CacheDir, "cache", "", "cache directory (default "+kernels.DefaultCacheDir()+")")
	fs.IntVar(&o.Jobs, "j", 0, "parallel make jobs (default: number of CPUs)")
	asJSON := fs.Bool("json", false, "print the kernel's metadata as JSON instead of the image path")
	verbose := fs.Bool("v", false, "show make's output")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *verbose {
		o.Log = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var k *kernels.Kernel
	var err error
	if o.Variant == "distro" {
		// Debian's prebuilt kernel is fetched, not built.
		k, err = kernels.Distro(ctx, kernels.DistroOptions{Arch: o.Arch, Log: o.Log, Mirror: o.Mirror})
	} else {
		k, err = kernels.Build(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(stderr, "nskernel:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(k)
		return 0
	}
	fmt.Fprintln(stdout, k.Image)
	return 0
}

// envOr lets `make kernel KERNEL=hardened ARCH=arm64` pass its variables.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
