package kernels

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/nsbench/nsbench/internal/buildroot"
	"github.com/nsbench/nsbench/internal/debpkg"
)

// A kernel is only the same kernel when the compiler is the same too: by
// default every kernel is compiled in a Debian 12 build root, made with
// mmdebstrap from the same private apt sources debpkg uses, so a Debian 13
// or Ubuntu host runs Debian 12's gcc 12, binutils 2.40, make, flex and
// bison, and sees the source and object trees at the same paths.

// BuildRootPackages are the build root's packages besides the essential
// ones: what a kernel build (x86_64, and arm64 cross) with the GCC plugins
// needs. gcc-12 and binutils are pinned by version in BuildRootPins.
func BuildRootPackages() []string {
	return []string{
		"build-essential", "bc", "flex", "bison", "libelf-dev", "libssl-dev", "cpio", "kmod", "xz-utils",
		"gcc-12-plugin-dev", "gcc-aarch64-linux-gnu", "gcc-12-plugin-dev-aarch64-linux-gnu",
	}
}

// BuildRootPins are the compiler packages' exact versions. When Debian
// replaces one, the build root fails to build naming it: pin the version
// `apt-cache policy NAME` shows in bookworm then.
func BuildRootPins() map[string]string {
	return map[string]string{
		"gcc-12":                     "12.2.0-14+deb12u1",
		"binutils":                   "2.40-2",
		"gcc-12-aarch64-linux-gnu":   "12.2.0-14cross1",
		"binutils-aarch64-linux-gnu": "2.40-2",
	}
}

// Paths at which the build root's commands see the trees.
const (
	buildRootSrc = "/build/src"
	buildRootObj = "/build/obj"
)

// Toolchain runs the kernel build's commands.
type Toolchain struct {
	// Root is the Debian 12 build root; empty means the host's own tools.
	Root string `json:"root,omitempty"`
	// ID identifies the tools in the cache key: the SHA256 of the build
	// root's package manifest, or "host".
	ID string `json:"id"`
	// Manifest is the build root's packages, name=version, sorted.
	Manifest []string `json:"-"`
}

// HostToolchain compiles with whatever the host has (KERNEL_TOOLCHAIN=host):
// the kernel then depends on the host's distribution; the compiler's
// version line still goes into the cache key and kernel.json.
func HostToolchain() *Toolchain { return &Toolchain{ID: "host"} }

// buildRootSpec is the kernel build root's definition.
func buildRootSpec() buildroot.Spec {
	return buildroot.Spec{Purpose: "kernel", Packages: BuildRootPackages(), Pins: BuildRootPins(),
		MountPoints: []string{buildRootSrc, buildRootObj}}
}

// buildRootKey hashes what defines a build root before it exists.
func buildRootKey(rel debpkg.Release) string { return buildRootSpec().Key(rel) }

// BuildRoot returns the cached Debian 12 build root for rel, making it
// first (mmdebstrap, a few minutes and ~600 MB) when the cache has none.
// It needs root: the build root is entered with chroot in a private mount
// namespace.
func BuildRoot(ctx context.Context, rel debpkg.Release, cacheDir string, log io.Writer) (*Toolchain, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the pinned kernel build root needs root (chroot in a private mount namespace): run as root, or set KERNEL_TOOLCHAIN=host to compile with this host's gcc (the kernel then depends on the host's distribution)")
	}
	r, err := buildroot.Ensure(ctx, buildRootSpec(), rel, cacheDir, log)
	if err != nil {
		return nil, err
	}
	return &Toolchain{Root: r.Dir, ID: "debian12-buildroot-" + r.ManifestHash, Manifest: r.Manifest}, nil
}

// dirs returns where the toolchain's commands see srcDir and objDir.
func (tc *Toolchain) dirs(srcDir, objDir string) (string, string) {
	if tc.Root == "" {
		return srcDir, objDir
	}
	return buildRootSrc, buildRootObj
}

// command runs argv with the toolchain: on the host as is, or in the
// build root (buildroot.Root.Command) with srcDir and objDir, when set,
// bound at dirs(). env is the whole environment.
func (tc *Toolchain) command(ctx context.Context, srcDir, objDir string, env []string, argv ...string) *exec.Cmd {
	if tc.Root == "" {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		return cmd
	}
	var binds []buildroot.Bind
	if srcDir != "" {
		binds = append(binds, buildroot.Bind{Source: srcDir, Target: buildRootSrc})
	}
	if objDir != "" {
		binds = append(binds, buildroot.Bind{Source: objDir, Target: buildRootObj})
	}
	return (&buildroot.Root{Dir: tc.Root}).Command(ctx, binds, env, argv...)
}
