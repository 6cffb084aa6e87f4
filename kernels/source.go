package kernels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/debpkg"
)

// SourcePin is a kernel source in a Debian package, pinned by the
// package's version and SHA256 and by the SHA256 of the tarball inside.
type SourcePin struct {
	Package debpkg.Pin
	// Tarball is the tarball's path inside the package.
	Tarball       string
	TarballSHA256 string
}

// DebianSource is what every kernel variant is built from unless
// Options.Src (KERNEL_SRC) names another: Debian 12's linux-source-6.1,
// fetched from Debian 12's archive through debpkg's private apt on any
// host (a Debian 13 host has only linux-source-6.12, Ubuntu its own).
// When Debian drops this version from its archive, FetchSource says so:
// pin the version `apt-cache policy linux-source-6.1` shows then, with the
// two checksums (the .deb's from apt-cache show, the tarball's from
// sha256sum), or point KERNEL_SRC at a copy of this one.
func DebianSource() SourcePin {
	return SourcePin{
		Package:       debpkg.Pin{Name: "linux-source-6.1", Version: "6.1.192-2", SHA256: "ae95fe63d4c553f8d0e6c86cb1ab566f3894a43743eb19ab585cd97d82f26514"},
		Tarball:       "usr/src/linux-source-6.1.tar.xz",
		TarballSHA256: "4d415b3d364834fd818270e88813e90323bbfce4f519a0e6bd4940ddcd7df693",
	}
}

// Source says what a kernel was built from; it goes into kernel.json.
type Source struct {
	// Name is the Debian package and version ("linux-source-6.1
	// 6.1.192-2"), or the tarball or tree path given as KERNEL_SRC.
	Name string `json:"name"`
	// SHA256 is the tarball's (empty for an unpacked tree, which has no
	// cheap exact identity).
	SHA256 string `json:"sha256,omitempty"`
}

// FetchSource returns the pinned Debian source tarball, downloading and
// checking it first when the package cache has none.
func FetchSource(ctx context.Context, pin SourcePin, repo *debpkg.Repo) (string, error) {
	pkg, err := repo.FetchPinned(ctx, pin.Package)
	if err != nil {
		if errors.Is(err, debpkg.ErrPinGone) {
			return "", fmt.Errorf("kernel source: %w (update kernels.DebianSource to the version Debian has now, or set KERNEL_SRC to a kernel tarball with KERNEL_SRC_SHA256)", err)
		}
		return "", fmt.Errorf("kernel source %s %s: %w", pin.Package.Name, pin.Package.Version, err)
	}
	return filepath.Join(pkg.Root, pin.Tarball), nil
}

// source is an unpacked kernel tree and an identity for cache keys.
type source struct {
	Dir string
	ID  string
	// SHA256 is the tarball's, when it was one.
	SHA256 string
}

// resolveSource returns a tree for src (a kernel tarball or an unpacked
// tree). Tarballs are unpacked once into cacheDir/src/<hash>; wantSHA256,
// when set, is the tarball's pinned checksum, and another one is refused.
func resolveSource(ctx context.Context, src, wantSHA256, cacheDir string, log io.Writer) (*source, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("kernel source %s: %w (set KERNEL_SRC to a kernel tarball or tree, or leave it empty for Debian 12's pinned linux-source-6.1)", src, err)
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(src, "Makefile")); err != nil {
			return nil, fmt.Errorf("kernel source %s: no top-level Makefile: not a kernel tree", src)
		}
		if wantSHA256 != "" {
			return nil, fmt.Errorf("kernel source %s: a tree has no checksum to compare with KERNEL_SRC_SHA256 %s: give the tarball", src, wantSHA256)
		}
		ver, err := treeVersion(ctx, src)
		if err != nil {
			return nil, err
		}
		// A tree can change under us; its version and path are the best
		// cheap identity. Tarballs are hashed exactly.
		return &source{Dir: src, ID: "tree:" + src + ":" + ver}, nil
	}
	sum, err := debpkg.HashFile(src)
	if err != nil {
		return nil, err
	}
	if wantSHA256 != "" && sum != wantSHA256 {
		return nil, fmt.Errorf("kernel source %s: SHA256 %s, pinned %s: not the pinned source", src, sum, wantSHA256)
	}
	dir := filepath.Join(cacheDir, "src", sum[:16])
	if _, err := os.Stat(dir); err != nil {
		fmt.Fprintf(log, "kernels: unpacking %s into %s\n", src, dir)
		// Two builds of one tarball (two variants, say) may unpack it at
		// once: each into its own temporary, the first rename wins.
		err := atomicfile.Dir(dir, func(tmp string) error {
			cmd := exec.CommandContext(ctx, "tar", "-xf", src, "-C", tmp)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("unpack %s: %w: %s", src, err, out)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	tree, err := onlySubdir(dir)
	if err != nil {
		return nil, err
	}
	return &source{Dir: tree, ID: "tar:" + sum, SHA256: sum}, nil
}

// onlySubdir finds the kernel tree inside an unpacked tarball: the one
// directory holding a Makefile (or dir itself).
func onlySubdir(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, "Makefile")); err == nil {
		return dir, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "Makefile")); err == nil {
				return filepath.Join(dir, e.Name()), nil
			}
		}
	}
	return "", fmt.Errorf("unpacked kernel source %s: no directory with a top-level Makefile", dir)
}

