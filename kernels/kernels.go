package kernels

// This file is over 500 lines because it is one pipeline with one cache
// key: the plan of a variant (fragments, options, sysctls), the key that
// names its build, and the build itself (fetch, configure, check, compile,
// record) must change together, or a cached kernel would stop matching the
// config it claims; the source and the toolchain live in their own files.

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/flock"
)

//go:embed configs/*
var configFS embed.FS

// Arches are the guest architectures: x86_64, and arm64 for the Raspberry
// Pi 4 stand-in (a Cortex-A72 virt guest).
var arches = map[string]struct{ kernelArch, image, cross string }{
	"x86_64": {"x86_64", "arch/x86/boot/bzImage", ""},
	"arm64":  {"arm64", "arch/arm64/boot/Image", "aarch64-linux-gnu-"},
}

func kernelArch(arch string) string {
	if arch == "x86_64" {
		return "x86"
	}
	return arch
}

// Variants lists the kernel variants this package builds, in matrix order.
// "distro" (Debian's prebuilt kernel) is fetched, not built: see Distro.
func Variants() []string { return []string{"stock", "hardened", "aufs"} }

// Options select one kernel build.
type Options struct {
	Variant string // stock, hardened or aufs
	Arch    string // x86_64 or arm64
	// Src is a kernel tarball or tree; empty means DebianSource(), fetched
	// through DebCache from Mirror.
	Src string
	// SrcSHA256 pins Src's checksum (a tarball): another one is refused.
	SrcSHA256 string
	// DebCache is debpkg's package cache; empty means its default.
	DebCache string
	// Mirror is the Debian mirror; empty means debpkg.DefaultMirror.
	Mirror string
	// Toolchain is "host" to compile with the host's gcc; empty means the
	// pinned Debian 12 build root (BuildRoot), the same on every host.
	Toolchain string
	// AufsSrc is a checkout of the aufs-standalone branch for Src's
	// version; the aufs variant needs it.
	AufsSrc string
	// CacheDir holds sources and finished builds; empty means DefaultCacheDir().
	CacheDir string
	Jobs     int
	// Log receives the build's progress and make's output; nil discards.
	Log io.Writer
}

// Kernel is a finished, cached build.
type Kernel struct {
	Image      string            `json:"image"`
	Version    string            `json:"version"`
	Variant    string            `json:"variant"`
	Arch       string            `json:"arch"`
	Cmdline    []string          `json:"cmdline,omitempty"`
	Sysctls    map[string]string `json:"sysctls,omitempty"`
	ConfigPath string            `json:"config"`
	Key        string            `json:"key"`
	// Source is what the kernel was built from, with its checksum.
	Source *Source `json:"source,omitempty"`
	// Toolchain names the compiler: the build root's manifest hash (or
	// "host") and gcc's version line.
	Toolchain string `json:"toolchain,omitempty"`
	// Modules are loaded by the guest init before its job, in order
	// (the distro kernel has 9p, virtio and the rest as modules).
	Modules []Module `json:"modules,omitempty"`
}

// DefaultCacheDir is $NSBENCH_CACHE/kernels, or /var/cache/nsbench/kernels.
func DefaultCacheDir() string {
	if c := os.Getenv("NSBENCH_CACHE"); c != "" {
		return filepath.Join(c, "kernels")
	}
	return "/var/cache/nsbench/kernels"
}

// plan is everything that determines a build's bytes.
type plan struct {
	variant, arch string
	fragments     []fragment
	cmdline       []string
	sysctls       map[string]string
	compiler      string
	plugins       bool
}

type fragment struct {
	name, text string
}

func readEmbedded(name string) (string, bool) {
	data, err := configFS.ReadFile("configs/" + name)
	if err != nil {
		return "", false
	}
	return string(data), true
}

