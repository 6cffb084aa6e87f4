// Package buildroot makes pinned Debian build roots and runs commands in
// them. A build root is a minimal Debian tree made by mmdebstrap from the
// private apt sources of internal/debpkg (so a Debian 13 or Ubuntu host
// installs exactly what a Debian 12 host does), with a fixed package list
// and the compiler packages pinned by version. What a build root compiles
// does not depend on the host's distribution: the kernels are compiled in
// one (kernels), and the guest image's cgo programs are linked in another
// (internal/gobuild).
//
// A root is cached under a key that hashes what defines it before it
// exists (sources, packages, pins); its manifest (the packages dpkg really
// installed, name=version) is written inside the tree, so tree and
// manifest appear at once (atomicfile.Dir).
package buildroot

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

// Spec is what a build root holds.
type Spec struct {
	// Purpose names the root in messages ("kernel", "cgo").
	Purpose string
	// Packages are installed besides the essential ones.
	Packages []string
	// Pins are exact versions of (some of) the packages, by name.
	Pins map[string]string
	// MountPoints are empty directories made in the root for Bind targets.
	// They are not part of the key.
	MountPoints []string
}

// Key hashes what defines the root before it exists: the release's
// sources, the package list in order and the pins, sorted.
func (s Spec) Key(rel debpkg.Release) string {
	h := sha256.New()
	fmt.Fprintf(h, "nsbench-buildroot-v1\x00%s\x00%s\x00", rel.SourcesList(), strings.Join(s.Packages, ","))
	names := make([]string, 0, len(s.Pins))
	for n := range s.Pins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s=%s\x00", n, s.Pins[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Root is a finished build root.
type Root struct {
	// Dir is the root's tree.
	Dir string
	// Manifest is the root's packages, name=version, sorted.
	Manifest []string
	// ManifestHash is the first 16 hex digits of the manifest's SHA256:
	// two roots with the same one run the same tools.
	ManifestHash string
}

const manifestName = "nsbench.manifest"

// Path is where Ensure keeps spec's root for rel under cacheDir.
func Path(spec Spec, rel debpkg.Release, cacheDir string) string {
	return filepath.Join(cacheDir, "buildroot", spec.Key(rel))
}

// Cached returns the root at Path when it is complete.
func Cached(spec Spec, rel debpkg.Release, cacheDir string) (*Root, error) {
	return load(Path(spec, rel, cacheDir))
}

// Ensure returns the cached build root of spec for rel under cacheDir,
// making it first (mmdebstrap: minutes and a few hundred MB) when the cache
// has none. Concurrent callers wait for each other. It needs root.
func Ensure(ctx context.Context, spec Spec, rel debpkg.Release, cacheDir string, log io.Writer) (*Root, error) {
	if log == nil {
		log = io.Discard
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the pinned %s build root needs root (mmdebstrap, and chroot in a private mount namespace): run as root", spec.Purpose)
	}
	dir := Path(spec, rel, cacheDir)
	if r, err := load(dir); err == nil {
		return r, nil
	}
	locks := filepath.Join(cacheDir, "locks")
	if err := os.MkdirAll(locks, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", locks, err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(locks, "buildroot-"+filepath.Base(dir)+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if r, err := load(dir); err == nil {
		return r, nil
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return nil, fmt.Errorf("the %s build root is made with mmdebstrap: %w (apt-get install mmdebstrap, or make deps-kernel)", spec.Purpose, err)
	}
	include := append([]string(nil), spec.Packages...)
	for n, v := range spec.Pins {
		include = append(include, n+"="+v)
	}
	sort.Strings(include)
	fmt.Fprintf(log, "buildroot: making the Debian %s %s build root %s (mmdebstrap)\n", rel.Name(), spec.Purpose, dir)
	err = atomicfile.Dir(dir, func(tmp string) error {
		args := []string{"--mode=root", "--variant=minbase", "--include=" + strings.Join(include, ","),
			"--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
			"--aptopt=Acquire::Languages \"none\""}
		if len(spec.MountPoints) > 0 {
			hook := "mkdir -p"
			for _, m := range spec.MountPoints {
				hook += ` "$1` + m + `"`
			}
			args = append(args, "--customize-hook="+hook)
		}
		args = append(args, rel.Name(), tmp, "-")
		cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
		cmd.Stdin = strings.NewReader(rel.SourcesList())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, log), io.MultiWriter(&out, log)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("mmdebstrap the %s build root %s: %w (a pinned version gone from Debian? pin the version `apt-cache policy NAME` shows in %s)\n%s",
				spec.Purpose, dir, err, rel.Name(), tailLines(out.String(), 15))
		}
		m, err := exec.CommandContext(ctx, "chroot", tmp, "dpkg-query", "-W", "-f=${Package}=${Version}\n").Output()
		if err != nil {
			return fmt.Errorf("list the %s build root's packages: %w", spec.Purpose, err)
		}
		return os.WriteFile(filepath.Join(tmp, manifestName), m, 0o644)
	})
	if err != nil {
		return nil, err
	}
	return load(dir)
}

func load(dir string) (*Root, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "usr", "bin", "dpkg")); err != nil {
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
	return &Root{Dir: dir, Manifest: pkgs, ManifestHash: hex.EncodeToString(h[:8])}, nil
}

// Bind is a host directory seen inside the root at Target (one of the
// spec's MountPoints).
type Bind struct {
	Source, Target string
	ReadOnly       bool
}

// Command runs argv in the root: chroot in a private mount namespace where
// the binds are mounted, /proc is the root's own and /tmp a fresh tmpfs
// (commands beside each other, and a killed one, leave nothing in the
// shared root). env is the whole environment.
func (r *Root) Command(ctx context.Context, binds []Bind, env []string, argv ...string) *exec.Cmd {
	// The paths go in as arguments, not variables: make would read an
	// environment variable O as its O=. mount and chroot are the host's,
	// found on the caller's PATH: env is the command's, not the script's.
	script := `set -e; r=$1 mount=$2 chroot=$3; shift 3
"$mount" -t proc proc "$r/proc"
"$mount" -t tmpfs -o mode=1777 tmpfs "$r/tmp"
while [ "$1" != -- ]; do
	"$mount" --bind "$1" "$r$2"
	if [ "$3" = ro ]; then "$mount" -o remount,bind,ro "$r$2"; fi
	shift 3
done
shift
exec "$chroot" "$r" "$@"`
	args := []string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", r.Dir, lookPath("mount"), lookPath("chroot")}
	for _, b := range binds {
		mode := "rw"
		if b.ReadOnly {
			mode = "ro"
		}
		args = append(args, b.Source, b.Target, mode)
	}
	args = append(append(args, "--"), argv...)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = env
	return cmd
}

// lookPath is name's path on the caller's PATH, or name itself (the
// script's error then names it).
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
