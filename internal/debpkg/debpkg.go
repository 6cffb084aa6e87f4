// Package debpkg fetches Debian packages of a target architecture (amd64 or
// arm64) of one pinned Debian release, with the host's apt reading a private
// configuration (apt.go), unpacks them into a cache outside the tree and
// resolves ELF binaries' shared libraries from them, so guest images get
// runc, crun, fio and iperf3 built by Debian for the guest's arch, the
// distro kernel variant gets Debian's kernel and modules, and the kernel
// source is the same package on any host.
package debpkg

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/flock"
)

// Arch describes a Debian architecture nsbench builds guests for.
type Arch struct {
	Name    string // Debian name: amd64, arm64
	Triplet string // multiarch library directory: x86_64-linux-gnu
}

// ArchOf maps a guest or Debian architecture name (x86_64, amd64, arm64,
// aarch64) to its Debian architecture.
func ArchOf(name string) (Arch, error) {
	switch name {
	case "x86_64", "amd64", "":
		return Arch{"amd64", "x86_64-linux-gnu"}, nil
	case "arm64", "aarch64":
		return Arch{"arm64", "aarch64-linux-gnu"}, nil
	}
	return Arch{}, fmt.Errorf("unknown architecture %q: want amd64 (x86_64) or arm64", name)
}

// DefaultCacheDir is $NSBENCH_CACHE/debs, or /var/cache/nsbench/debs.
func DefaultCacheDir() string {
	if c := os.Getenv("NSBENCH_CACHE"); c != "" {
		return filepath.Join(c, "debs")
	}
	return "/var/cache/nsbench/debs"
}

// Repo downloads and unpacks packages of one architecture from one
// release. The zero Dir means DefaultCacheDir().
type Repo struct {
	Release Release
	Arch    Arch
	Dir     string
	// Log receives what apt and dpkg print; nil discards it.
	Log io.Writer
}

// Package is one unpacked .deb.
type Package struct {
	Name, Version string
	// Arch is the package's Architecture: the repo's arch, or "all".
	Arch string
	// Deb is the downloaded archive, Root the directory it is unpacked in.
	Deb, Root string
	// Depends lists the first alternative of every Depends and
	// Pre-Depends entry, without version constraints.
	Depends []string
}

// NewRepo returns a Repo of rel for a guest or Debian arch name.
func NewRepo(rel Release, arch, dir string, log io.Writer) (*Repo, error) {
	a, err := ArchOf(arch)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		dir = DefaultCacheDir()
	}
	if log == nil {
		log = io.Discard
	}
	if len(rel.Suites) == 0 {
		return nil, errors.New("debpkg: release names no suite")
	}
	return &Repo{Release: rel, Arch: a, Dir: dir, Log: log}, nil
}

// ErrArchive marks failures to reach the Debian archive (apt-get update or
// download), so callers and tests can tell them from bad package names.
var ErrArchive = errors.New("apt cannot reach the Debian archive")

func (r *Repo) run(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	if strings.HasPrefix(name, "apt") {
		conf, err := r.aptConfig()
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "APT_CONFIG="+conf)
	}
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(&stderr, r.Log)
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Show returns the candidate version and dependencies of each named
// package of r's arch, keyed by name. Names apt does not know are missing
// from the map (apt prints why to the log).
func (r *Repo) Show(ctx context.Context, names ...string) (map[string]*Package, error) {
	if len(names) == 0 {
		return map[string]*Package{}, nil
	}
	if err := r.Update(ctx); err != nil {
		return nil, err
	}
	pkgs, err := r.show(ctx, r.Arch.Name, names)
	if err != nil {
		return nil, err
	}
	// An Architecture: all package (configuration, data) answers to
	// name:amd64 on this apt's native arch but not to name:arm64: ask for
	// the rest as name:all.
	var rest []string
	for _, n := range names {
		if _, ok := pkgs[n]; !ok {
			rest = append(rest, n)
		}
	}
	if len(rest) > 0 {
		all, err := r.show(ctx, "all", rest)
		if err != nil {
			return nil, err
		}
		for n, p := range all {
			if p.Arch == "all" {
				pkgs[n] = p
			}
		}
	}
	return pkgs, nil
}

func (r *Repo) show(ctx context.Context, arch string, names []string) (map[string]*Package, error) {
	args := []string{"show", "--no-all-versions"}
	for _, n := range names {
		args = append(args, n+":"+arch)
	}
	// apt-cache exits non-zero when any one name is purely virtual, but
	// still prints the others: judge by what came back.
	out, err := r.run(ctx, "", "apt-cache", args...)
	pkgs := parseShow(out)
	if len(pkgs) == 0 && err != nil && arch == r.Arch.Name {
		return nil, err
	}
	return pkgs, nil
}

// parseShow reads apt-cache show paragraphs.
func parseShow(out []byte) map[string]*Package {
	pkgs := map[string]*Package{}
	var cur *Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			cur = nil
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch k {
		case "Package":
			if _, seen := pkgs[v]; seen {
				cur = nil // a second paragraph of the same name: keep the first
				continue
			}
			cur = &Package{Name: v}
			pkgs[v] = cur
		case "Version":
			if cur != nil {
				cur.Version = v
			}
		case "Architecture":
			if cur != nil {
				cur.Arch = v
			}
		case "Depends", "Pre-Depends":
			if cur != nil {
				cur.Depends = append(cur.Depends, ParseDepends(v)...)
			}
		}
	}
	return pkgs
}