// makePlan picks the fragments and boot settings for a variant and arch.
// srcDir, when given, is asked which spelling of renamed symbols it knows.
func makePlan(variant, arch, compiler string, plugins bool, srcDir string) (*plan, error) {
	if variant == "distro" {
		return nil, errors.New("kernel variant distro is Debian's prebuilt kernel, not a build: use Distro (make kernel KERNEL=distro, make vmtest KERNEL=distro)")
	}
	if !slices.Contains(Variants(), variant) {
		return nil, fmt.Errorf("unknown kernel variant %q: want one of %s (or distro, through vmtest)", variant, strings.Join(Variants(), ", "))
	}
	if _, ok := arches[arch]; !ok {
		return nil, fmt.Errorf("unknown kernel arch %q: want x86_64 or arm64", arch)
	}
	p := &plan{variant: variant, arch: arch, compiler: compiler, plugins: plugins, sysctls: map[string]string{}}
	names := []string{"base.config", "base-" + arch + ".config", variant + ".config", variant + "-" + arch + ".config"}
	if variant == "hardened" && plugins {
		names = append(names, "hardened-plugins.config")
	}
	for _, n := range names {
		if text, ok := readEmbedded(n); ok {
			p.fragments = append(p.fragments, fragment{n, text})
		}
	}
	if variant == "hardened" && arch == "x86_64" {
		// Linux 6.1.192 renamed SPECULATION_MITIGATIONS to CPU_MITIGATIONS;
		// ask the tree which one it has, so the checker does not cry wolf.
		sym := "CONFIG_SPECULATION_MITIGATIONS"
		if srcDir != "" && kconfigHas(srcDir, "arch/x86/Kconfig", "CPU_MITIGATIONS") {
			sym = "CONFIG_CPU_MITIGATIONS"
		}
		p.fragments = append(p.fragments, fragment{"hardened-mitigations.config", sym + "=y\n"})
	}
	if text, ok := readEmbedded(variant + ".cmdline"); ok {
		p.cmdline = strings.Fields(text)
	}
	if text, ok := readEmbedded(variant + ".sysctl"); ok {
		s, err := ParseSysctls(variant+".sysctl", text)
		if err != nil {
			return nil, err
		}
		p.sysctls = s
	}
	return p, nil
}

// VariantOptions returns the configuration options variant's own fragments
// ask for on top of the common base (for hardened: the KSPP list, its GCC
// plugin options and both spellings of the renamed mitigations switch), so
// that a comparison of kernels can list how they differ. Stock asks for
// nothing of its own; distro is not a build and has none either.
func VariantOptions(variant, arch string) (map[string]string, error) {
	if variant == "distro" {
		return map[string]string{}, nil
	}
	p, err := makePlan(variant, arch, "", true, "")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range p.fragments {
		if strings.HasPrefix(f.name, "base") {
			continue
		}
		m, err := ParseConfig(f.name, f.text)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	if _, ok := out["CONFIG_SPECULATION_MITIGATIONS"]; ok {
		out["CONFIG_CPU_MITIGATIONS"] = out["CONFIG_SPECULATION_MITIGATIONS"]
	}
	return out, nil
}

func kconfigHas(srcDir, file, sym string) bool {
	data, err := os.ReadFile(filepath.Join(srcDir, file))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && (f[0] == "config" || f[0] == "menuconfig") && f[1] == sym {
			return true
		}
	}
	return false
}

