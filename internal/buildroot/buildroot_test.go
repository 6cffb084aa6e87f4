package buildroot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/debpkg"
)

func TestKey(t *testing.T) {
	spec := Spec{Purpose: "test", Packages: []string{"gcc", "make"}, Pins: map[string]string{"gcc-12": "1", "binutils": "2"}}
	rel := debpkg.Bookworm("")
	k := spec.Key(rel)
	assert.Len(t, k, 16)
	for _, tc := range []struct {
		name string
		same bool
		spec Spec
		rel  debpkg.Release
	}{
		{"same spec", true, spec, rel},
		{"the mirror's spelling", true, spec, debpkg.Bookworm("http://deb.debian.org/")},
		{"mount points are not part of it", true, Spec{Purpose: "other", Packages: spec.Packages, Pins: spec.Pins, MountPoints: []string{"/x"}}, rel},
		{"pins in another order", true, Spec{Packages: spec.Packages, Pins: map[string]string{"binutils": "2", "gcc-12": "1"}}, rel},
		{"another mirror", false, spec, debpkg.Bookworm("http://mirror.example")},
		{"another package", false, Spec{Packages: []string{"gcc", "make", "bc"}, Pins: spec.Pins}, rel},
		{"another pin", false, Spec{Packages: spec.Packages, Pins: map[string]string{"gcc-12": "1", "binutils": "3"}}, rel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.same {
				assert.Equal(t, k, tc.spec.Key(tc.rel))
			} else {
				assert.NotEqual(t, k, tc.spec.Key(tc.rel))
			}
		})
	}
}

// busyboxRoot is the smallest root Command can enter: a static busybox as
// /bin/sh, the directories Command mounts on, and the mount points.
func busyboxRoot(t *testing.T, mountPoints ...string) *Root {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skipf("a static busybox makes the test's root: %v (apt-get install busybox-static)", err)
	}
	dir := t.TempDir()
	for _, d := range append([]string{"bin", "proc", "tmp"}, mountPoints...) {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	data, err := os.ReadFile(bb)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755))
	require.NoError(t, os.Symlink("busybox", filepath.Join(dir, "bin", "sh")))
	return &Root{Dir: dir}
}

// Command: binds are seen at their targets (read-only when asked), /tmp is
// the command's own, and nothing of the binds is copied into the root.
func TestCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Command enters the root with chroot in a mount namespace: needs root")
	}
	r := busyboxRoot(t, "/in", "/out")
	in, out := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(in, "f"), []byte("hello\n"), 0o644))
	marker := "buildroot-test-" + filepath.Base(out)
	env := []string{"PATH=/bin"}
	ctx := context.Background()
	binds := []Bind{{Source: in, Target: "/in", ReadOnly: true}, {Source: out, Target: "/out"}}
	script := "cat /in/f > /out/g && touch /tmp/" + marker + " && echo env=$HOME"
	got, err := r.Command(ctx, binds, env, "/bin/busybox", "sh", "-c", script).CombinedOutput()
	require.NoError(t, err, "%s", got)
	assert.Equal(t, "env=\n", string(got), "only the given environment")
	data, err := os.ReadFile(filepath.Join(out, "g"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(data))
	_, err = os.Stat(filepath.Join(r.Dir, "tmp", marker))
	assert.True(t, os.IsNotExist(err), "the command's /tmp is its own: %v", err)
	_, err = os.Stat(filepath.Join(r.Dir, "out", "g"))
	assert.True(t, os.IsNotExist(err), "bound, not copied into the root: %v", err)

	got, err = r.Command(ctx, binds, env, "/bin/busybox", "sh", "-c", "echo x > /in/f").CombinedOutput()
	require.Error(t, err, "a read-only bind refuses writes")
	assert.Contains(t, strings.ToLower(string(got)), "read-only")
	data, err = os.ReadFile(filepath.Join(in, "f"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(data))
}

func TestEnsureNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("checks the message a user who is not root gets")
	}
	_, err := Ensure(context.Background(), Spec{Purpose: "test"}, debpkg.Bookworm(""), t.TempDir(), nil)
	assert.ErrorContains(t, err, "needs root")
}
