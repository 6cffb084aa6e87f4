//go:build !nsrun_naive

package inroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Lookup resolves p inside the root and returns an O_PATH handle to what it
// names (following symlinks, all of them kept inside the root).
func (r *Root) Lookup(p string) (*os.File, error) {
	f, err := r.lookup(p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", p, r.Path(), err)
	}
	return f, nil
}

// openat2 retries: the kernel answers EAGAIN when a rename elsewhere raced
// with a RESOLVE_IN_ROOT walk; a few tries, then it is an attack.
const openat2Tries = 16

func (r *Root) lookup(p string) (*os.File, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for i := 0; i < openat2Tries; i++ {
		fd, err := unix.Openat2(int(r.dir.Fd()), p, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), filepath.Join(r.Path(), p)), nil
		case errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.ENOSYS):
			// Linux < 5.6: securejoin's checked walk, one component at
			// a time.
			return securejoin.OpenatInRoot(r.dir, p)
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("openat2 kept failing with EAGAIN: the tree is being renamed under us")
}

// MkdirAll creates directory p and its missing parents inside the root and
// returns a handle to it. Symlinks on the way are followed inside the root,
// dangling ones too: a mount destination /data that the image links to the
// missing /srv/data gets /srv/data made, inside the root, as runc makes it.
func (r *Root) MkdirAll(p string, mode os.FileMode) (*os.File, error) {
	// SecureJoin resolves p lexically, never leaving the root, including
	// symlinks to what does not exist yet. The result is then walked one
	// component at a time from the root's handle, never following a
	// symlink: one swapped in meanwhile fails the walk instead of leading
	// anywhere.
	resolved, err := securejoin.SecureJoin(r.Path(), p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", p, r.Path(), err)
	}
	rel, err := filepath.Rel(r.Path(), resolved)
	if err != nil {
		return nil, fmt.Errorf("resolve %s in %s: %w", p, r.Path(), err)
	}
	dir, err := unix.Openat(int(r.dir.Fd()), ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.Path(), err)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "." || c == "" {
			continue
		}
		next, err := unix.Openat(dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(dir, c, uint32(mode.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(dir)
				return nil, fmt.Errorf("create directory %s in %s: mkdir %s: %w", p, r.Path(), c, err)
			}
			next, err = unix.Openat(dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		unix.Close(dir)
		if err != nil {
			return nil, fmt.Errorf("create directory %s in %s: open %s: %w", p, r.Path(), c, err)
		}
		dir = next
	}
	return os.NewFile(uintptr(dir), resolved), nil
}

// parent creates the directory holding p inside the root and returns it
// with p's last component. p may not end in "..", "." or "/".
func (r *Root) parent(p string) (*os.File, string, error) {
	clean := filepath.Clean("/" + p)
	base := filepath.Base(clean)
	if clean == "/" || base == ".." || base == "." {
		return nil, "", fmt.Errorf("%s names no entry of a directory in %s", p, r.Path())
	}
	dir, err := r.MkdirAll(filepath.Dir(clean), 0o755)
	if err != nil {
		return nil, "", err
	}
	return dir, base, nil
}

// MkFile returns a handle to p, a mount point for a file: what p resolves
// to inside the root when it exists and is no directory, else an empty
// file created there.
func (r *Root) MkFile(p string, mode os.FileMode) (*os.File, error) {
	if f, err := r.Lookup(p); err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			f.Close()
			return nil, fmt.Errorf("stat %s in %s: %w", p, r.Path(), err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return f, nil
		}
		f.Close()
		return nil, fmt.Errorf("create file %s in %s: a directory is there", p, r.Path())
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	dir, base, err := r.parent(p)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	// O_EXCL|O_NOFOLLOW: a symlink planted meanwhile is not followed.
	fd, err := unix.Openat(int(dir.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create file %s in %s: %w", p, r.Path(), err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return openNoFollow(dir, base, p, unix.S_IFREG)
}

// ReplaceFile makes p inside the root a new empty file, replacing whatever
// non-directory is there (a symlink is removed, not followed), and returns
// a handle to it: a mount point for a bind-mounted device node.
func (r *Root) ReplaceFile(p string, mode os.FileMode) (*os.File, error) {
	dir, base, err := r.parent(p)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	if err := unix.Unlinkat(int(dir.Fd()), base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("replace %s in %s: %w", p, r.Path(), err)
	}
	fd, err := unix.Openat(int(dir.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		return nil, fmt.Errorf("create file %s in %s: %w", p, r.Path(), err)
	}
	unix.Close(fd)
	return openNoFollow(dir, base, p, unix.S_IFREG)
}

// openNoFollow opens dir/base as an O_PATH handle without following a final
// symlink and checks that it has file type typ (unix.S_IFREG, ...).
func openNoFollow(dir *os.File, base, p string, typ uint32) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir.Name(), base))
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != typ {
		f.Close()
		return nil, fmt.Errorf("%s was replaced while it was being made (mode %#o)", p, st.Mode)
	}
	return f, nil
}

// Mknod makes a device node or fifo p inside the root, replacing whatever
// non-directory is there (an image's own /dev/null, say, which may be a
// symlink), and returns a handle to the new node. mode holds the file type
// (unix.S_IFCHR, ...) and permissions; the permissions are applied exactly,
// without the umask.
func (r *Root) Mknod(p string, mode uint32, dev uint64) (*os.File, error) {
	dir, base, err := r.parent(p)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	if err := unix.Unlinkat(int(dir.Fd()), base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("replace %s in %s: %w", p, r.Path(), err)
	}
	// mknod applies the umask; the mode asked for must hold. The init is
	// the only process here and makes nothing else meanwhile.
	old := unix.Umask(0)
	err = unix.Mknodat(int(dir.Fd()), base, mode, int(dev))
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("mknod %s in %s: %w", p, r.Path(), err)
	}
	f, err := openNoFollow(dir, base, p, mode&unix.S_IFMT)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Rdev != dev {
		f.Close()
		return nil, fmt.Errorf("%s was replaced while it was being made", p)
	}
	return f, nil
}

// Symlink makes p inside the root a symlink to target. An entry already at
// p is left alone: it lies inside the root whatever it is.
func (r *Root) Symlink(target, p string) error {
	dir, base, err := r.parent(p)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := unix.Symlinkat(target, int(dir.Fd()), base); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("link %s to %s in %s: %w", p, target, r.Path(), err)
	}
	return nil
}
