// Package gobuild is the one place that knows how this module's commands are
// built as files other programs run: nsrun, nsnet, the conformance probe,
// nsbench-cpu, and the VM guest's init and nsbench. Only cmd/ and TestMain
// functions call it (libraries take binary paths as arguments), and each of
// them resolves a binary the same way (Resolve): a path given on the command
// line, then the command's environment variable, then a build from this
// tree.
//
// Every binary is static: it runs in busybox root filesystems and in VM
// guests that carry no C library for it. A command marked CGO is linked
// statically with the C toolchain of the target arch, so a C constructor
// (nsrun's, which must run before the Go runtime starts threads) changes one
// line here and nothing in the callers.
package gobuild

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nsbench/nsbench/internal/buildroot"
)

// Command is one of this module's programs that other programs need as a
// file.
type Command struct {
	// Name is the binary's file name.
	Name string
	// Pkg is the main package, relative to the module root.
	Pkg string
	// Env is the environment variable that names a prebuilt binary (for
	// hosts without a Go toolchain, and for the VM guests).
	Env string
	// CGO builds with cgo, linked statically with the target arch's C
	// compiler (gcc, or aarch64-linux-gnu-gcc for arm64).
	CGO bool
	// Tags are build tags.
	Tags string
}

// Commands lists the programs Build knows.
func Commands() []Command {
	nsrun := Command{Name: "nsrun", Pkg: "./cmd/nsrun", Env: "NSBENCH_NSRUN", CGO: true}
	// The deliberately naive nsrun the conformance self-test runs to show
	// that the hostile-image invariants can fail: built like nsrun, without
	// its defenses (files tagged nsrun_naive). Never a runtime for use.
	naive := nsrun
	naive.Name, naive.Env, naive.Tags = "nsrun-naive", "NSBENCH_NSRUN_NAIVE", "nsrun_naive"
	return []Command{
		nsrun, naive,
		{Name: "nsnet", Pkg: "./cmd/nsnet", Env: "NSBENCH_NSNET"},
		{Name: "nsprobe", Pkg: "./cmd/nsprobe", Env: "NSBENCH_PROBE"},
		{Name: "nsbench-cpu", Pkg: "./cmd/nsbench-cpu", Env: "NSBENCH_CPU"},
		{Name: "nsinit", Pkg: "./cmd/nsinit", Env: "NSBENCH_NSINIT"},
		{Name: "nsbench", Pkg: "./cmd/nsbench", Env: "NSBENCH_NSBENCH"},
	}
}

// Lookup returns the command of that name.
func Lookup(name string) (Command, error) {
	var names []string
	for _, c := range Commands() {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return Command{}, fmt.Errorf("gobuild: unknown command %q: want one of %s", name, strings.Join(names, ", "))
}

// ModuleRoot returns the directory that holds this module's go.mod, found by
// asking the go tool from the current directory.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (is the Go toolchain on PATH?)", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside the nsbench module (run from the repository)")
	}
	return filepath.Dir(mod), nil
}

// GOARCH returns Go's name for a guest arch (x86_64, arm64) or a GOARCH;
// "" is the host's.
func GOARCH(arch string) (string, error) {
	switch arch {
	case "":
		return runtime.GOARCH, nil
	case "x86_64", "amd64":
		return "amd64", nil
	case "arm64", "aarch64":
		return "arm64", nil
	}
	return "", fmt.Errorf("unknown arch %q: want x86_64 or arm64", arch)
}

// crossCC is the C compiler cgo uses for goarch when it is not the host's,
// with the Debian packages of it and of the static C library a static
// link needs, and where that library is.
func crossCC(goarch string) (cc, pkgs, libc string, err error) {
	if goarch == runtime.GOARCH {
		return "", "", "", nil
	}
	switch goarch {
	case "arm64":
		return "aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu libc6-dev-arm64-cross", "/usr/aarch64-linux-gnu/lib/libc.a", nil
	case "amd64":
		return "x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu libc6-dev-amd64-cross", "/usr/x86_64-linux-gnu/lib/libc.a", nil
	}
	return "", "", "", fmt.Errorf("no C cross compiler known for GOARCH %s", goarch)
}

