package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mountinfoFile is a captured mount table in the top-level testdata/.
func mountinfoFile(name string) string {
	return filepath.Join("..", "..", "testdata", "mountinfo", name)
}

func TestParseMountinfo(t *testing.T) {
	for _, tc := range []struct {
		file string
		mode Mode
		want map[string]string // name -> mountpoint
	}{
		{mountinfoFile("v2"), "v2", map[string]string{"unified": "/sys/fs/cgroup"}},
		{mountinfoFile("v1"), "v1", map[string]string{
			"cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "memory": "/sys/fs/cgroup/memory",
			"pids": "/sys/fs/cgroup/pids", "name=systemd": "/sys/fs/cgroup/systemd",
		}},
		{mountinfoFile("hybrid"), "hybrid", map[string]string{
			"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct", "cpuset": "/sys/fs/cgroup/cpuset",
			"memory": "/sys/fs/cgroup/memory", "devices": "/sys/fs/cgroup/devices", "freezer": "/sys/fs/cgroup/freezer",
			"blkio": "/sys/fs/cgroup/blkio", "pids": "/sys/fs/cgroup/pids", "name=systemd": "/sys/fs/cgroup/systemd",
			"unified": "/sys/fs/cgroup/unified",
		}},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			f, err := os.Open(tc.file)
			require.NoError(t, err)
			defer f.Close()
			l, err := ParseMountinfo(f)
			require.NoError(t, err)
			assert.Equal(t, tc.mode, l.Mode())
			got := map[string]string{}
			for _, h := range l.Hierarchies {
				got[h.Name] = h.Mountpoint
			}
			assert.Empty(t, cmp.Diff(tc.want, got))
		})
	}
}

func TestParseMountinfoNestedRoot(t *testing.T) {
	f, err := os.Open(mountinfoFile("v1"))
	require.NoError(t, err)
	defer f.Close()
	l, err := ParseMountinfo(f)
	require.NoError(t, err)
	own := map[string]string{"pids": "/docker/abc"}
	m, err := newFromLayout(l, own, "/nsrun/x", "x", false)
	require.NoError(t, err)
	// The pids hierarchy is mounted from /docker/abc: /nsrun/x lies outside
	// that root and is reached relative to the mount.
	assert.Equal(t, "/sys/fs/cgroup/pids/nsrun/x", m.Paths()["pids"])
	m, err = newFromLayout(l, own, "/docker/abc/sub", "x", false)
	require.NoError(t, err)
	assert.Equal(t, "/sys/fs/cgroup/pids/sub", m.Paths()["pids"])
}

// TestParseMountinfoErrors: a table that is not mountinfo is an error, not
// an empty layout (that would read as "no cgroups here").
func TestParseMountinfoErrors(t *testing.T) {
	_, err := ParseMountinfo(strings.NewReader("garbage without separator\n"))
	assert.ErrorContains(t, err, "parse mountinfo line 1")
}

func TestOwnCgroups(t *testing.T) {
	got := ownCgroups("12:cpu,cpuacct:/user.slice\n1:name=systemd:/init.scope\n0::/user.slice/session-1.scope\n")
	assert.Empty(t, cmp.Diff(map[string]string{
		"cpu,cpuacct": "/user.slice", "name=systemd": "/init.scope", "unified": "/user.slice/session-1.scope",
	}, got))
}

func TestNewPaths(t *testing.T) {
	l := &Layout{Hierarchies: []Hierarchy{{Name: "unified", Mountpoint: "/sys/fs/cgroup", Root: "/", V2: true}}}
	own := map[string]string{"unified": "/user.slice/me"}
	for _, tc := range []struct {
		name, path, id, want, err string
	}{
		{"default", "", "c1", "/sys/fs/cgroup/nsrun/c1", ""},
		{"absolute", "/bench/c1", "c1", "/sys/fs/cgroup/bench/c1", ""},
		{"relative to own", "sub/c1", "c1", "/sys/fs/cgroup/user.slice/me/sub/c1", ""},
		{"cleaned", "/a//b/./c", "c1", "/sys/fs/cgroup/a/b/c", ""},
		{"dotdot", "/a/../../etc", "c1", "", `"..`},
		{"root", "/", "c1", "", "root cgroup"},
		{"systemd form", "system.slice:nsrun:c1", "c1", "", "systemd slice"},
		{"bad id", "", "a/b", "", "cannot name a directory"},
		{"empty id", "", "", "", "cannot name a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newFromLayout(l, own, tc.path, tc.id, false)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"unified": tc.want}, m.Paths())
		})
	}
}

func TestRootlessOnV1(t *testing.T) {
	l := &Layout{Hierarchies: []Hierarchy{{Name: "memory", Controllers: []string{"memory"}, Mountpoint: "/sys/fs/cgroup/memory", Root: "/"}}}
	_, err := newFromLayout(l, nil, "", "c1", true)
	assert.ErrorIs(t, err, ErrRootless)
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 1024: 39, 262144: 10000, 999999: 10000} {
		assert.Equal(t, want, SharesToWeight(shares), "shares %d", shares)
	}
}