// ParseDepends returns the first alternative of each entry of a Depends
// field, without version constraints or arch qualifiers.
func ParseDepends(field string) []string {
	var out []string
	for _, entry := range strings.Split(field, ",") {
		alt, _, _ := strings.Cut(entry, "|")
		name := strings.Fields(strings.TrimSpace(alt))
		if len(name) == 0 {
			continue
		}
		n, _, _ := strings.Cut(name[0], ":")
		out = append(out, n)
	}
	return out
}

// LibClosure is names plus every library package they depend on,
// recursively. Only packages named lib* (and zlib1g) are followed: shared
// libraries live there, and following the rest would pull in python,
// debconf and the init system for nothing.
func (r *Repo) LibClosure(ctx context.Context, names ...string) ([]string, error) {
	seen := map[string]bool{}
	var order []string
	next := names
	for len(next) > 0 {
		pkgs, err := r.Show(ctx, next...)
		if err != nil {
			return nil, err
		}
		var more []string
		for _, n := range next {
			if seen[n] {
				continue
			}
			seen[n] = true
			p, ok := pkgs[n]
			if !ok {
				if slices.Contains(names, n) {
					return nil, fmt.Errorf("package %s:%s: Debian %s has no such package", n, r.Arch.Name, r.Release.Name())
				}
				continue // virtual or absent for this arch: not a library we can take
			}
			order = append(order, n)
			for _, d := range p.Depends {
				if !seen[d] && isLibPackage(d) {
					more = append(more, d)
				}
			}
		}
		next = dedupe(more)
	}
	sort.Strings(order)
	return order, nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func isLibPackage(n string) bool {
	return strings.HasPrefix(n, "lib") || strings.HasPrefix(n, "zlib")
}

// Fetch downloads (unless cached) and unpacks the candidate version of
// each named package of r's arch. Unpacked trees are kept under
// Dir/<arch>/root/<name>_<version>, so a second call needs no network.
func (r *Repo) Fetch(ctx context.Context, names ...string) ([]*Package, error) {
	base, unlock, err := r.lockCache(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	info, err := r.Show(ctx, names...)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range names {
		p, ok := info[n]
		if !ok {
			return nil, fmt.Errorf("package %s:%s: Debian %s has no such package", n, r.Arch.Name, r.Release.Name())
		}
		p.Root = filepath.Join(base, "root", n+"_"+safeVersion(p.Version))
		p.Deb = filepath.Join(base, "debs", n+"_"+safeVersion(p.Version)+"_"+r.Arch.Name+".deb")
		if _, err := os.Stat(p.Root); err != nil {
			if _, err := os.Stat(p.Deb); err != nil {
				missing = append(missing, n)
			}
		}
	}
	if len(missing) > 0 {
		if err := r.download(ctx, base, info, missing); err != nil {
			return nil, err
		}
	}
	out := make([]*Package, 0, len(names))
	for _, n := range names {
		p := info[n]
		if _, err := os.Stat(p.Root); err != nil {
			if err := r.extract(ctx, p); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// lockCache updates the package lists and takes the cache of r's arch,
// Dir/<arch> (debs/ and root/ made if missing), for the caller alone:
// concurrent image builds must not unpack into the same directory.
func (r *Repo) lockCache(ctx context.Context) (base string, unlock func(), err error) {
	if err := r.Update(ctx); err != nil {
		return "", nil, err
	}
	base = filepath.Join(r.Dir, r.Arch.Name)
	for _, d := range []string{"debs", "root"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return "", nil, fmt.Errorf("create package cache %s: %w", filepath.Join(base, d), err)
		}
	}
	unlock, err = flock.Lock(ctx, filepath.Join(base, "lock"))
	if err != nil {
		return "", nil, err
	}
	return base, unlock, nil
}

// safeVersion makes a version usable in a file name (epochs have a colon).
func safeVersion(v string) string { return strings.ReplaceAll(v, ":", "%3a") }

func (r *Repo) download(ctx context.Context, base string, info map[string]*Package, names []string) error {
	tmp, err := os.MkdirTemp(base, "download-")
	if err != nil {
		return fmt.Errorf("create download dir in %s: %w", base, err)
	}
	defer os.RemoveAll(tmp)
	// apt drops to user _apt for downloads; it needs to write here.
	_ = os.Chmod(tmp, 0o777)
	args := []string{"download", "-q"}
	for _, n := range names {
		arch := r.Arch.Name
		if info[n].Arch == "all" {
			arch = "all"
		}
		args = append(args, n+":"+arch+"="+info[n].Version)
	}
	fmt.Fprintf(r.Log, "debpkg: apt-get download %s (%s)\n", strings.Join(names, " "), r.Arch.Name)
	if _, err := r.run(ctx, tmp, "apt-get", args...); err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	for _, n := range names {
		p := info[n]
		// Architecture: all packages (data, like libtirpc-common) end in
		// _all.deb.
		matches, _ := filepath.Glob(filepath.Join(tmp, n+"_*.deb"))
		if len(matches) != 1 {
			return fmt.Errorf("apt-get download %s:%s: found %d .deb files in %s, want 1", n, r.Arch.Name, len(matches), tmp)
		}
		if err := os.Rename(matches[0], p.Deb); err != nil {
			return fmt.Errorf("move %s to %s: %w", matches[0], p.Deb, err)
		}
	}
	return nil
}

func (r *Repo) extract(ctx context.Context, p *Package) error {
	return atomicfile.Dir(p.Root, func(tmp string) error {
		if _, err := r.run(ctx, "", "dpkg-deb", "-x", p.Deb, tmp); err != nil {
			return fmt.Errorf("unpack %s: %w", p.Deb, err)
		}
		return nil
	})
}
