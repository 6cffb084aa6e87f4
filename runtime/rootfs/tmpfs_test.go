package rootfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

func TestWithDirMode(t *testing.T) {
	dir := func(mode uint32) *unix.Stat_t { return &unix.Stat_t{Mode: unix.S_IFDIR | mode} }
	for _, tc := range []struct {
		name, data string
		before     *unix.Stat_t
		want       string
	}{
		{"no directory before: the kernel's default", "size=1m", nil, "size=1m"},
		{"an existing directory's mode", "size=1m", dir(0o755), "mode=755,size=1m"},
		{"its sticky bit too", "", dir(0o1777), "mode=1777"},
		{"the config's mode= comes later and wins", "mode=1777,size=1m", dir(0o700), "mode=700,mode=1777,size=1m"},
		{"not a directory: left to the kernel", "", &unix.Stat_t{Mode: unix.S_IFREG | 0o644}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, withDirMode(tc.data, tc.before))
		})
	}
}
