package kernels

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/debpkg"
)

func TestBuildRootKey(t *testing.T) {
	a := buildRootKey(debpkg.Bookworm(""))
	assert.Len(t, a, 16)
	assert.Equal(t, a, buildRootKey(debpkg.Bookworm("http://deb.debian.org/")), "the same sources, the same root")
	assert.NotEqual(t, a, buildRootKey(debpkg.Bookworm("http://mirror.example")), "another mirror is another root")
}

// The build root runs the pinned gcc and sees the trees at /build/src and
// /build/obj; what a command leaves in /tmp stays out of the shared root.
// It needs a build root: made on first use (minutes), so it runs only when
// one is cached or NSBENCH_KERNEL_BUILD=1.
func TestBuildRootCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the build root is entered with chroot in a mount namespace: needs root")
	}
	rel := debpkg.Bookworm("")
	dir := filepath.Join(DefaultCacheDir(), "buildroot", buildRootKey(rel))
	if _, err := os.Stat(filepath.Join(dir, "nsbench.manifest")); err != nil && os.Getenv("NSBENCH_KERNEL_BUILD") != "1" {
		t.Skipf("no cached build root %s (make kernel makes one; or set NSBENCH_KERNEL_BUILD=1)", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tc, err := BuildRoot(ctx, rel, DefaultCacheDir(), nil)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(tc.ID, "debian12-buildroot-"), tc.ID)
	assert.Contains(t, tc.Manifest, "gcc-12="+BuildRootPins()["gcc-12"])

	src, obj := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "in"), []byte("hello\n"), 0o644))
	marker := "nsbench-test-" + filepath.Base(obj)
	script := "cat /build/src/in > /build/obj/out && touch /tmp/" + marker + " && gcc --version | head -1"
	out, err := tc.command(ctx, src, obj, toolEnv(tc), "/bin/sh", "-c", script).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "12.2.0", "Debian 12's gcc, whatever the host has")
	got, err := os.ReadFile(filepath.Join(obj, "out"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(got))
	_, err = os.Stat(filepath.Join(tc.Root, "tmp", marker))
	assert.True(t, os.IsNotExist(err), "the build's /tmp is its own: %v", err)
	_, err = os.Stat(filepath.Join(tc.Root, "build", "obj", "out"))
	assert.True(t, os.IsNotExist(err), "the trees are bound, not copied into the root: %v", err)
}
