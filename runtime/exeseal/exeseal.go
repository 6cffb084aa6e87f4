// Package exeseal gives the container's init a copy of the running
// executable that nothing can write. The init runs inside the container's
// namespaces, and its /proc/PID/exe is reachable from there (a
// startContainer hook is its child; "#!/proc/self/exe" makes it exec
// itself): were it the host's nsrun binary, a container could rewrite nsrun
// on the host once it stopped running (runc's CVE-2019-5736).
//
// Root gets, as from runc 1.2, a read-only overlayfs made with the new mount
// API and never attached anywhere, whose only layers are the binary's
// directory and an empty one: a superblock without an upper layer cannot be
// made writable, and no path on the host leads to it. A few system calls,
// no copy (about 0.7 ms of CPU to make and tear down). A read-only bind
// mount would be cheaper but is not sound: mount_setattr can clear the
// read-only flag of a detached mount's root for anyone holding it.
//
// An unprivileged user cannot make that overlay. Its containers run with at
// most its own rights on the host, so when it cannot write the binary
// (nsrun installed by root) neither can they, and the binary is used as it
// is. Otherwise (a binary the user owns, or no overlayfs) the init runs a
// memfd copy sealed against writes, growth and shrinking: a copy of the
// executable per container, 12-20 ms for nsrun's 7 MB here.
package exeseal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Kind says how an executable was sealed.
type Kind string

const (
	// Overlay is a read-only, detached overlayfs over the binary.
	Overlay Kind = "overlayfs"
	// Memfd is a write-sealed in-memory copy.
	Memfd Kind = "memfd"
	// Unwritable is the binary itself, which the unprivileged caller, and
	// so its containers, cannot write.
	Unwritable Kind = "unwritable"
)

// Open returns an O_PATH handle (overlay) or a sealed memfd holding the
// running executable, to execute through /proc/self/fd. emptyDir is an
// existing directory the overlay may use as its second, empty layer (only
// its absence of a file named like the binary matters).
func Open(emptyDir string) (*os.File, Kind, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, "", fmt.Errorf("find the running executable: %w", err)
	}
	if os.Geteuid() != 0 && unix.Faccessat(unix.AT_FDCWD, "/proc/self/exe", unix.W_OK, unix.AT_EACCESS) != nil {
		fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, "", fmt.Errorf("open /proc/self/exe: %w", err)
		}
		return os.NewFile(uintptr(fd), exe), Unwritable, nil
	}
	f, oerr := overlay(exe, emptyDir)
	if oerr == nil {
		return f, Overlay, nil
	}
	f, err = memfd()
	if err != nil {
		return nil, "", fmt.Errorf("seal a copy of %s for the container's init: overlayfs: %v; memfd: %w", exe, oerr, err)
	}
	return f, Memfd, nil
}

// overlay opens exe through a read-only overlayfs that exists only as a
// detached mount: the superblock has no upper layer, so neither the file
// nor the mount can ever be made writable.
func overlay(exe, emptyDir string) (*os.File, error) {
	if strings.HasSuffix(exe, " (deleted)") {
		return nil, fmt.Errorf("%s was replaced while running", exe)
	}
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	// Two lower layers and no upper one make a read-only overlay; the
	// binary's directory comes first, so nothing in emptyDir can shadow it.
	lower := escape(filepath.Dir(exe)) + ":" + escape(emptyDir)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("overlay lowerdir=%s: %w", lower, err)
	}
	// Inode-number remapping across layers is not needed and makes the
	// kernel log noise when the layers are on different filesystems.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create overlay over %s: %w", filepath.Dir(exe), err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(exe), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in the overlay: %w", filepath.Base(exe), err)
	}
	return os.NewFile(uintptr(fd), "overlay:"+exe), nil
}

// escape quotes the characters overlayfs's lowerdir list gives a meaning.
func escape(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `:`, `\:`)
}

// seals make a memfd immutable for good: no write, no resize, no unsealing.
const seals = unix.F_SEAL_SEAL | unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK

// memfd copies the running executable into a memfd and seals it.
func memfd() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer src.Close()
	// MFD_EXEC (Linux 6.3) keeps the copy executable where
	// vm.memfd_noexec would otherwise make new memfds non-executable;
	// older kernels refuse the flag and need none.
	fd, err := unix.MemfdCreate("nsrun-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("nsrun-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:nsrun-init")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy /proc/self/exe into a memfd: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal the memfd copy: %w", err)
	}
	return f, nil
}
