package images

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/guest"
	"github.com/nsbench/nsbench/internal/testutil"
)

func TestModuleEntries(t *testing.T) {
	dir := t.TempDir()
	var mods []Module
	for _, n := range []string{"virtio", "9pnet", "9p"} {
		p := filepath.Join(dir, n+".ko")
		require.NoError(t, os.WriteFile(p, []byte("ko:"+n), 0o644))
		mods = append(mods, Module{Name: n, Path: p})
	}
	es, err := moduleEntries(mods)
	require.NoError(t, err)
	got := map[string]string{}
	for _, e := range es {
		got[e.Path] = string(e.Data)
	}
	assert.Equal(t, "ko:9pnet", got["/lib/modules/nsbench/9pnet.ko"])
	assert.Equal(t, "virtio\n9pnet\n9p\n", got[guest.ModuleList], "load order is kept")

	none, err := moduleEntries(nil)
	require.NoError(t, err)
	assert.Empty(t, none, "no modules, no list: the init loads nothing")

	_, err = moduleEntries([]Module{{Name: "gone", Path: filepath.Join(dir, "gone.ko")}})
	assert.ErrorContains(t, err, "read module "+filepath.Join(dir, "gone.ko"))
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	base := time.Now()
	for i, n := range []string{"a", "b", "c", "d", "e"} {
		p := filepath.Join(dir, n+"-x86_64.cpio.gz")
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		mt := base.Add(time.Duration(i) * time.Minute)
		require.NoError(t, os.Chtimes(p, mt, mt))
	}
	other := filepath.Join(dir, "z-arm64.cpio.gz")
	require.NoError(t, os.WriteFile(other, nil, 0o644))
	pruneGlob(dir, "*-x86_64.cpio.gz", 3)
	left, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{
		filepath.Join(dir, "c-x86_64.cpio.gz"), filepath.Join(dir, "d-x86_64.cpio.gz"),
		filepath.Join(dir, "e-x86_64.cpio.gz"), other,
	}, left, "the newest three of the arch stay, other arches are not touched")
}

func TestToolEntriesAmd64(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches runc, crun, fio, iperf3 and ~70 library packages: skipped in -short mode")
	}
	testutil.NeedRoot(t, "the package cache under /var/cache/nsbench")
	repo, err := debpkg.NewRepo(debpkg.Bookworm(""), "x86_64", "", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	es, err := toolEntries(ctx, repo, DefaultTools())
	if errors.Is(err, debpkg.ErrArchive) {
		t.Skipf("apt cannot reach the Debian archive: %v", err)
	}
	require.NoError(t, err)
	got := map[string]Entry{}
	for _, e := range es {
		got[e.Path] = e
	}
	for _, p := range []string{GuestRunc, GuestCrun, GuestFio, GuestIperf3, "/lib/x86_64-linux-gnu/libc.so.6"} {
		require.Contains(t, got, p)
		assert.NotEmpty(t, got[p].Data, p)
		assert.Equal(t, os.FileMode(0o555), got[p].Mode&0o555, "%s is executable", p)
	}
	assert.Equal(t, "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", got["/lib64/ld-linux-x86-64.so.2"].Link, "the PT_INTERP path is the package's link")
	assert.Contains(t, got, "/usr/lib/x86_64-linux-gnu/ceph/libceph-common.so.2", "found through librados' DT_RUNPATH")
}

func TestBuildDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches runc and containers-common and makes an ext4 image: skipped in -short mode")
	}
	testutil.NeedRoot(t, "the package cache under /var/cache/nsbench")
	debugfs, err := exec.LookPath("debugfs")
	if err != nil {
		t.Skip("no debugfs to read the image with (apt-get install e2fsprogs)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o := DiskOptions{Arch: "x86_64", CacheDir: t.TempDir(),
		Tools: []Tool{{"runc", GuestRunc}},
		Files: []Tool{{"golang-github-containers-common", "/etc/containers/policy.json"}}}
	d, err := BuildDisk(ctx, o)
	if errors.Is(err, debpkg.ErrArchive) {
		t.Skipf("apt cannot reach the Debian archive: %v", err)
	}
	require.NoError(t, err)
	assert.Equal(t, []string{"etc", "lib", "lib64", "usr"}, d.Tops, "the guest lays each over its own")

	// Read it back without mounting anything on the host.
	read := func(cmd string) string {
		out, err := exec.CommandContext(ctx, debugfs, "-R", cmd, d.Path).Output()
		require.NoError(t, err, "debugfs -R %q %s", cmd, d.Path)
		return string(out)
	}
	repo, err := debpkg.NewRepo(debpkg.Bookworm(""), "x86_64", "", nil)
	require.NoError(t, err)
	pkgs, err := repo.Fetch(ctx, "runc", "golang-github-containers-common")
	require.NoError(t, err)
	for i, p := range []string{GuestRunc, "/etc/containers/policy.json"} {
		want, err := os.ReadFile(filepath.Join(pkgs[i].Root, p))
		require.NoError(t, err)
		assert.Equal(t, string(want), read("cat "+p), "%s as the package ships it", p)
	}
	st := read("stat " + GuestRunc)
	assert.Contains(t, st, "Mode:  0755", "runc is executable")
	assert.Contains(t, st, "User:     0   Group:     0", "owned by root")
	assert.Contains(t, read("ls -l /usr/lib/x86_64-linux-gnu"), "libseccomp.so.2", "runc's libraries come along")
	assert.Contains(t, read("stat /lib64/ld-linux-x86-64.so.2"), "Type: symlink")

	// The same contents are found in the cache, not built again.
	st0, err := os.Stat(d.Path)
	require.NoError(t, err)
	again, err := BuildDisk(ctx, o)
	require.NoError(t, err)
	assert.Equal(t, d.Path, again.Path)
	st1, err := os.Stat(again.Path)
	require.NoError(t, err)
	assert.True(t, os.SameFile(st0, st1), "the cached disk is kept, not replaced")
	left, err := filepath.Glob(filepath.Join(o.CacheDir, "*"))
	require.NoError(t, err)
	assert.Equal(t, []string{d.Path}, left, "no staging tree or temporary image is left")

	_, err = BuildDisk(ctx, DiskOptions{Arch: "x86_64", CacheDir: o.CacheDir})
	assert.ErrorContains(t, err, "no tools or files given")
	_, err = BuildDisk(ctx, DiskOptions{Arch: "x86_64", CacheDir: o.CacheDir, Files: []Tool{{"runc", "/etc/nonexistent"}}})
	assert.ErrorContains(t, err, "file /etc/nonexistent of package runc")
}
