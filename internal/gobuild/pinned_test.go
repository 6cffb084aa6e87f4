package gobuild

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/buildroot"
	"github.com/nsbench/nsbench/internal/debpkg"
)

// pinnedBuilder is the pinned Builder of the machine's cache. Making the
// root takes minutes (mmdebstrap), so without a cached one the test runs
// only with NSBENCH_KERNEL_BUILD=1 (make vmtest makes one).
func pinnedBuilder(t *testing.T) Builder {
	t.Helper()
	if testing.Short() {
		t.Skip("builds binaries: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("the pinned root is entered with chroot in a mount namespace: needs root")
	}
	cache := "/var/cache/nsbench"
	if c := os.Getenv("NSBENCH_CACHE"); c != "" {
		cache = c
	}
	cache = filepath.Join(cache, "gobuild")
	rel := debpkg.Bookworm("")
	if _, err := buildroot.Cached(CgoRootSpec(runtime.GOARCH), rel, cache); err != nil && os.Getenv("NSBENCH_KERNEL_BUILD") != "1" {
		t.Skipf("no cached cgo build root under %s (make vmtest makes one; or set NSBENCH_KERNEL_BUILD=1): %v", cache, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	b, err := Pinned(ctx, rel, cache, nil)
	require.NoError(t, err)
	return b
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	da, err := os.ReadFile(a)
	require.NoError(t, err)
	db, err := os.ReadFile(b)
	require.NoError(t, err)
	return bytes.Equal(da, db)
}

// A pinned cgo build takes nothing from the host but the Go toolchain and
// the source: the caller's C flags and GOAMD64, which change a build with
// the host's tools, leave its bytes alone; it links Debian 12's static
// glibc and start files, whatever the host runs.
func TestPinnedIgnoresTheHost(t *testing.T) {
	b := pinnedBuilder(t)
	ctx := context.Background()
	dir := t.TempDir()
	withC := throwaway(t, "package main\n/*\n__attribute__((constructor)) static void early(void) {}\n*/\nimport \"C\"\nfunc main() {}\n", true)
	build := func(b Builder, out string) string {
		t.Helper()
		bin, err := b.build(ctx, withC, filepath.Join(dir, out), "")
		require.NoError(t, err)
		requireStatic(t, bin, map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH])
		return bin
	}
	pinned, host := build(b, "pinned"), build(Builder{}, "host")
	t.Setenv("CGO_CFLAGS", "-O0 -fno-inline")
	t.Setenv("GOAMD64", "v3")
	pinnedEnv, hostEnv := build(b, "pinned-env"), build(Builder{}, "host-env")
	assert.False(t, sameFile(t, host, hostEnv), "the caller's environment changes a build with the host's tools (else this test shows nothing)")
	assert.True(t, sameFile(t, pinned, pinnedEnv), "a pinned build ignores the caller's environment")

	f, err := elf.Open(pinned)
	require.NoError(t, err)
	defer f.Close()
	sec := f.Section(".comment")
	require.NotNil(t, sec, "%s has no .comment section", pinned)
	comment, err := sec.Data()
	require.NoError(t, err)
	assert.Contains(t, string(comment), "GCC: (Debian 12.2.0-14", "linked with Debian 12's gcc 12.2 and its glibc")
}

// The other guest arch is cross-built in the same root: no host package
// needed.
func TestPinnedCross(t *testing.T) {
	b := pinnedBuilder(t)
	other, machine := "arm64", elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other, machine = "x86_64", elf.EM_X86_64
	}
	withC := throwaway(t, "package main\n/*\n__attribute__((constructor)) static void early(void) {}\n*/\nimport \"C\"\nfunc main() {}\n", true)
	bin, err := b.build(context.Background(), withC, t.TempDir(), other)
	require.NoError(t, err)
	requireStatic(t, bin, machine)
}

func TestForGuest(t *testing.T) {
	b, err := ForGuest(context.Background(), "host", debpkg.Bookworm(""), t.TempDir(), nil)
	require.NoError(t, err)
	assert.Nil(t, b.Root(), "host: the host's tools")
	_, err = ForGuest(context.Background(), "clang", debpkg.Bookworm(""), t.TempDir(), nil)
	assert.ErrorContains(t, err, `unknown toolchain "clang"`)
}
