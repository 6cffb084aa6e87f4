package kernels

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/flock"
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

// buildRootKey hashes what defines a build root before it exists.
func buildRootKey(rel debpkg.Release) string {
	h := sha256.New()
	fmt.Fprintf(h, "nsbench-buildroot-v1\x00%s\x00%s\x00", rel.SourcesList(), strings.Join(BuildRootPackages(), ","))
	pins := BuildRootPins()
	names := make([]string, 0, len(pins))
	for n := range pins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s\x00", n, pins[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BuildRoot returns the cached Debian 12 build root for rel, making it
// first (mmdebstrap, a few minutes and ~600 MB) when the cache has none.
// It needs root: the build root is entered with chroot in a private mount
// namespace.
func BuildRoot(ctx context.Context, rel debpkg.Release, cacheDir string, log io.Writer) (*Toolchain, error) {
	if log == nil {
		log = io.Discard
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the pinned kernel build root needs root (chroot in a private mount namespace): run as root, or set KERNEL_TOOLCHAIN=host to compile with this host's gcc (the kernel then depends on the host's distribution)")
	}
	key := buildRootKey(rel)
	dir := filepath.Join(cacheDir, "buildroot", key)
	// The manifest is inside the tree, so tree and manifest appear at once.
	manifestPath := filepath.Join(dir, "nsbench.manifest")
	if tc, err := loadBuildRoot(dir, manifestPath); err == nil {
		return tc, nil
	}
	if err := os.MkdirAll(filepath.Join(cacheDir, "locks"), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(cacheDir, "locks"), err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(cacheDir, "locks", "buildroot-"+key+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if tc, err := loadBuildRoot(dir, manifestPath); err == nil {
		return tc, nil
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return nil, fmt.Errorf("the kernel build root is made with mmdebstrap: %w (make deps-kernel)", err)
	}
	include := BuildRootPackages()
	pins := BuildRootPins()
	for n, v := range pins {
		include = append(include, n+"="+v)
	}
	sort.Strings(include)
	fmt.Fprintf(log, "kernels: making the Debian %s build root %s (mmdebstrap)\n", rel.Name(), dir)
	err = atomicfile.Dir(dir, func(tmp string) error {
		args := []string{"--mode=root", "--variant=minbase", "--include=" + strings.Join(include, ","),
			"--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
			"--aptopt=Acquire::Languages \"none\"",
			"--customize-hook=mkdir -p \"$1" + buildRootSrc + "\" \"$1" + buildRootObj + "\"",
			rel.Name(), tmp, "-"}
		cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
		cmd.Stdin = strings.NewReader(rel.SourcesList())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, log), io.MultiWriter(&out, log)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("mmdebstrap the kernel build root %s: %w (a pinned version gone from Debian? see kernels.BuildRootPins)\n%s", dir, err, tailLines(out.String(), 15))
		}
		m, err := exec.CommandContext(ctx, "chroot", tmp, "dpkg-query", "-W", "-f=${Package}=${Version}\n").Output()
		if err != nil {
			return fmt.Errorf("list the build root's packages: %w", err)
		}
		return os.WriteFile(filepath.Join(tmp, "nsbench.manifest"), m, 0o644)
	})
	if err != nil {
		return nil, err
	}
	return loadBuildRoot(dir, manifestPath)
}

func loadBuildRoot(dir, manifestPath string) (*Toolchain, error) {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "usr", "bin", "make")); err != nil {
		return nil, err
	}
	var pkgs []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			pkgs = append(pkgs, l)
		}
	}
	sort.Strings(pkgs)
	h := sha256.Sum256([]byte(strings.Join(pkgs, "\n")))
	return &Toolchain{Root: dir, ID: "debian12-buildroot-" + hex.EncodeToString(h[:8]), Manifest: pkgs}, nil
}

// dirs returns where the toolchain's commands see srcDir and objDir.
func (tc *Toolchain) dirs(srcDir, objDir string) (string, string) {
	if tc.Root == "" {
		return srcDir, objDir
	}
	return buildRootSrc, buildRootObj
}

// command runs argv with the toolchain: on the host as is, or in the
// build root, entered by chroot in a private mount namespace where srcDir
// and objDir (when set) are bound at dirs() and /tmp is a fresh tmpfs
// (builds beside each other, and a killed one, leave nothing in the shared
// root). env is the whole environment.
func (tc *Toolchain) command(ctx context.Context, srcDir, objDir string, env []string, argv ...string) *exec.Cmd {
	if tc.Root == "" {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		return cmd
	}
	// The paths go in as arguments, not variables: make would read an
	// environment variable O as its O=.
	script := `set -e; r=$1 s=$2 o=$3; shift 3
mount -t proc proc "$r/proc"
mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
if [ -n "$s" ]; then mount --bind "$s" "$r` + buildRootSrc + `"; fi
if [ -n "$o" ]; then mount --bind "$o" "$r` + buildRootObj + `"; fi
exec chroot "$r" "$@"`
	args := append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", tc.Root, srcDir, objDir}, argv...)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = env
	return cmd
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
