package debpkg

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArchOf(t *testing.T) {
	for _, tc := range []struct{ in, name, triplet string }{
		{"x86_64", "amd64", "x86_64-linux-gnu"},
		{"amd64", "amd64", "x86_64-linux-gnu"},
		{"arm64", "arm64", "aarch64-linux-gnu"},
		{"aarch64", "arm64", "aarch64-linux-gnu"},
	} {
		a, err := ArchOf(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.name, a.Name, tc.in)
		assert.Equal(t, tc.triplet, a.Triplet, tc.in)
	}
	_, err := ArchOf("riscv64")
	assert.ErrorContains(t, err, `unknown architecture "riscv64"`)
}

func TestParseDepends(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  []string
	}{
		{"libc6 (>= 2.34), libseccomp2 (>= 2.5.0)", []string{"libc6", "libseccomp2"}},
		{"debconf (>= 0.5) | debconf-2.0, libc6:any", []string{"debconf", "libc6"}},
		{"", nil},
	} {
		assert.Equal(t, tc.want, ParseDepends(tc.field), tc.field)
	}
}

func TestParseShow(t *testing.T) {
	out := "Package: crun\nVersion: 1.8.1-1+deb12u1\nArchitecture: arm64\nDepends: libc6 (>= 2.34), libcap2 (>= 1:2.10)\nPre-Depends: init-system-helpers\nDescription-en: x\n\nPackage: libc6\nVersion: 2.36-9\nArchitecture: all\n\n"
	pkgs := parseShow([]byte(out))
	require.Len(t, pkgs, 2)
	assert.Equal(t, "1.8.1-1+deb12u1", pkgs["crun"].Version)
	assert.Equal(t, []string{"libc6", "libcap2", "init-system-helpers"}, pkgs["crun"].Depends)
	assert.Equal(t, "2.36-9", pkgs["libc6"].Version)
	assert.Equal(t, "arm64", pkgs["crun"].Arch)
	assert.Equal(t, "all", pkgs["libc6"].Arch)
}

// An Architecture: all package is found and fetched for a foreign arch too
// (apt knows it as name:all there, not name:arm64).
func TestFetchArchAllForForeignArch(t *testing.T) {
	r := realRepo(t, "arm64")
	pkgs := fetch(t, r, "golang-github-containers-common", "runc")
	assert.Equal(t, "all", pkgs[0].Arch)
	assert.Equal(t, "arm64", pkgs[1].Arch)
	_, err := os.Stat(filepath.Join(pkgs[0].Root, "etc/containers/policy.json"))
	assert.NoError(t, err, "unpacked")
}

// tree builds a fake unpacked package: files map guest paths to contents,
// "->target" makes a symlink.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		host := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(host), 0o755))
		if len(c) > 2 && c[:2] == "->" {
			require.NoError(t, os.Symlink(c[2:], host))
			continue
		}
		require.NoError(t, os.WriteFile(host, []byte(c), 0o644))
	}
	return root
}