func treeVersion(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "make", "-s", "-C", dir, "kernelversion").Output()
	if err != nil {
		return "", fmt.Errorf("make -C %s kernelversion: %w", dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// aufsBranch names the aufs-standalone branch for a kernel version: the
// project keeps one branch per upstream series (aufs6.1 for Linux 6.1).
func aufsBranch(kernelVersion string) string {
	parts := strings.SplitN(kernelVersion, ".", 3)
	if len(parts) < 2 {
		return "aufs" + kernelVersion
	}
	return "aufs" + parts[0] + "." + parts[1]
}

// aufsPatches are the patches of an aufs-standalone checkout, in the order
// its README gives, followed by the files it adds to the tree.
var aufsPatchNames = []string{"kbuild", "base", "mmap", "standalone"}

// applyAufs copies the source tree into dst and applies the aufs-standalone
// checkout in aufsSrc to it, so the shared unpacked tree stays pristine.
func applyAufs(ctx context.Context, srcDir, aufsSrc, dst, kernelVersion string) error {
	branch := aufsBranch(kernelVersion)
	hint := fmt.Sprintf("AUFS_SRC must be a checkout of branch %s of the aufs-standalone repository (github.com/sfjro/aufs-standalone)", branch)
	if aufsSrc == "" {
		return fmt.Errorf("kernel variant aufs: AUFS_SRC is not set; %s, e.g. git clone -b %s https://github.com/sfjro/aufs-standalone", hint, branch)
	}
	var patches []string
	major := strings.SplitN(kernelVersion, ".", 2)[0]
	for _, n := range aufsPatchNames {
		p := filepath.Join(aufsSrc, "aufs"+major+"-"+n+".patch")
		if _, err := os.Stat(p); err != nil {
			if n == "standalone" {
				continue // needed only for a module build
			}
			return fmt.Errorf("kernel variant aufs: %s missing: %s", p, hint)
		}
		patches = append(patches, p)
	}
	for _, d := range []string{"fs/aufs", "include/uapi/linux/aufs_type.h"} {
		if _, err := os.Stat(filepath.Join(aufsSrc, d)); err != nil {
			return fmt.Errorf("kernel variant aufs: %s missing: %s", filepath.Join(aufsSrc, d), hint)
		}
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("remove %s: %w", dst, err)
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", srcDir, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s to %s: %w: %s", srcDir, dst, err, out)
	}
	for _, p := range patches {
		cmd := exec.CommandContext(ctx, "patch", "-p1", "--forward", "--batch", "-i", p)
		cmd.Dir = dst
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apply %s to %s: %w: %s (is %s the branch for Linux %s?)", p, dst, err, out, aufsSrc, kernelVersion)
		}
	}
	for _, d := range []string{"fs", "include", "Documentation"} {
		if _, err := os.Stat(filepath.Join(aufsSrc, d)); err != nil {
			continue
		}
		if out, err := exec.CommandContext(ctx, "cp", "-a", filepath.Join(aufsSrc, d), dst+"/").CombinedOutput(); err != nil {
			return fmt.Errorf("copy %s into %s: %w: %s", filepath.Join(aufsSrc, d), dst, err, out)
		}
	}
	return nil
}

// aufsID identifies an aufs checkout for the cache key: the hash of its
// patches and added files, sorted by path.
func aufsID(aufsSrc string) (string, error) {
	h := sha256.New()
	var files []string
	err := filepath.Walk(aufsSrc, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Name() == ".git" {
			return filepath.SkipDir
		}
		if info.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash aufs checkout %s: %w", aufsSrc, err)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("hash aufs checkout: %w", err)
		}
		rel, _ := filepath.Rel(aufsSrc, f)
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
