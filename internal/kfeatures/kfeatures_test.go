package kfeatures

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRelease(t *testing.T) {
	for release, want := range map[string]string{
		"6.1.0-28-amd64":  "6.1.0",
		"6.18.44-fc-v595": "6.18.44",
		"5.10":            "5.10.0",
		"4.19.0+":         "4.19.0",
	} {
		v, err := ParseRelease(release)
		require.NoError(t, err, release)
		assert.Equal(t, want, v.String(), release)
	}
	_, err := ParseRelease("linux")
	assert.ErrorContains(t, err, `"linux"`)
}

func TestDetect(t *testing.T) {
	f, err := Detect()
	require.NoError(t, err)
	assert.NotEmpty(t, f.Release)
	for _, ns := range []string{"mnt", "pid", "net", "uts", "ipc"} {
		assert.NoError(t, f.Namespace(ns), "every kernel that runs Go tests has %s namespaces", ns)
	}
	assert.True(t, f.AtLeast("3.8"))
	assert.False(t, f.AtLeast("999.0"))
	assert.Contains(t, []string{"v1", "hybrid", "v2", "none"}, f.Cgroup)
	assert.Equal(t, os.Geteuid() == 0, f.Root)
	// Linux 5.3 added clone3 and pidfd_open; 5.12 mount_setattr.
	if f.AtLeast("5.12") {
		assert.True(t, f.Clone3 && f.PidfdOpen && f.MountSetattr, f.String())
	}
}

func TestUserNamespacesOutcome(t *testing.T) {
	base := func() *Features {
		return &Features{Release: "6.1.0", Namespaces: map[string]bool{"user": true}, MaxUserNamespaces: 1000, UnprivilegedUsernsClone: -1, AppArmorRestrictsUserns: -1}
	}
	for _, tc := range []struct {
		name string
		mut  func(f *Features)
		want error
		text string
	}{
		{"allowed", func(*Features) {}, nil, ""},
		{"not built", func(f *Features) { f.Namespaces = map[string]bool{} }, ErrMissing, "CONFIG_USER_NS"},
		{"max zero", func(f *Features) { f.MaxUserNamespaces = 0 }, ErrPolicy, "user.max_user_namespaces=0"},
		{"debian knob", func(f *Features) { f.UnprivilegedUsernsClone = 0 }, ErrPolicy, "unprivileged_userns_clone=0"},
		{"debian knob, root", func(f *Features) { f.UnprivilegedUsernsClone = 0; f.Root = true }, nil, ""},
		{"apparmor", func(f *Features) { f.AppArmorRestrictsUserns = 1 }, ErrPolicy, "apparmor_restrict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.mut(f)
			err := f.UserNamespaces()
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.True(t, errors.Is(err, tc.want), "%v", err)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}