func TestLookup(t *testing.T) {
	libc := tree(t, map[string]string{
		"/lib/x86_64-linux-gnu/libc.so.6":             "libc",
		"/lib64/ld-linux-x86-64.so.2":                 "->/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2":  "ld",
		"/usr/lib/x86_64-linux-gnu/libfoo.so.1":       "->libfoo.so.1.2.3",
		"/usr/lib/x86_64-linux-gnu/libcross.so.1":     "->/lib/x86_64-linux-gnu/libother.so.1",
		"/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3":   "foo",
		"/usr/lib/x86_64-linux-gnu/libloop.so.1":      "->libloop.so.1",
		"/usr/lib/x86_64-linux-gnu/libdangling.so.1":  "->nowhere.so",
		"/usr/lib/x86_64-linux-gnu/subdir/.keep":      "",
		"/usr/lib/x86_64-linux-gnu/libdir.so.1":       "->subdir",
		"/usr/share/doc/libc6/changelog.Debian.gz":    "doc",
		"/usr/lib/x86_64-linux-gnu/gconv/gconv-modul": "x",
	})
	other := tree(t, map[string]string{"/lib/x86_64-linux-gnu/libother.so.1": "other"})
	rs := Roots{libc, other}
	for _, tc := range []struct {
		name, path string
		links      []File
		host       string
		err        string
	}{
		{"plain file", "/lib/x86_64-linux-gnu/libc.so.6", nil, filepath.Join(libc, "lib/x86_64-linux-gnu/libc.so.6"), ""},
		{"absolute link", "/lib64/ld-linux-x86-64.so.2", []File{{Path: "/lib64/ld-linux-x86-64.so.2", Link: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"}},
			filepath.Join(libc, "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), ""},
		{"relative link", "/usr/lib/x86_64-linux-gnu/libfoo.so.1", []File{{Path: "/usr/lib/x86_64-linux-gnu/libfoo.so.1", Link: "libfoo.so.1.2.3"}},
			filepath.Join(libc, "usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3"), ""},
		{"link into another package", "/usr/lib/x86_64-linux-gnu/libcross.so.1", []File{{Path: "/usr/lib/x86_64-linux-gnu/libcross.so.1", Link: "/lib/x86_64-linux-gnu/libother.so.1"}},
			filepath.Join(other, "lib/x86_64-linux-gnu/libother.so.1"), ""},
		{"missing", "/lib/libnope.so.1", nil, "", "file does not exist"},
		{"dangling link", "/usr/lib/x86_64-linux-gnu/libdangling.so.1", nil, "", "file does not exist"},
		{"loop", "/usr/lib/x86_64-linux-gnu/libloop.so.1", nil, "", "more than 40 symlinks"},
		{"directory", "/usr/lib/x86_64-linux-gnu/libdir.so.1", nil, "", "is not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			links, host, err := rs.Lookup(tc.path)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.links, links)
			assert.Equal(t, tc.host, host)
		})
	}
	_, _, err := rs.Lookup("/lib/libnope.so.1")
	assert.True(t, errors.Is(err, fs.ErrNotExist), "%v", err)
}

func TestResolveRejectsNonELFAndWrongArch(t *testing.T) {
	root := tree(t, map[string]string{"/usr/bin/script": "#!/bin/sh\n"})
	amd64, _ := ArchOf("amd64")
	_, err := Resolve(Roots{root}, amd64, "/usr/bin/script")
	assert.ErrorContains(t, err, "open ELF")
	_, err = Resolve(Roots{root}, amd64, "/usr/bin/nope")
	assert.ErrorContains(t, err, "resolve /usr/bin/nope for amd64")
}

// realRepo returns a Repo on a per-test cache, or skips with the reason
// apt cannot be used here.
func realRepo(t *testing.T, arch string) *Repo {
	t.Helper()
	if testing.Short() {
		t.Skip("downloads Debian packages: skipped in -short mode")
	}
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: not a Debian host", tool)
		}
	}
	// The shared cache makes reruns offline; tests only read from it.
	r, err := NewRepo(Bookworm(""), arch, "", nil)
	require.NoError(t, err)
	if os.Geteuid() != 0 {
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			t.Skipf("package cache %s is not writable without root: %v", r.Dir, err)
		}
	}
	if _, err := os.Stat(DebianKeyring); err != nil {
		t.Skipf("no Debian archive keyring (debian-archive-keyring): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := r.Update(ctx); err != nil {
		if errors.Is(err, ErrArchive) {
			t.Skipf("apt cannot reach the Debian archive: %v", err)
		}
		require.NoError(t, err)
	}
	return r
}

func fetch(t *testing.T, r *Repo, names ...string) []*Package {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pkgs, err := r.Fetch(ctx, names...)
	if errors.Is(err, ErrArchive) {
		t.Skipf("apt cannot reach the Debian archive: %v", err)
	}
	require.NoError(t, err)
	return pkgs
}

func TestResolveRealPackages(t *testing.T) {
	for _, tc := range []struct {
		arch, binary string
		pkgs         []string
		want         []string // guest paths that must be among the files
		interp       string
	}{
		{"arm64", "/usr/sbin/runc", []string{"runc", "libc6", "libseccomp2"},
			[]string{"/usr/sbin/runc", "/usr/lib/aarch64-linux-gnu/libseccomp.so.2", "/usr/lib/aarch64-linux-gnu/libseccomp.so.2.5.4", "/lib/aarch64-linux-gnu/libc.so.6"}, "/lib/ld-linux-aarch64.so.1"},
		{"amd64", "/usr/bin/iperf3", []string{"iperf3", "libiperf0", "libc6", "libsctp1", "libssl3"},
			[]string{"/usr/bin/iperf3", "/usr/lib/x86_64-linux-gnu/libiperf.so.0", "/usr/lib/x86_64-linux-gnu/libsctp.so.1", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"}, "/lib64/ld-linux-x86-64.so.2"},
	} {
		t.Run(tc.arch+tc.binary, func(t *testing.T) {
			r := realRepo(t, tc.arch)
			pkgs := fetch(t, r, tc.pkgs...)
			files, err := Resolve(RootsOf(pkgs), r.Arch, tc.binary)
			require.NoError(t, err)
			paths := map[string]File{}
			for _, f := range files {
				paths[f.Path] = f
			}
			for _, w := range tc.want {
				assert.Contains(t, paths, w)
			}
			require.Contains(t, paths, tc.interp, "the PT_INTERP loader")
			// Every regular file's content is there to copy.
			for _, f := range files {
				if f.Link == "" {
					_, err := os.Stat(f.Source)
					assert.NoError(t, err, f.Path)
				}
			}
		})
	}
}

func TestResolveNamesMissingLib(t *testing.T) {
	r := realRepo(t, "arm64")
	pkgs := fetch(t, r, "runc", "libc6") // libseccomp2 left out
	_, err := Resolve(RootsOf(pkgs), r.Arch, "/usr/sbin/runc")
	var me *MissingLibError
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, []string{"libseccomp.so.2 (needed by /usr/sbin/runc)"}, me.Missing)
	assert.ErrorContains(t, err, "shared libraries for arm64 not found")
	// And the wrong arch is refused, not silently resolved.
	amd64, _ := ArchOf("amd64")
	_, err = Resolve(RootsOf(pkgs), amd64, "/usr/sbin/runc")
	assert.ErrorContains(t, err, "is built for EM_AARCH64, want EM_X86_64")
}

func TestLibClosure(t *testing.T) {
	r := realRepo(t, "arm64")
	// Minutes, not one: on a cold cache another package's test may hold
	// the private apt's lock while apt-get update reads Debian's indexes
	// (a fresh Debian 13 root waited 60 s for it under load and failed).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	names, err := r.LibClosure(ctx, "crun")
	require.NoError(t, err)
	for _, w := range []string{"crun", "libc6", "libcap2", "libseccomp2", "libsystemd0", "libyajl2", "libgcc-s1"} {
		assert.Contains(t, names, w)
	}
	assert.NotContains(t, names, "init-system-helpers", "only library packages are followed")
	_, err = r.LibClosure(ctx, "no-such-package-nsbench")
	assert.ErrorContains(t, err, "no-such-package-nsbench:arm64")
	_, err = r.LibClosure(ctx, "crun", "no-such-package-nsbench")
	assert.ErrorContains(t, err, "package no-such-package-nsbench:arm64: Debian bookworm has no such package")
}
