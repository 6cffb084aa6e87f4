package hostdeps

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadTable(t *testing.T, name string) (*Table, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	return ParseTable(name, f)
}

func TestParseTableErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"bad-columns.tsv", "bad-columns.tsv:2: 4 columns, want 3"},
		{"no-header.tsv", "no-header.tsv:1: package line before the #purposes header"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := loadTable(t, tc.file)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestPackages(t *testing.T) {
	tab, err := loadTable(t, "table.tsv")
	require.NoError(t, err)
	assert.Equal(t, []string{"rel-a", "rel-b"}, tab.Releases)
	assert.Equal(t, []string{"bench", "kernel", "test", "vm"}, tab.Purposes())
	for _, tc := range []struct {
		name, release string
		purposes      []string
		want          []Need
		unavail       []string
	}{
		{"bench only", "rel-a", []string{"bench"}, []Need{{"runc", []string{"bench"}}}, nil},
		{"test renames gcc, goes on without the browser", "rel-b", []string{"test"}, []Need{{"gcc-x", []string{"test"}}, {"qemu", []string{"test"}}, {"runc", []string{"test"}}}, []string{"browser"}},
		{"shared package names both purposes", "rel-a", []string{"bench", "test"}, []Need{{"browser", []string{"test"}}, {"gcc", []string{"test"}}, {"qemu", []string{"test"}}, {"runc", []string{"bench", "test"}}}, nil},
		{"absent package", "rel-b", []string{"kernel"}, []Need{}, []string{"plugin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needs, un, err := tab.Packages(tc.release, tc.purposes...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, needs)
			var names []string
			for _, u := range un {
				names = append(names, u.Package)
				// Only the "~" row may be done without.
				assert.Equal(t, u.Package == "browser", u.Optional, u.Package)
			}
			assert.Equal(t, tc.unavail, names)
		})
	}
	_, _, err = tab.Packages("rel-c", "bench")
	var re *ReleaseError
	require.ErrorAs(t, err, &re)
	assert.Contains(t, err.Error(), "known: rel-a, rel-b")
	_, _, err = tab.Packages("rel-a", "benhc")
	require.ErrorContains(t, err, `unknown purpose "benhc"`)
}

// The real table must give every release a name for every purpose but
// the host-toolchain one, and parse.
func TestRepositoryTable(t *testing.T) {
	f, err := os.Open("../../mk/packages.tsv")
	require.NoError(t, err)
	defer f.Close()
	tab, err := ParseTable("mk/packages.tsv", f)
	require.NoError(t, err)
	assert.Equal(t, []string{"debian-12", "debian-13", "ubuntu-24.04"}, tab.Releases)
	for _, rel := range tab.Releases {
		needs, un, err := tab.Packages(rel, "bench", "test", "kernel", "vm")
		require.NoError(t, err)
		assert.Empty(t, Required(un), rel)
		assert.NotEmpty(t, needs, rel)
	}
	_, un, err := tab.Packages("debian-12", "kernel-hosttc")
	require.NoError(t, err)
	assert.Empty(t, un)
}

func TestRelease(t *testing.T) {
	for _, tc := range []struct{ file, want, err string }{
		{"debian-12", "debian-12", ""},
		{"debian-13", "debian-13", ""},
		{"ubuntu-24.04", "ubuntu-24.04", ""},
		{"debian-sid", "debian-forky", ""},
		{"no-id", "", "no ID= line"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "os-release", tc.file))
			require.NoError(t, err)
			got, err := Release(data)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParsePolicy(t *testing.T) {
	out := []byte(`runc:
  Installed: 1.1.5+ds1-1+deb12u1
  Candidate: 1.1.5+ds1-1+deb12u1
  Version table:
 *** 1.1.5+ds1-1+deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
gcc-12-plugin-dev:amd64:
  Installed: (none)
  Candidate: (none)
  Version table:
`)
	assert.Equal(t, map[string]bool{"runc": true, "gcc-12-plugin-dev": false}, parsePolicy(out))
}

func needApt(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"dpkg-query", "apt-cache"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: not a Debian-family host", tool)
		}
	}
}

// Against the host's real dpkg and apt: dpkg itself is installed on any
// Debian-family host, and a name no archive has gets the clear error
// before anything is installed.
func TestEnsureOnThisHost(t *testing.T) {
	needApt(t)
	ctx := context.Background()
	a := Apt{}
	have, err := a.Installed(ctx, []string{"dpkg", "nsbench-no-such-package"})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"dpkg": true}, have)

	var w bytes.Buffer
	require.NoError(t, Ensure(ctx, a, "this-host", "test", []Need{{"dpkg", []string{"test"}}}, nil, false, false, &w))
	assert.Empty(t, w.String(), "nothing missing: nothing to say")

	// Not as root, so a missing apt index cannot make it run apt-get update.
	err = Ensure(ctx, a, "this-host", "test", []Need{{"dpkg", []string{"test"}}, {"nsbench-no-such-package", []string{"test"}}}, nil, false, false, &w)
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "nsbench-no-such-package", ue.Packages[0].Package)
	assert.True(t, strings.HasSuffix(err.Error(), "nothing was installed"), err.Error())

	err = Ensure(ctx, a, "rel-b", "kernel", nil, []Unavailable{{Package: "plugin", Note: "use the build root", Purposes: []string{"kernel"}}}, true, false, &w)
	require.True(t, errors.As(err, &ue))
	assert.Contains(t, err.Error(), "plugin (needed for kernel): use the build root")

	// An optional package the release lacks is said, not refused.
	w.Reset()
	require.NoError(t, Ensure(ctx, a, "rel-b", "test", []Need{{"dpkg", []string{"test"}}}, []Unavailable{{Package: "browser", Note: "the browser test skips", Purposes: []string{"test"}, Optional: true}}, false, false, &w))
	assert.Equal(t, "deps (test): rel-b has no browser; going on without it: the browser test skips\n", w.String())
}

func TestParseInstalled(t *testing.T) {
	out := []byte("containerd.io\tii \tcontainerd, runc\ndocker-ce\tii \tdocker-engine\nrunc\trc \t\nlibc6:amd64\tii \t\n")
	assert.Equal(t, map[string]bool{"containerd.io": true, "containerd": true, "runc": true, "docker-ce": true, "docker-engine": true, "libc6": true}, parseInstalled(out))
}

func TestParseRemovals(t *testing.T) {
	out := []byte("Reading package lists...\nRemv docker-ce [5:27.5.1-1~ubuntu.24.04~noble]\nRemv containerd.io [1.7.25-1]\nInst runc (1.1.12-0ubuntu3 Ubuntu:24.04/noble-updates [amd64])\nConf runc (1.1.12-0ubuntu3)\n")
	assert.Equal(t, []string{"containerd.io", "docker-ce"}, parseRemovals(out))
}
