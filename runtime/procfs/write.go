//go:build !nsrun_naive

package procfs

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// WriteFile writes data to path, a file under /proc. It opens /proc only
// after checking that it is the root of a procfs mount, and path beneath
// it without following any symlink or crossing any mount (openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_XDEV): no symlink,
// bind mount or tmpfs put over part of /proc can redirect the write to
// another file, procfs or not (runc's CVE-2025-52881). "self" and
// "thread-self" are read from that procfs itself. On kernels without
// openat2 the last component is opened O_NOFOLLOW and checked to be on
// procfs.
func WriteFile(path string, data []byte) error {
	rel, ok := strings.CutPrefix(path, "/proc/")
	if !ok || rel == "" {
		return fmt.Errorf("write %s: not a file under /proc", path)
	}
	if err := checkRoot("/proc"); err != nil {
		return fmt.Errorf("refusing to write %s: %w", path, err)
	}
	root, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /proc: %w", err)
	}
	defer unix.Close(root)
	first, rest, _ := strings.Cut(rel, "/")
	if first == "self" || first == "thread-self" {
		buf := make([]byte, 64)
		n, err := unix.Readlinkat(root, first, buf)
		if err != nil {
			return fmt.Errorf("write %s: readlink /proc/%s: %w", path, first, err)
		}
		rel = string(buf[:n]) + "/" + rest
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOSYS) {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("statfs %s: %w", path, err)
	}
	if sfs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("refusing to write %s: it is not on procfs (filesystem type %#x)", path, sfs.Type)
	}
	if _, err := unix.Write(fd, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
