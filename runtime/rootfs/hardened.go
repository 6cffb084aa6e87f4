//go:build !nsrun_naive

package rootfs

// The defenses of this package that the deliberately naive nsrun of the
// conformance self-test leaves out (naive.go, -tags nsrun_naive).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsbench/nsbench/runtime/inroot"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// checkDestination refuses to mount proc or sysfs on anything but a real
// directory (or nothing yet): on a symlink the mount lands elsewhere and
// /proc is then whatever the image put there, which is how runc's
// CVE-2019-19921, CVE-2023-27561 and CVE-2023-28642 redirected the
// runtime's procfs writes and dropped its LSM labels.
func checkDestination(root *inroot.Root, i int, m specs.Mount, typ string) error {
	if typ != "proc" && typ != "sysfs" {
		return nil
	}
	return realDirectory(root, i, m)
}

// realDirectory checks that m's destination in the rootfs is a directory
// or nothing, never a symlink.
func realDirectory(root *inroot.Root, i int, m specs.Mount) error {
	dir, base := filepath.Split(filepath.Clean("/" + m.Destination))
	parent, err := root.Lookup(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	var st unix.Stat_t
	switch err := unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("mounts[%d]: stat %s in the rootfs: %w", i, m.Destination, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		target, _ := readlinkat(parent, base)
		return fmt.Errorf("mounts[%d]: %s is mounted only on a real directory, and %s in the rootfs is a symlink to %q (an image cannot redirect the runtime's %s)", i, m.Type, m.Destination, target, m.Destination)
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("mounts[%d]: %s is mounted only on a directory, and %s in the rootfs is not one (mode %#o)", i, m.Type, m.Destination, st.Mode)
	}
	return nil
}

func readlinkat(dir *os.File, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// readOnlyBelow makes every mount under dest read-only: a remount
// reaches only the top mount of an rbind, and the mounts under it would
// stay writable (a rootless /sys's cgroup hierarchies, runc's
// CVE-2023-25809).
func readOnlyBelow(root *inroot.Root, dest string) error {
	return onPath(root, dest, func(target string) error {
		return unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	})
}

// needDevices says whether the runtime makes the default device nodes:
// always (the spec's MUST), whether or not /dev is a tmpfs, except in a
// /dev the config binds from the host (a privileged container): its nodes
// are there, and nothing may be replaced in it.
func needDevices(ms []specs.Mount) bool { return !devBound(ms) }

// devBound reports whether the config bind-mounts a directory onto /dev.
func devBound(ms []specs.Mount) bool {
	for _, m := range ms {
		flags, _, _ := options(m.Options)
		if filepath.Clean(m.Destination) == "/dev" && (m.Type == "bind" || flags&unix.MS_BIND != 0) {
			return true
		}
	}
	return false
}

// checkDevNull checks that f, the container's /dev/null, is the null
// character device (1:3) before anything is masked with it.
func checkDevNull(f *os.File) error { return isDevNull(f) }

// isDevNull checks that f is the character device 1:3.
func isDevNull(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		return fmt.Errorf("%s is not the null device 1:3 (mode %#o, device %d:%d)", f.Name(), st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return nil
}
