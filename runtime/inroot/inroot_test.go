package inroot

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// hostile makes a root whose entries point out of it in every way an image
// can: absolute and relative symlinks, ".." and /proc magic links, with a
// host directory (outside the root) as their target.
func hostile(t *testing.T) (*Root, string, string) {
	t.Helper()
	base := t.TempDir()
	rootDir, host := filepath.Join(base, "root"), filepath.Join(base, "host")
	require.NoError(t, os.MkdirAll(rootDir, 0o755))
	require.NoError(t, os.MkdirAll(host, 0o755))
	for link, target := range map[string]string{
		"abs":     host,
		"rel":     "../../../../../../../../" + host,
		"dotdot":  "..",
		"magic":   "/proc/self/cwd",
		"dangle":  "/srv/data",
		"devnull": "/proc/sys/kernel/domainname",
	} {
		require.NoError(t, os.Symlink(target, filepath.Join(rootDir, link)))
	}
	r, err := Open(rootDir)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r, rootDir, host
}

func TestOpenRefusesASymlinkedRoot(t *testing.T) {
	_, rootDir, _ := hostile(t)
	link := filepath.Join(t.TempDir(), "root")
	require.NoError(t, os.Symlink(rootDir, link))
	_, err := Open(link)
	assert.Error(t, err)
}

func TestMkdirAllStaysInside(t *testing.T) {
	r, rootDir, host := hostile(t)
	for _, p := range []string{"/abs/sub", "/rel/sub", "/dotdot/dotdot/sub", "/../../../../sub2", "/dangle/sub"} {
		t.Run(p, func(t *testing.T) {
			f, err := r.MkdirAll(p, 0o755)
			require.NoError(t, err)
			defer f.Close()
			got := realPath(t, f)
			assert.Truef(t, within(got, rootDir), "%s made %s, outside the root", p, got)
		})
	}
	assert.Empty(t, testutil.ListDir(t, host), "nothing made in the host directory")
}

func TestLookupRefusesMagicLinks(t *testing.T) {
	r, _, _ := hostile(t)
	_, err := r.Lookup("/magic")
	assert.Error(t, err, "a /proc magic link is not followed")
}

func TestFilesAndLinksStayInside(t *testing.T) {
	r, rootDir, host := hostile(t)
	f, err := r.MkFile("/abs/file", 0o644)
	require.NoError(t, err)
	assert.True(t, within(realPath(t, f), rootDir))
	f.Close()
	require.NoError(t, r.Symlink("/proc/self/fd", "/abs/fd"))
	_, err = os.Lstat(filepath.Join(rootDir, host, "fd"))
	assert.NoError(t, err, "the link is made where /abs leads inside the root")
	// ReplaceFile removes the image's symlink rather than following it.
	f, err = r.ReplaceFile("/devnull", 0o666)
	require.NoError(t, err)
	f.Close()
	st, err := os.Lstat(filepath.Join(rootDir, "devnull"))
	require.NoError(t, err)
	assert.True(t, st.Mode().IsRegular())
	// Mknod does too (a fifo needs no privilege).
	f, err = r.Mknod("/abs/fifo", unix.S_IFIFO|0o600, 0)
	require.NoError(t, err)
	f.Close()
	assert.Empty(t, testutil.ListDir(t, host), "nothing made in the host directory")
}

func realPath(t *testing.T, f *os.File) string {
	t.Helper()
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	require.NoError(t, err)
	return p
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}
