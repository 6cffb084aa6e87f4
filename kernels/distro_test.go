package kernels

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/testutil"
)

func TestModName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/fs/9p/9p.ko":                          "9p",
		"kernel/net/9p/9pnet_virtio.ko.xz":            "9pnet_virtio",
		"kernel/drivers/char/hw_random/virtio-rng.ko": "virtio_rng",
		"kernel/fs/overlayfs/overlay.ko.zst":          "overlay",
		"kernel/net/bridge/bridge.ko.gz":              "bridge",
	} {
		assert.Equal(t, want, modName(in), in)
	}
}

func TestDistroUnknownArch(t *testing.T) {
	_, err := Distro(context.Background(), DistroOptions{Arch: "riscv64"})
	assert.ErrorContains(t, err, `distro kernel: unknown arch "riscv64"`)
}

// distroKernel fetches Debian's amd64 kernel, or skips with the reason.
func distroKernel(t *testing.T) *Kernel {
	t.Helper()
	if testing.Short() {
		t.Skip("downloads Debian's kernel package (~70 MB once): skipped in -short mode")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("apt-get not found: not a Debian host")
	}
	testutil.NeedRoot(t, "the package cache under /var/cache/nsbench")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	k, err := Distro(ctx, DistroOptions{Arch: "x86_64"})
	if errors.Is(err, debpkg.ErrArchive) {
		t.Skipf("apt cannot reach the Debian archive: %v", err)
	}
	require.NoError(t, err)
	return k
}

func TestDistroModulesInDependencyOrder(t *testing.T) {
	k := distroKernel(t)
	assert.Equal(t, "distro", k.Variant)
	assert.FileExists(t, k.Image)
	assert.Contains(t, filepath.Base(k.Image), "vmlinuz-")
	pos := map[string]int{}
	for i, m := range k.Modules {
		pos[m.Name] = i
		assert.FileExists(t, m.Path)
	}
	for _, w := range []string{"9p", "9pnet", "9pnet_virtio", "virtio_pci", "veth", "bridge", "overlay"} {
		require.Contains(t, pos, w, "Debian's amd64 kernel has %s as a module", w)
	}
	// Every module comes after everything its modinfo names.
	for _, m := range k.Modules {
		deps, err := modDepends(m.Path)
		require.NoError(t, err)
		for _, d := range deps {
			d = strings.ReplaceAll(d, "-", "_")
			require.Contains(t, pos, d, "%s needs %s", m.Name, d)
			assert.Less(t, pos[d], pos[m.Name], "%s needs %s first", m.Name, d)
		}
	}
	assert.Less(t, pos["9pnet"], pos["9pnet_virtio"])
	assert.Less(t, pos["9pnet"], pos["9p"])
}

func TestModuleClosureErrorsAndCompression(t *testing.T) {
	k := distroKernel(t)
	// The package tree: boot/vmlinuz-<release> and lib/modules/<release>.
	root := filepath.Dir(filepath.Dir(k.Image))
	modDir := filepath.Join(root, "lib", "modules", strings.TrimPrefix(filepath.Base(k.Image), "vmlinuz-"))
	_, err := ModuleClosure(modDir, []string{"no_such_module"}, t.TempDir())
	assert.ErrorContains(t, err, "module no_such_module is neither in")

	// A gzip-compressed copy of a module is unpacked and read like the plain one.
	var veth string
	for _, m := range k.Modules {
		if m.Name == "veth" {
			veth = m.Path
		}
	}
	require.NotEmpty(t, veth)
	data, err := os.ReadFile(veth)
	require.NoError(t, err)
	gzPath := filepath.Join(t.TempDir(), "veth.ko.gz")
	f, err := os.Create(gzPath)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	_, err = zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
	out := t.TempDir()
	plain, err := uncompressed(gzPath, out)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(out, "veth.ko"), plain)
	got, err := os.ReadFile(plain)
	require.NoError(t, err)
	assert.Equal(t, data, got)
}
