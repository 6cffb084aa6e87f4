// Package inroot resolves and creates paths inside a container's root
// filesystem without ever leaving it. Symlinks (absolute or relative), ".."
// and /proc magic links are resolved as if the root were "/": by
// openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) where the kernel has it,
// and by filepath-securejoin's checked component walk elsewhere. Every path
// nsrun resolves inside a rootfs (mount destinations, /dev entries, mask
// sources and targets, the cwd, startContainer hooks) goes through here.
//
// Results are O_PATH handles: what was checked is what gets used. A mount
// goes onto the handle (its /proc/self/fd path, or move_mount), never onto a
// path string that could be resolved again differently.
package inroot

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Root is an open root filesystem.
type Root struct {
	dir *os.File
}

// Open opens the directory path as a root. path itself must be a real
// directory, not a symlink to one: which directory is the root is the
// caller's decision, made before.
func Open(path string) (*Root, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", path, err)
	}
	return &Root{dir: os.NewFile(uintptr(fd), path)}, nil
}

// Close releases the root's handle.
func (r *Root) Close() error { return r.dir.Close() }

// Path is the root's path as it was opened.
func (r *Root) Path() string { return r.dir.Name() }
