// Package procfs is how the runtime uses /proc without trusting whatever is
// mounted there: a /proc that is not procfs (a symlink into a volume, a
// tmpfs an image or a racing container put there) would redirect the
// runtime's writes, or the mounts it makes through /proc/self/fd, to files
// of the attacker's choosing (runc's CVE-2019-19921, CVE-2023-27561,
// CVE-2025-52881). Every write and every /proc/self/fd path is checked to
// land on procfs first.
package procfs

import (
	"fmt"
	"os"
	"strconv"

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
