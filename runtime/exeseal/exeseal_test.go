package exeseal

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sameContent reads f through /proc/self/fd and compares it with the
// running executable.
func sameContent(t *testing.T, f *os.File) {
	t.Helper()
	want, err := os.ReadFile("/proc/self/exe")
	require.NoError(t, err)
	r, err := os.Open("/proc/self/fd/" + itoa(int(f.Fd())))
	require.NoError(t, err)
	defer r.Close()
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "the sealed copy differs from the running executable")
}

func itoa(i int) string { return strconv.Itoa(i) }

// runs executes the sealed copy of this test binary (running no test) and
// checks that it exits 0.
func runs(t *testing.T, f *os.File) {
	t.Helper()
	cmd := exec.Command("/proc/self/fd/3", "-test.run=^$")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "%s", out)
}

func TestMemfdIsSealed(t *testing.T) {
	f, err := memfd()
	require.NoError(t, err)
	defer f.Close()
	s, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	assert.Equal(t, seals, s&seals)
	sameContent(t, f)
	w, err := os.OpenFile("/proc/self/fd/"+itoa(int(f.Fd())), os.O_WRONLY, 0)
	require.NoError(t, err, "a memfd opens for writing; its seal refuses the write itself")
	_, werr := w.Write([]byte("x"))
	w.Close()
	assert.ErrorIs(t, werr, unix.EPERM)
	runs(t, f)
}

func TestOverlayIsReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("an overlayfs in the initial user namespace needs root; unprivileged nsrun uses the memfd")
	}
	f, kind, err := Open(t.TempDir())
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, Overlay, kind)
	var sfs unix.Statfs_t
	require.NoError(t, unix.Fstatfs(int(f.Fd()), &sfs))
	assert.Equal(t, int64(unix.OVERLAYFS_SUPER_MAGIC), sfs.Type)
	assert.NotZero(t, sfs.Flags&unix.ST_RDONLY, "the overlay is read-only")
	var st, host unix.Stat_t
	require.NoError(t, unix.Fstat(int(f.Fd()), &st))
	require.NoError(t, unix.Stat("/proc/self/exe", &host))
	assert.False(t, st.Dev == host.Dev && st.Ino == host.Ino, "the overlay's file is not the host's inode")
	_, err = os.OpenFile("/proc/self/fd/"+itoa(int(f.Fd())), os.O_WRONLY, 0)
	assert.ErrorIs(t, err, unix.EROFS)
	sameContent(t, f)
	runs(t, f)
}

// The cost of each way, per container start (BenchmarkMemfd copies this
// test binary, about the size of nsrun).
func BenchmarkOverlay(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("overlayfs needs root")
	}
	dir := b.TempDir()
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(b, err)
	for i := 0; i < b.N; i++ {
		f, err := overlay(exe, dir)
		require.NoError(b, err)
		f.Close()
	}
}

func BenchmarkMemfd(b *testing.B) {
	for i := 0; i < b.N; i++ {
		f, err := memfd()
		require.NoError(b, err)
		f.Close()
	}
}

func TestUnprivilegedCallerKeepsAnUnwritableBinary(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write any binary; root gets the overlay (TestOverlayIsReadOnly)")
	}
	f, kind, err := Open(t.TempDir())
	require.NoError(t, err)
	defer f.Close()
	if unix.Access("/proc/self/exe", unix.W_OK) == nil {
		assert.Equal(t, Memfd, kind, "a binary this user can write is copied and sealed")
		return
	}
	assert.Equal(t, Unwritable, kind)
	runs(t, f)
}
