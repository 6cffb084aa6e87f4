package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestDefaultValidates(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
	for _, rootless := range []bool{false, true} {
		s := Default(rootless)
		assert.NoError(t, Validate(s, dir), "rootless=%t", rootless)
		hasUserNS := false
		for _, ns := range s.Linux.Namespaces {
			hasUserNS = hasUserNS || ns.Type == "user"
		}
		assert.Equal(t, rootless, hasUserNS)
	}
}

func TestValidateJoinsAllErrors(t *testing.T) {
	s := Default(false)
	s.Version = "0.9"
	s.Process.Cwd = "rel"
	err := Validate(s, t.TempDir())
	require.Error(t, err)
	for _, want := range []string{"ociVersion", "process.cwd", "root.path"} {
		assert.Contains(t, err.Error(), want, "every problem is reported at once")
	}
}

func TestSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"TERM": unix.SIGTERM, "sigkill": unix.SIGKILL, "SIGHUP": unix.SIGHUP, "9": unix.SIGKILL, " int ": unix.SIGINT} {
		got, err := Signal(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "NOPE", "0", "65", "99999999"} {
		_, err := Signal(bad)
		assert.Error(t, err, bad)
	}
}

func TestLoadErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte("{\n\"ociVersion\": \"1.0.2\",\n\"process\": {\"args\": \"sh\"}\n}"), 0o644))
	_, err := Load(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 3")
	assert.Contains(t, err.Error(), "process.args")
}

// TestBadBundles runs every bad bundle of testdata/bundles/bad through Load
// and Validate, on the root and the rootless default config: those the
// fixture says are refused before anything exists are refused here with
// its error, and those only creating the container can find wrong pass.
// cmd/nsrun's TestBadBundles runs the same files through the binary.
func TestBadBundles(t *testing.T) {
	testutil.BadBundles(t, func(t *testing.T, b *testutil.BadBundle) {
		for _, rootless := range []bool{false, true} {
			dir := t.TempDir()
			require.NoError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
			data, err := json.Marshal(Default(rootless))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
			require.NoError(t, b.Apply(dir))
			s, err := Load(dir)
			if b.Stage == testutil.StageLoad {
				require.Error(t, err, "rootless=%t", rootless)
				assert.Contains(t, err.Error(), b.Error, "rootless=%t", rootless)
				continue
			}
			require.NoError(t, err, "rootless=%t", rootless)
			err = Validate(s, dir)
			if b.Stage == testutil.StageValidate {
				require.Error(t, err, "%s (rootless=%t)", b.Why, rootless)
				assert.Contains(t, err.Error(), b.Error, "rootless=%t", rootless)
				continue
			}
			assert.NoError(t, err, "%s: a valid config that only create can refuse (rootless=%t)", b.Why, rootless)
		}
	})
}

func TestRecursiveAttr(t *testing.T) {
	_, ok := RecursiveAttr([]string{"rbind", "ro"})
	assert.False(t, ok, "no recursive option")
	a, ok := RecursiveAttr([]string{"rbind", "rro", "rnosuid", "rdev"})
	require.True(t, ok)
	assert.Equal(t, uint64(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID), a.Attr_set)
	assert.Equal(t, uint64(unix.MOUNT_ATTR_NODEV), a.Attr_clr)
	a, _ = RecursiveAttr([]string{"rro", "rrw", "rnoatime"})
	assert.Equal(t, uint64(unix.MOUNT_ATTR_NOATIME), a.Attr_set, "the last of rro/rrw wins; an atime mode replaces the field")
	assert.Equal(t, uint64(unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR__ATIME), a.Attr_clr)
	a, _ = RecursiveAttr([]string{"rnoatime", "rrelatime"})
	assert.Equal(t, uint64(0), a.Attr_set, "relatime is 0 in the atime field")
	assert.Equal(t, uint64(unix.MOUNT_ATTR__ATIME), a.Attr_clr)
}
