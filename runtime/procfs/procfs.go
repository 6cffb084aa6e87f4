// Package procfs is how the runtime uses /proc without trusting whatever is
// mounted there: a /proc that is not procfs (a symlink into a volume, a
// tmpfs an image or a racing container put there) would redirect the
// runtime's writes, or the mounts it makes through /proc/self/fd, to files
// of the attacker's choosing (runc's CVE-2019-19921, CVE-2023-27561,
// CVE-2025-52881). Every write and every /proc/self/fd path is checked to
// land on procfs first.
package procfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// rootIno is the inode number of every procfs mount's root (PROC_ROOT_INO).
const rootIno = 1

// checkRoot verifies that dir is the root of a procfs mount.
func checkRoot(dir string) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	if sfs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not procfs (filesystem type %#x)", dir, sfs.Type)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if st.Ino != rootIno {
		return fmt.Errorf("%s is not the root of a procfs mount (inode %d)", dir, st.Ino)
	}
	return nil
}

// FDPath returns the /proc/self/fd path of f, for system calls that take a
// path (mount(2)) to act on exactly the file f holds, after checking that
// /proc is procfs.
func FDPath(f *os.File) (string, error) {
	if err := checkRoot("/proc"); err != nil {
		return "", fmt.Errorf("use %s through /proc/self/fd: %w", f.Name(), err)
	}
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())), nil
}

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