// ErrNoCrossCC is a cgo cross build whose C toolchain is not installed.
var ErrNoCrossCC = errors.New("no C cross toolchain")

// buildEnv is the environment of a build for goarch, cgo or not.
func buildEnv(goarch string, cgo bool) ([]string, error) {
	env := append(os.Environ(), "GOARCH="+goarch)
	if !cgo {
		return append(env, "CGO_ENABLED=0"), nil
	}
	env = append(env, "CGO_ENABLED=1")
	cc, pkgs, libc, err := crossCC(goarch)
	if err != nil {
		return nil, err
	}
	if cc != "" {
		_, err := exec.LookPath(cc)
		if err == nil {
			_, err = os.Stat(libc)
		}
		if err != nil {
			return nil, fmt.Errorf("cgo build for %s: %w: %v (apt-get install %s)", goarch, ErrNoCrossCC, err, pkgs)
		}
		env = append(env, "CC="+cc)
	}
	return env, nil
}

func goRun(ctx context.Context, env []string, args ...string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = env
	return runGo(cmd, args)
}

func runGo(cmd *exec.Cmd, args []string) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Builder builds the commands: with the host's go, C compiler and
// environment (the zero Builder, what the package functions use), or in a
// pinned build root (Pinned), where the binaries do not depend on the host.
type Builder struct {
	// root is the pinned build root; nil means the host's tools.
	root *buildroot.Root
	// goCache is the build root's own go build cache.
	goCache string
}

// Build builds the named command statically for arch (x86_64, arm64, a
// GOARCH, or "" for the host's) into outDir with the host's tools and
// returns the binary's path. The go build cache makes repeated calls cheap.
func Build(ctx context.Context, name, outDir, arch string) (string, error) {
	return Builder{}.Build(ctx, name, outDir, arch)
}

// Build builds the named command statically for arch into outDir and
// returns the binary's path.
func (b Builder) Build(ctx context.Context, name, outDir, arch string) (string, error) {
	c, err := Lookup(name)
	if err != nil {
		return "", err
	}
	return b.build(ctx, c, outDir, arch)
}

// buildArgs are go build's arguments for c, without -o and the package.
// VCS stamping is off: a binary depends on its source alone, not on
// whether git is installed or the checkout has stray files (a host whose
// go env file says -buildvcs=false and one whose does not built different
// binaries from one commit).
func buildArgs(c Command) []string {
	ldflags := "-s -w"
	if c.CGO {
		ldflags += " -linkmode external -extldflags -static"
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=" + ldflags}
	tags := c.Tags
	if c.CGO {
		// Go's resolver and user lookups: glibc's would need its shared
		// NSS libraries at run time even in a static binary.
		tags = strings.TrimPrefix(tags+",netgo,osusergo", ",")
	}
	if tags != "" {
		args = append(args, "-tags="+tags)
	}
	return args
}

func (b Builder) build(ctx context.Context, c Command, outDir, arch string) (string, error) {
	goarch, err := GOARCH(arch)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", outDir, err)
	}
	out := filepath.Join(outDir, c.Name)
	if b.root != nil {
		if err := b.goInRoot(ctx, goarch, c.CGO, outDir, append(buildArgs(c), "-o", pinnedOut+"/"+c.Name, c.Pkg)...); err != nil {
			return "", err
		}
		return out, nil
	}
	env, err := buildEnv(goarch, c.CGO)
	if err != nil {
		return "", err
	}
	if err := goRun(ctx, env, append(buildArgs(c), "-o", out, c.Pkg)...); err != nil {
		return "", err
	}
	return out, nil
}

// TestBinary compiles pkg's tests (go test -c) statically for arch into out
// with the host's tools: the conformance suite the VM guests run.
func TestBinary(ctx context.Context, pkg, out, arch string) error {
	return Builder{}.TestBinary(ctx, pkg, out, arch)
}

