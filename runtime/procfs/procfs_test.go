package procfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFDPath(t *testing.T) {
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer f.Close()
	p, err := FDPath(f)
	require.NoError(t, err)
	assert.Equal(t, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), p)
	target, err := os.Readlink(p)
	require.NoError(t, err)
	assert.Equal(t, os.DevNull, target)
}

func TestCheckRootRefusesOtherFilesystems(t *testing.T) {
	assert.ErrorContains(t, checkRoot(t.TempDir()), "is not procfs")
	assert.ErrorContains(t, checkRoot("/proc/sys"), "not the root of a procfs mount")
	link := filepath.Join(t.TempDir(), "proc")
	require.NoError(t, os.Symlink("/proc", link))
	assert.Error(t, checkRoot(link), "a symlink to /proc is not /proc")
	assert.NoError(t, checkRoot("/proc"))
}

func TestWriteFile(t *testing.T) {
	// Writing the current value back changes nothing and is allowed to
	// every user.
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	require.NoError(t, err)
	require.NoError(t, WriteFile("/proc/self/oom_score_adj", []byte(strings.TrimSpace(string(cur)))))

	for _, bad := range []string{filepath.Join(t.TempDir(), "oom_score_adj"), "/proc", "/etc/hostname"} {
		assert.ErrorContains(t, WriteFile(bad, []byte("500")), "not a file under /proc", bad)
	}
	// A symlink under /proc is not followed: /proc/self/cwd leads out of
	// procfs to wherever the test runs.
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x"), []byte("0\n"), 0o644))
	assert.Error(t, WriteFile("/proc/self/cwd/x", []byte("500")))
	data, err := os.ReadFile(filepath.Join(dir, "x"))
	require.NoError(t, err)
	assert.Equal(t, "0\n", string(data), "nothing written through the symlink")
}
