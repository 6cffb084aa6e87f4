package rootfs

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/inroot"
)

// Pivot makes rootfs the root and detaches the old root, so no path leads
// back to the host's filesystem.
func Pivot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root %s: %w", rootfs, err)
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("chdir to %s: %w", rootfs, err)
	}
	// pivot_root(".", ".") stacks the old root on top of the new one; no
	// directory inside the rootfs is needed to hold it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root to %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	// Slave first, so the detach cannot propagate to the host's mounts.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	return nil
}

// Finish runs after pivot_root: masked and read-only paths, a read-only
// root, and a shared root when the config asked for one. Paths resolve
// inside the new root, and the mounts are made with the file-descriptor
// mount API (open_tree, move_mount, mount_setattr): nothing is looked up
// through the container's /proc, which the image may have replaced.
func Finish(s *specs.Spec) error {
	// The root goes read-only first, as runc makes it: a masked file's
	// bind of a /dev/null that lies on the root is read-only then too.
	if s.Root != nil && s.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	if l := s.Linux; l != nil {
		root, err := inroot.Open("/")
		if err != nil {
			return err
		}
		defer root.Close()
		// Read-only paths first, then masked ones, in runc's order: a
		// masked path under a read-only one (/proc/sys/...) is mounted on
		// top of it.
		for _, p := range l.ReadonlyPaths {
			if err := readonly(root, p); err != nil {
				return err
			}
		}
		m := masker{root: root}
		defer m.close()
		for _, p := range l.MaskedPaths {
			if err := m.mask(p); err != nil {
				return err
			}
		}
		if isShared(l.RootfsPropagation) {
			if err := unix.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("make / rshared: %w", err)
			}
		}
	}
	return nil
}

// newMountAPI names the kernel this needs when a call is missing.
const newMountAPI = "nsrun needs Linux 5.12 or later (open_tree, move_mount, mount_setattr)"

// masker masks paths: files with the container's /dev/null, directories
// with an empty read-only tmpfs.
type masker struct {
	root *inroot.Root
	null *os.File
}

func (m *masker) close() {
	if m.null != nil {
		m.null.Close()
	}
}

// devNull returns the container's /dev/null after checking that it is the
// null character device (1:3). Were it anything else (a symlink to a
// sysctl, a file of the image's) every masked file would become a
// read-write bind of that: runc's CVE-2025-31133.
func (m *masker) devNull() (*os.File, error) {
	if m.null != nil {
		return m.null, nil
	}
	h, err := m.root.Lookup("/dev/null")
	if err != nil {
		return nil, fmt.Errorf("linux.maskedPaths: masking files needs /dev/null: %w", err)
	}
	if err := checkDevNull(h); err != nil {
		h.Close()
		return nil, fmt.Errorf("linux.maskedPaths: refusing to mask with /dev/null: %w", err)
	}
	m.null = h
	return h, nil
}

func (m *masker) mask(p string) error {
	target, err := m.root.Lookup(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	defer target.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(target.Fd()), &st); err != nil {
		return fmt.Errorf("mask %s: stat: %w", p, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := emptyTmpfsOn(target); err != nil {
			return fmt.Errorf("mask directory %s: %w", p, err)
		}
		return nil
	}
	null, err := m.devNull()
	if err != nil {
		return err
	}
	if err := bindOnto(null, target, false); err != nil {
		return fmt.Errorf("mask %s with /dev/null: %w", p, err)
	}
	return nil
}

// emptyTmpfsOn mounts an empty tmpfs, read-only down to its superblock, on
// the directory target. The mount is read-only and nothing else, as runc
// mounts it: with no file in it, nosuid, nodev or noexec would guard
// nothing, and the container sees the same mount options under both.
func emptyTmpfsOn(target *os.File) error {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen tmpfs: %w (%s)", err, newMountAPI)
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigSetFlag(ctx, "ro"); err != nil {
		return fmt.Errorf("tmpfs ro: %w", err)
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return fmt.Errorf("create tmpfs: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return fmt.Errorf("fsmount tmpfs: %w", err)
	}
	defer unix.Close(mnt)
	return moveOnto(mnt, target)
}

// bindOnto bind-mounts what src holds onto target, recursively and read-only
// when asked.
func bindOnto(src, target *os.File, readOnly bool) error {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if readOnly {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(int(src.Fd()), "", flags)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w (%s)", src.Name(), err, newMountAPI)
	}
	defer unix.Close(tree)
	if readOnly {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("make a copy of %s read-only: %w (%s)", src.Name(), err, newMountAPI)
		}
	}
	return moveOnto(tree, target)
}

// moveOnto attaches the detached mount mnt on top of target.
func moveOnto(mnt int, target *os.File) error {
	if err := unix.MoveMount(mnt, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount onto %s: %w", target.Name(), err)
	}
	return nil
}

// readonly makes p (and every mount under it) read-only with a read-only
// recursive bind of itself.
func readonly(root *inroot.Root, p string) error {
	target, err := root.Lookup(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	defer target.Close()
	if err := bindOnto(target, target, true); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}