// ParseSysctls reads "key=value" lines; # comments and blank lines skipped.
func ParseSysctls(name, text string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		// A key is a path under /proc/sys, dots or slashes between names.
		if !ok || k == "" || strings.ContainsAny(k, " \t\v\f\r") {
			return nil, fmt.Errorf("%s:%d: %q is not key=value (key a sysctl name such as kernel.kptr_restrict)", name, i+1, line)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// requested merges the fragments into the options the checker verifies.
func (p *plan) requested() (map[string]string, error) {
	out := map[string]string{}
	for _, f := range p.fragments {
		m, err := ParseConfig(f.name, f.text)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// key hashes every input of the build: source identity, fragments, boot
// settings, arch and compiler. Map and slice order is fixed before hashing.
func (p *plan) key(srcID, aufs string) string {
	h := sha256.New()
	fmt.Fprintf(h, "nsbench-kernel-v1\x00%s\x00%s\x00%s\x00%s\x00%t\x00%s\x00", srcID, aufs, p.variant, p.arch, p.plugins, p.compiler)
	for _, f := range p.fragments {
		fmt.Fprintf(h, "%s\x00%d\x00%s", f.name, len(f.text), f.text)
	}
	fmt.Fprintf(h, "\x00cmdline\x00%s\x00", strings.Join(p.cmdline, " "))
	keys := make([]string, 0, len(p.sysctls))
	for k := range p.sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\x00", k, p.sysctls[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// compilerID is the toolchain's ID and the first line of the C compiler's
// --version, and whether its plugin headers are installed
// (gcc-12-plugin-dev): without them Kconfig silently drops every GCC plugin
// option.
func compilerID(ctx context.Context, tc *Toolchain, cross string) (string, bool, error) {
	gcc := cross + "gcc"
	env := toolEnv(tc)
	out, err := tc.command(ctx, "", "", env, gcc, "--version").Output()
	if err != nil {
		pkg := "gcc"
		if cross != "" {
			pkg = "gcc-aarch64-linux-gnu"
		}
		return "", false, fmt.Errorf("%s --version: %w (apt-get install %s)", gcc, err, pkg)
	}
	id, _, _ := strings.Cut(string(out), "\n")
	dir, err := tc.command(ctx, "", "", env, gcc, "-print-file-name=plugin").Output()
	plugins := false
	if err == nil {
		_, serr := os.Stat(filepath.Join(tc.Root, strings.TrimSpace(string(dir)), "include", "plugin-version.h"))
		plugins = serr == nil
	}
	return tc.ID + " " + strings.TrimSpace(id), plugins, nil
}

// toolEnv is the environment of the toolchain's commands: the host's for
// the host's tools; for the build root only what a build needs, so that
// nothing of the caller's environment reaches make on one host and not
// on another.
func toolEnv(tc *Toolchain) []string {
	if tc.Root == "" {
		return os.Environ()
	}
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/tmp", "TZ=UTC"}
}

// Build returns the cached kernel for opts, building it first when the
// cache has none. Concurrent builds of the same kernel wait for each other.
func Build(ctx context.Context, opts Options) (*Kernel, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	if opts.Arch == "" {
		opts.Arch = "x86_64"
	}
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	// Cheap argument checks first, before anything is unpacked.
	if _, err := makePlan(opts.Variant, opts.Arch, "", false, ""); err != nil {
		return nil, err
	}
	if opts.Variant == "aufs" && opts.AufsSrc == "" {
		return nil, applyAufs(ctx, "", "", "", versionOfSource(opts.Src))
	}
	if opts.Toolchain != "" && opts.Toolchain != "buildroot" && opts.Toolchain != "host" {
		return nil, fmt.Errorf("unknown kernel toolchain %q: want buildroot (the pinned Debian 12 build root, the default) or host", opts.Toolchain)
	}
	a := arches[opts.Arch]
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create kernel cache %s: %w", opts.CacheDir, err)
	}
	srcPath, srcSum, srcName := opts.Src, opts.SrcSHA256, opts.Src
	if srcPath == "" {
		pin := DebianSource()
		repo, err := debpkg.NewRepo(debpkg.Bookworm(opts.Mirror), "amd64", opts.DebCache, log)
		if err != nil {
			return nil, err
		}
		if srcPath, err = FetchSource(ctx, pin, repo); err != nil {
			return nil, err
		}
		srcSum, srcName = pin.TarballSHA256, pin.Package.Name+" "+pin.Package.Version
	}
	src, err := resolveSource(ctx, srcPath, srcSum, opts.CacheDir, log)
	if err != nil {
		return nil, err
	}
	if src.SHA256 != "" && srcSum == "" {
		fmt.Fprintf(log, "kernels: %s has SHA256 %s (set KERNEL_SRC_SHA256 to pin it)\n", srcPath, src.SHA256)
	}
	var tc *Toolchain
	switch opts.Toolchain {
	case "host":
		tc = HostToolchain()
	case "", "buildroot":
		var err error
		if tc, err = BuildRoot(ctx, debpkg.Bookworm(opts.Mirror), opts.CacheDir, log); err != nil {
			return nil, err
		}
	}
	compiler, plugins, err := compilerID(ctx, tc, a.cross)
	if err != nil {
		return nil, err
	}
	p, err := makePlan(opts.Variant, opts.Arch, compiler, plugins, src.Dir)
	if err != nil {
		return nil, err
	}
	aufs := ""
	if opts.Variant == "aufs" {
		if aufs, err = aufsID(opts.AufsSrc); err != nil {
			return nil, err
		}
	}
	key := p.key(src.ID, aufs)
	out := filepath.Join(opts.CacheDir, "builds", key)

	// Another build of the same kernel waits here.
	unlock, err := flock.Lock(ctx, filepath.Join(opts.CacheDir, "locks", key+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if k, err := loadKernel(out); err == nil {
		fmt.Fprintf(log, "kernels: cache hit %s\n", out)
		return k, nil
	}
	fmt.Fprintf(log, "kernels: building %s/%s into %s\n", opts.Variant, opts.Arch, out)
	k, err := build(ctx, opts, p, tc, src, &Source{Name: srcName, SHA256: src.SHA256}, key, out, log)
	if err != nil {
		return nil, err
	}
	return k, nil
}

func versionOfSource(src string) string {
	// linux-source-6.1.tar.xz, linux-6.1.55.tar.xz: the series is enough
	// for naming the aufs branch.
	base := filepath.Base(src)
	for _, f := range strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '_' }) {
		f = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(f, ".xz"), ".gz"), ".tar")
		if len(f) > 0 && f[0] >= '0' && f[0] <= '9' {
			return f
		}
	}
	return "6.1"
}

func build(ctx context.Context, opts Options, p *plan, tc *Toolchain, src *source, srcInfo *Source, key, out string, log io.Writer) (_ *Kernel, err error) {
	a := arches[opts.Arch]
	work := filepath.Join(opts.CacheDir, "work", key)
	if err := os.RemoveAll(work); err != nil {
		return nil, fmt.Errorf("remove %s: %w", work, err)
	}
	defer func() {
		// A failed build keeps its object tree (the error may name its
		// .config) but not the patched copy of the source (aufs): that
		// is a whole kernel tree per failed attempt.
		if err != nil {
			_ = os.RemoveAll(filepath.Join(work, "src"))
		}
	}()
	objDir := filepath.Join(work, "obj")
	if err := os.MkdirAll(objDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", objDir, err)
	}
	srcDir := src.Dir
	if opts.Variant == "aufs" {
		ver, err := treeVersion(ctx, src.Dir)
		if err != nil {
			return nil, err
		}
		srcDir = filepath.Join(work, "src")
		if err := applyAufs(ctx, src.Dir, opts.AufsSrc, srcDir, ver); err != nil {
			return nil, err
		}
	}
	// Reproducible kernels: everything that would otherwise leak the build
	// machine or the clock into the image is pinned.
	env := append(toolEnv(tc),
		"KBUILD_BUILD_TIMESTAMP=1970-01-01 00:00:00 UTC",
		"KBUILD_BUILD_USER=nsbench",
		"KBUILD_BUILD_HOST=nsbench",
		"KBUILD_BUILD_VERSION=1",
	)
	srcIn, objIn := tc.dirs(srcDir, objDir)
	mk := func(targets ...string) error {
		args := []string{"-C", srcIn, "O=" + objIn, "ARCH=" + a.kernelArch, "-j" + strconv.Itoa(opts.Jobs)}
		if a.cross != "" {
			args = append(args, "CROSS_COMPILE="+a.cross)
		}
		// Niced: a kernel build must not starve the tests running beside it.
		cmd := tc.command(ctx, srcDir, objDir, env, append([]string{"nice", "-n", "10", "make"}, append(args, targets...)...)...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("make %s for %s/%s in %s: %w (log above)", strings.Join(targets, " "), p.variant, p.arch, objDir, err)
		}
		return nil
	}
	if err := mk("tinyconfig"); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(objDir, ".config")
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfgPath, err)
	}
	for _, fr := range p.fragments {
		fmt.Fprintf(f, "\n# nsbench fragment %s\n%s", fr.name, fr.text)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", cfgPath, err)
	}
	if p.plugins && p.variant == "hardened" {
		// RANDSTRUCT reads its seed from here; a fixed one keeps the
		// structure layout, and so the image, reproducible.
		seedDir := filepath.Join(objDir, "scripts", "basic")
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", seedDir, err)
		}
		seed := sha256.Sum256([]byte("nsbench randstruct " + key))
		if err := os.WriteFile(filepath.Join(seedDir, "randstruct.seed"), []byte(hex.EncodeToString(seed[:])+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("write randstruct seed: %w", err)
		}
	}
	if err := mk("olddefconfig"); err != nil {
		return nil, err
	}
	req, err := p.requested()
	if err != nil {
		return nil, err
	}
	finalText, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", cfgPath, err)
	}
	final, err := ParseConfig(cfgPath, string(finalText))
	if err != nil {
		return nil, err
	}
	if ms := Check(req, final); len(ms) > 0 {
		explain(srcDir, opts.Arch, ms)
		return nil, &CheckError{Config: cfgPath, Mismatches: ms}
	}
	target := filepath.Base(a.image)
	if err := mk(target); err != nil {
		return nil, err
	}
	relOut, err := tc.command(ctx, srcDir, objDir, env, "make", "-s", "-C", srcIn, "O="+objIn, "ARCH="+a.kernelArch, "kernelrelease").Output()
	if err != nil {
		return nil, fmt.Errorf("make kernelrelease in %s: %w", objDir, err)
	}
	k := &Kernel{
		Image: filepath.Join(out, filepath.Base(a.image)), Version: strings.TrimSpace(string(relOut)),
		Variant: p.variant, Arch: p.arch, Cmdline: p.cmdline, Sysctls: p.sysctls,
		ConfigPath: filepath.Join(out, "config"), Key: key, Source: srcInfo, Toolchain: p.compiler,
	}
	meta, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode kernel metadata: %w", err)
	}
	err = atomicfile.Dir(out, func(tmp string) error {
		for from, to := range map[string]string{filepath.Join(objDir, a.image): filepath.Base(a.image), cfgPath: "config"} {
			if err := copyFile(from, filepath.Join(tmp, to)); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, "kernel.json"), meta, 0o644); err != nil {
			return fmt.Errorf("write kernel metadata: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The object tree is large (hundreds of MB) and not needed once the
	// image is cached.
	_ = os.RemoveAll(work)
	return k, nil
}

func loadKernel(dir string) (*Kernel, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, err
	}
	var k Kernel
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, "kernel.json"), err)
	}
	if _, err := os.Stat(k.Image); err != nil {
		return nil, err
	}
	return &k, nil
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return nil
}
