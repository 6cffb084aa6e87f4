package mountinfo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata is the repository's top-level testdata/mountinfo.
var testdata = filepath.Join("..", "..", "testdata", "mountinfo")

func parseFile(t *testing.T, name string) []Mount {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata, name))
	require.NoError(t, err)
	defer f.Close()
	ms, err := Parse(f)
	require.NoError(t, err)
	return ms
}

func TestParseEscapesAndOptionalFields(t *testing.T) {
	ms := parseFile(t, "escapes")
	want := []Mount{
		{ID: 21, Parent: 1, Device: "8:1", Root: "/", Mountpoint: "/", Options: "rw,relatime", Optional: []string{"shared:1"}, FSType: "ext4", Source: "/dev/sda1", SuperOptions: "rw"},
		{ID: 22, Parent: 21, Device: "0:21", Root: "/", Mountpoint: "/proc", Options: "rw,nosuid,nodev,noexec,relatime", Optional: []string{"shared:5"}, FSType: "proc", Source: "proc", SuperOptions: "rw"},
		{ID: 40, Parent: 21, Device: "0:35", Root: "/", Mountpoint: "/tmp/a dir\ttab", Options: "rw,relatime", Optional: []string{"shared:20"}, FSType: "tmpfs", Source: "my#source", SuperOptions: "rw,size=1024k"},
		{ID: 41, Parent: 40, Device: "8:1", Root: "/srv/data", Mountpoint: "/tmp/a dir\ttab/bind", Options: "rw,relatime", Optional: []string{"master:1", "propagate_from:2"}, FSType: "ext4", Source: "/dev/sda1", SuperOptions: "rw"},
		// An empty source (mount -t tmpfs "" dir) leaves two spaces: a
		// parser splitting on runs of blanks would shift every field.
		{ID: 42, Parent: 21, Device: "0:36", Root: "/", Mountpoint: "/mnt/nosource", Options: "rw,relatime", FSType: "tmpfs", Source: "", SuperOptions: "rw"},
		{ID: 43, Parent: 21, Device: "0:37", Root: "/", Mountpoint: `/mnt/back\slash`, Options: "rw,relatime", Optional: []string{"unbindable"}, FSType: "tmpfs", Source: "none", SuperOptions: "rw"},
	}
	assert.Empty(t, cmp.Diff(want, ms))
	assert.True(t, ms[0].Shared())
	assert.False(t, ms[3].Shared(), "master is not shared")

	for _, m := range ms {
		back, err := Parse(strings.NewReader(m.String()))
		require.NoError(t, err, m.String())
		assert.Empty(t, cmp.Diff([]Mount{m}, back), "String prints what Parse reads")
	}
}

func TestParseRefusesWhatIsNotMountinfo(t *testing.T) {
	for _, tc := range []struct{ name, line, want string }{
		{"too few fields", "1 2 3:4 / /x rw - tmpfs", "want 6 fields"},
		{"no separator", "1 2 3:4 / /x rw shared:1 tmpfs tmpfs rw", `"-"`},
		{"extra after separator", "1 2 3:4 / /x rw - tmpfs tmpfs rw extra", "want 3 fields after"},
		{"bad id", "x 2 3:4 / /x rw - tmpfs tmpfs rw", "mount id"},
		{"bad device", "1 2 3-4 / /x rw - tmpfs tmpfs rw", "major:minor"},
		{"bad escape", `1 2 3:4 / /x\09a rw - tmpfs tmpfs rw`, "bad escape"},
		{"truncated escape", `1 2 3:4 / /x\04 rw - tmpfs tmpfs rw`, "truncated escape"},
		{"escape above a byte", `1 2 3:4 / /x\777 rw - tmpfs tmpfs rw`, "bad escape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n" + tc.line + "\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "line 2", "the error names the line")
		})
	}
}

func TestHolding(t *testing.T) {
	ms := parseFile(t, "escapes")
	for path, want := range map[string]string{
		"/":                        "/",
		"/etc/passwd":              "/",
		"/tmp/a dir\ttab":          "/tmp/a dir\ttab",
		"/tmp/a dir\ttab/x":        "/tmp/a dir\ttab",
		"/tmp/a dir\ttab/bind/y/z": "/tmp/a dir\ttab/bind",
		"/tmp/a dir\ttabular":      "/", // a prefix of the name is not a parent
		"/procfoo":                 "/",
	} {
		m, ok := Holding(ms, path)
		require.True(t, ok, path)
		assert.Equal(t, want, m.Mountpoint, path)
	}
	_, ok := Holding(ms[1:2], "/etc")
	assert.False(t, ok, "no mount holds it")
}

// TestSelf reads this process's real table: / is always mounted.
func TestSelf(t *testing.T) {
	ms, err := Self()
	require.NoError(t, err)
	_, ok := Holding(ms, "/")
	assert.True(t, ok)
}
