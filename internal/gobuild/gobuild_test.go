package gobuild

import (
	"context"
	"debug/elf"
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

func TestStaticIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary: skipped in -short mode")
	}
	dir := t.TempDir()
	root, err := ModuleRoot()
	require.NoError(t, err)
	// A throwaway main package inside the module, so the test does not
	// depend on which commands exist yet.
	pkgDir, err := os.MkdirTemp(root, "gobuild-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(pkgDir) })
	require.NoError(t, os.WriteFile(filepath.Join(pkgDir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644))

	for _, arch := range []string{"", "arm64"} {
		bin, err := Static(context.Background(), "./"+filepath.Base(pkgDir), filepath.Join(dir, "out"+arch), arch)
		require.NoError(t, err, "arch %q", arch)
		f, err := elf.Open(bin)
		require.NoError(t, err)
		for _, p := range f.Progs {
			assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s has an ELF interpreter: not static", bin)
		}
		if arch == "arm64" {
			assert.Equal(t, elf.EM_AARCH64, f.Machine)
		}
		f.Close()
	}
}

func TestStaticBadPackage(t *testing.T) {
	_, err := Static(context.Background(), "./does/not/exist", t.TempDir(), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "go build ./does/not/exist")
}
