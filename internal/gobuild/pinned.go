package gobuild

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nsbench/nsbench/internal/buildroot"
	"github.com/nsbench/nsbench/internal/debpkg"
)

// The guest image must be the same on every host for the same commit, and
// a cgo program carries the C compiler's start files and the pieces of the
// static C library it links: built with the host's gcc and glibc, nsrun of
// a Debian 13 host (gcc 14.2, glibc 2.41) differs from a Debian 12 host's
// (gcc 12.2, glibc 2.36). A pinned Builder therefore runs go itself in a
// Debian 12 build root with a fixed gcc and glibc (for the host's arch and
// cross for the other one), with the host's Go toolchain bound in and a
// fixed environment: no go env file, no GOFLAGS, GOAMD64 or CC of the
// caller's. Two hosts of one arch with the same Go release then build the
// same bytes.

// CgoRootSpec is the build root the pinned builds run in, for a host of
// hostArch (a GOARCH): Debian 12's gcc and static glibc for that arch, and
// the cross gcc and glibc of the other guest arch. The compilers and C
// libraries are pinned by version; when Debian replaces one, making the
// root fails naming it: pin what `apt-cache policy NAME` shows in bookworm.
func CgoRootSpec(hostArch string) buildroot.Spec {
	pins := map[string]string{
		"gcc-12":    "12.2.0-14+deb12u1",
		"binutils":  "2.40-2",
		"libc6-dev": "2.36-9+deb12u14",
	}
	pkgs := []string{"gcc", "libc6-dev"}
	switch hostArch {
	case "amd64":
		pkgs = append(pkgs, "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross")
		pins["gcc-12-aarch64-linux-gnu"] = "12.2.0-14cross1"
		pins["binutils-aarch64-linux-gnu"] = "2.40-2"
		pins["libc6-dev-arm64-cross"] = "2.36-8cross1"
	case "arm64":
		pkgs = append(pkgs, "gcc-x86-64-linux-gnu", "libc6-dev-amd64-cross")
		pins["gcc-12-x86-64-linux-gnu"] = "12.2.0-14cross1"
		pins["binutils-x86-64-linux-gnu"] = "2.40-2"
		pins["libc6-dev-amd64-cross"] = "2.36-8cross1"
	}
	return buildroot.Spec{Purpose: "cgo", Packages: pkgs, Pins: pins,
		MountPoints: []string{pinnedGoroot, pinnedModule, pinnedModCache, pinnedGoCache, pinnedOut}}
}

// Where a pinned build sees the Go toolchain, the module, the module
// cache, its build cache and the output directory.
const (
	pinnedGoroot   = "/build/go"
	pinnedModule   = "/build/module"
	pinnedModCache = "/build/gomodcache"
	pinnedGoCache  = "/build/gocache"
	pinnedOut      = "/build/out"
)

// Pinned returns a Builder that builds in the cgo build root of rel under
// cacheDir (made first when the cache has none: mmdebstrap, minutes), with
// a go build cache of its own beside it. It needs root.
func Pinned(ctx context.Context, rel debpkg.Release, cacheDir string, log io.Writer) (Builder, error) {
	if os.Geteuid() != 0 {
		return Builder{}, fmt.Errorf("the guest programs are built in a pinned Debian 12 root (chroot in a private mount namespace): run as root, or build them with this host's gcc (KERNEL_TOOLCHAIN=host; the image then depends on the host's distribution)")
	}
	r, err := buildroot.Ensure(ctx, CgoRootSpec(runtime.GOARCH), rel, cacheDir, log)
	if err != nil {
		return Builder{}, err
	}
	// The host's build cache is not shared: it may hold cgo objects
	// compiled against the host's headers by a gcc of the same version.
	goCache := filepath.Join(cacheDir, "gocache", r.ManifestHash)
	if err := os.MkdirAll(goCache, 0o755); err != nil {
		return Builder{}, fmt.Errorf("create %s: %w", goCache, err)
	}
	return Builder{root: r, goCache: goCache}, nil
}

// Root is the build root b builds in, or nil for the host's tools.
func (b Builder) Root() *buildroot.Root { return b.root }

// goInRoot runs go with args in the build root for goarch, the module at
// its root, outDir bound at pinnedOut. The modules come from the host's
// module cache (downloaded there first; the root has no network use).
func (b Builder) goInRoot(ctx context.Context, goarch string, cgo bool, outDir string, args ...string) error {
	module, err := ModuleRoot()
	if err != nil {
		return err
	}
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return err
	}
	modCache, err := goEnv("GOMODCACHE")
	if err != nil {
		return err
	}
	dl := exec.CommandContext(ctx, "go", "mod", "download")
	dl.Dir = module
	if err := runGo(dl, []string{"mod", "download"}); err != nil {
		return err
	}
	env := []string{
		"PATH=" + pinnedGoroot + "/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "LC_ALL=C", "TZ=UTC",
		"GOENV=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOTELEMETRY=off",
		"GOMODCACHE=" + pinnedModCache, "GOCACHE=" + pinnedGoCache, "GOARCH=" + goarch,
	}
	if cgo {
		env = append(env, "CGO_ENABLED=1", "CC="+rootCC(goarch))
	} else {
		env = append(env, "CGO_ENABLED=0")
	}
	binds := []buildroot.Bind{
		{Source: goroot, Target: pinnedGoroot, ReadOnly: true},
		{Source: module, Target: pinnedModule, ReadOnly: true},
		{Source: modCache, Target: pinnedModCache, ReadOnly: true},
		{Source: b.goCache, Target: pinnedGoCache},
		{Source: outDir, Target: pinnedOut},
	}
	argv := append([]string{"/bin/sh", "-c", `cd "$0" && exec go "$@"`, pinnedModule}, args...)
	cmd := b.root.Command(ctx, binds, env, argv...)
	if err := runGo(cmd, args); err != nil {
		return fmt.Errorf("in the build root %s: %w", b.root.Dir, err)
	}
	return nil
}

// rootCC is the build root's C compiler for goarch.
func rootCC(goarch string) string {
	switch {
	case goarch == runtime.GOARCH:
		return "gcc"
	case goarch == "arm64":
		return "aarch64-linux-gnu-gcc"
	default:
		return "x86_64-linux-gnu-gcc"
	}
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w (is the Go toolchain on PATH?)", name, err)
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", fmt.Errorf("go env %s is empty", name)
	}
	return v, nil
}

// ForGuest is the Builder of a VM guest's programs for toolchain, the value
// of KERNEL_TOOLCHAIN (the guest's kernel and programs are built by the same
// kind of toolchain): "" or "buildroot" is Pinned, "host" the host's tools.
func ForGuest(ctx context.Context, toolchain string, rel debpkg.Release, cacheDir string, log io.Writer) (Builder, error) {
	switch toolchain {
	case "", "buildroot":
		return Pinned(ctx, rel, cacheDir, log)
	case "host":
		return Builder{}, nil
	}
	return Builder{}, fmt.Errorf("unknown toolchain %q for the guest's programs: want buildroot (the pinned Debian 12 root, the default) or host", toolchain)
}
