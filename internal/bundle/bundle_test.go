package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	extra := filepath.Join(t.TempDir(), "tool")
	require.NoError(t, os.WriteFile(extra, []byte("#!/bin/sh\n"), 0o755))
	b, err := New(dir, Options{Args: []string{"true"}, Files: map[string]string{"/usr/local/bin/tool": extra}})
	require.NoError(t, err)

	for _, p := range []string{"bin/busybox", "bin/sh", "etc/passwd", "usr/local/bin/tool"} {
		_, err := os.Stat(filepath.Join(b.Rootfs(), p))
		assert.NoError(t, err, p)
	}
	st, err := os.Stat(filepath.Join(b.Rootfs(), "tmp"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeDir|os.ModeSticky|0o777, st.Mode())
	st, err = os.Stat(filepath.Join(b.Rootfs(), "usr/local/bin/tool"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())

	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var s specs.Spec
	require.NoError(t, json.Unmarshal(data, &s))
	assert.Equal(t, []string{"true"}, s.Process.Args)
	assert.Equal(t, "1.0.2", s.Version)
	assert.Equal(t, "rootfs", s.Root.Path)

	_, err = New(dir, Options{})
	assert.ErrorContains(t, err, "rootfs already exists")
}

func TestNewRootlessOwner(t *testing.T) {
	testutil.NeedRoot(t, "chown to another user")
	dir := filepath.Join(t.TempDir(), "b")
	b, err := New(dir, Options{Rootless: true, Owner: &Owner{UID: 4242, GID: 4243}})
	require.NoError(t, err)
	assert.Equal(t, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 4242, Size: 1}}, b.Spec.Linux.UIDMappings)
	assert.Equal(t, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 4243, Size: 1}}, b.Spec.Linux.GIDMappings)
	var st os.FileInfo
	st, err = os.Lstat(filepath.Join(b.Rootfs(), "bin/sh"))
	require.NoError(t, err)
	assert.Equal(t, uint32(4242), st.Sys().(*syscall.Stat_t).Uid)
}

func TestNewErrors(t *testing.T) {
	notStatic := "/bin/true"
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"dynamic busybox", Options{Busybox: notStatic}, "dynamically linked: install Debian's busybox-static"},
		{"missing busybox", Options{Busybox: "/nonexistent/busybox"}, "read /nonexistent/busybox"},
		{"relative file", Options{Files: map[string]string{"bin/x": "/bin/true"}}, "must be absolute"},
		{"missing file", Options{Files: map[string]string{"/bin/x": "/nonexistent"}}, "copy /nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(filepath.Join(t.TempDir(), "b"), tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