// TestBinary compiles pkg's tests (go test -c, without cgo) for arch into
// out.
func (b Builder) TestBinary(ctx context.Context, pkg, out, arch string) error {
	goarch, err := GOARCH(arch)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(out), err)
	}
	args := []string{"test", "-c", "-trimpath", "-buildvcs=false"}
	if b.root != nil {
		return b.goInRoot(ctx, goarch, false, filepath.Dir(out), append(args, "-o", pinnedOut+"/"+filepath.Base(out), pkg)...)
	}
	env, err := buildEnv(goarch, false)
	if err != nil {
		return err
	}
	return goRun(ctx, env, append(args, "-o", out, pkg)...)
}

// Resolve returns the binary of the named command for arch: given (a
// command-line flag's value) when set, else the path in the command's
// environment variable (read through getenv) when set and built for arch,
// else a build into outDir. A given or named binary must exist, be
// executable and be built for arch.
func Resolve(ctx context.Context, name, given string, getenv func(string) string, outDir, arch string) (string, error) {
	return Builder{}.Resolve(ctx, name, given, getenv, outDir, arch)
}

// Resolve is the package's Resolve with b building.
func (b Builder) Resolve(ctx context.Context, name, given string, getenv func(string) string, outDir, arch string) (string, error) {
	c, err := Lookup(name)
	if err != nil {
		return "", err
	}
	goarch, err := GOARCH(arch)
	if err != nil {
		return "", err
	}
	if given != "" {
		if err := Check(given, goarch); err != nil {
			return "", fmt.Errorf("%s binary given: %w", name, err)
		}
		return given, nil
	}
	if getenv != nil {
		if p := getenv(c.Env); p != "" {
			if err := Check(p, goarch); err != nil {
				return "", fmt.Errorf("%s=%s: %w (unset it to build %s from this tree)", c.Env, p, err, name)
			}
			return p, nil
		}
	}
	return b.build(ctx, c, outDir, goarch)
}

// elfMachine is the ELF machine of goarch's binaries.
func elfMachine(goarch string) (elf.Machine, bool) {
	switch goarch {
	case "amd64":
		return elf.EM_X86_64, true
	case "arm64":
		return elf.EM_AARCH64, true
	}
	return 0, false
}

// Check reports why path is not an executable ELF file for goarch, or nil.
func Check(path, goarch string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not an ELF binary: %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachine(goarch); ok && f.Machine != want {
		return fmt.Errorf("%s is built for %s, not %s", path, f.Machine, want)
	}
	return nil
}

// ResolveAll resolves several commands for arch at once: names maps a key
// of the caller's (a guest path, say) to a command name, and the result
// maps the same keys to binaries. There are no flags here: getenv, then a
// build.
func ResolveAll(ctx context.Context, names map[string]string, getenv func(string) string, outDir, arch string) (map[string]string, error) {
	return Builder{}.ResolveAll(ctx, names, getenv, outDir, arch)
}

// ResolveAll is the package's ResolveAll with b building.
func (b Builder) ResolveAll(ctx context.Context, names map[string]string, getenv func(string) string, outDir, arch string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for key, name := range names {
		p, err := b.Resolve(ctx, name, "", getenv, outDir, arch)
		if err != nil {
			return nil, err
		}
		out[key] = p
	}
	return out, nil
}

// BuildRace builds the named command for this host with the race detector
// into outDir: the soak runs the runtime's and the hook's concurrent code
// under it. Unlike Build's, the binary is linked dynamically (the race
// runtime needs the C library); it runs only on this host, as the
// container's init before pivot_root too, where the host's libraries are.
func BuildRace(ctx context.Context, name, outDir string) (string, error) {
	c, err := Lookup(name)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", outDir, err)
	}
	out := filepath.Join(outDir, c.Name)
	env := append(os.Environ(), "CGO_ENABLED=1")
	if err := goRun(ctx, env, "build", "-race", "-trimpath", "-tags=netgo,osusergo", "-o", out, c.Pkg); err != nil {
		return "", err
	}
	return out, nil
}
