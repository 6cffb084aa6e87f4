package gobuild

import (
	"context"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	assert.NoError(t, err)
}

// throwaway writes a main package inside the module (so the test does not
// depend on which commands exist) and returns it as a Command.
func throwaway(t *testing.T, src string, cgo bool) Command {
	t.Helper()
	root, err := ModuleRoot()
	require.NoError(t, err)
	pkgDir, err := os.MkdirTemp(root, "gobuild-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(pkgDir) })
	require.NoError(t, os.WriteFile(filepath.Join(pkgDir, "main.go"), []byte(src), 0o644))
	return Command{Name: filepath.Base(pkgDir), Pkg: "./" + filepath.Base(pkgDir), CGO: cgo}
}

func requireStatic(t *testing.T, bin string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s has an ELF interpreter: not static", bin)
	}
	assert.Equal(t, machine, f.Machine)
}

func TestBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries: skipped in -short mode")
	}
	dir := t.TempDir()
	pure := throwaway(t, "package main\nfunc main() {}\n", false)
	// A C constructor, as nsrun's namespace joining needs one: it must end
	// up in a static binary too.
	withC := throwaway(t, "package main\n/*\n__attribute__((constructor)) static void early(void) {}\n*/\nimport \"C\"\nfunc main() {}\n", true)
	for _, tc := range []struct {
		c       Command
		arch    string
		machine elf.Machine
	}{
		{pure, "x86_64", elf.EM_X86_64},
		{pure, "arm64", elf.EM_AARCH64},
		{withC, "x86_64", elf.EM_X86_64},
		{withC, "arm64", elf.EM_AARCH64},
	} {
		t.Run(tc.c.Name+"-"+tc.arch, func(t *testing.T) {
			bin, err := Builder{}.build(context.Background(), tc.c, filepath.Join(dir, tc.c.Name+tc.arch), tc.arch)
			if errors.Is(err, ErrNoCrossCC) {
				t.Skip(err)
			}
			require.NoError(t, err)
			requireStatic(t, bin, tc.machine)
		})
	}
}

func TestBuildBadInput(t *testing.T) {
	_, err := Build(context.Background(), "nosuchcmd", t.TempDir(), "")
	assert.ErrorContains(t, err, `unknown command "nosuchcmd"`)
	_, err = Build(context.Background(), "nsrun", t.TempDir(), "sparc")
	assert.ErrorContains(t, err, `unknown arch "sparc"`)
	_, err = Builder{}.build(context.Background(), Command{Name: "x", Pkg: "./does/not/exist"}, t.TempDir(), "")
	assert.ErrorContains(t, err, "go build")
	assert.ErrorContains(t, err, "./does/not/exist")
}

// Resolve: the flag wins over the environment, the environment over a
// build, and a binary of the wrong arch is refused wherever it comes from.
func TestResolveOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries: skipped in -short mode")
	}
	ctx := context.Background()
	dir := t.TempDir()
	amd, err := Build(ctx, "nsbench-cpu", filepath.Join(dir, "amd64"), "x86_64")
	require.NoError(t, err)
	arm, err := Build(ctx, "nsbench-cpu", filepath.Join(dir, "arm64"), "arm64")
	require.NoError(t, err)
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "NSBENCH_CPU" {
				return v
			}
			return ""
		}
	}
	p, err := Resolve(ctx, "nsbench-cpu", amd, env(arm), filepath.Join(dir, "out"), "x86_64")
	require.NoError(t, err)
	assert.Equal(t, amd, p, "the flag first")
	p, err = Resolve(ctx, "nsbench-cpu", "", env(amd), filepath.Join(dir, "out"), "x86_64")
	require.NoError(t, err)
	assert.Equal(t, amd, p, "then the environment")
	p, err = Resolve(ctx, "nsbench-cpu", "", env(""), filepath.Join(dir, "out"), "arm64")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "out", "nsbench-cpu"), p, "then a build")
	requireStatic(t, p, elf.EM_AARCH64)

	_, err = Resolve(ctx, "nsbench-cpu", arm, nil, dir, "x86_64")
	assert.ErrorContains(t, err, "not EM_X86_64")
	_, err = Resolve(ctx, "nsbench-cpu", "", env(amd), dir, "arm64")
	assert.ErrorContains(t, err, "NSBENCH_CPU="+amd)
	_, err = Resolve(ctx, "nsbench-cpu", filepath.Join(dir, "missing"), nil, dir, "")
	assert.ErrorContains(t, err, "no such file")
	_, err = Resolve(ctx, "nsbench-cpu", "/etc/passwd", nil, dir, "")
	assert.ErrorContains(t, err, "not an executable file")
}

// TestNsrunIsCgoAndStatic: nsrun carries a C constructor (runtime/nsenter)
// and still links statically, for both guest archs.
func TestNsrunIsCgoAndStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries: skipped in -short mode")
	}
	c, err := Lookup("nsrun")
	require.NoError(t, err)
	require.True(t, c.CGO, "nsrun needs cgo for runtime/nsenter")
	dir := t.TempDir()
	for arch, machine := range map[string]elf.Machine{"x86_64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		t.Run(arch, func(t *testing.T) {
			bin, err := Build(context.Background(), "nsrun", filepath.Join(dir, arch), arch)
			if errors.Is(err, ErrNoCrossCC) {
				t.Skip(err)
			}
			require.NoError(t, err)
			requireStatic(t, bin, machine)
		})
	}
}
