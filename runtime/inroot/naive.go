//go:build nsrun_naive

// This file is the deliberately naive twin of resolve.go, built only with
// -tags nsrun_naive: the conformance self-test runs such an nsrun to show
// that the hostile-image invariants catch a runtime that makes what it
// needs at plainly joined paths (following the image's symlinks out of the
// rootfs, as nsrun's /dev links did before issue 10) while it resolves
// what it mounts on lexically. Never build a runtime for use with that tag.

package inroot

import (
	"errors"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

func (r *Root) join(p string) string { return filepath.Join(r.Path(), p) }

// Lookup resolves p lexically (filepath-securejoin) and opens the result.
func (r *Root) Lookup(p string) (*os.File, error) {
	resolved, err := securejoin.SecureJoin(r.Path(), p)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(resolved, unix.O_PATH|unix.O_CLOEXEC, 0)
}

// MkdirAll is os.MkdirAll of the joined path, and of the lexically
// resolved one it then returns.
func (r *Root) MkdirAll(p string, mode os.FileMode) (*os.File, error) {
	resolved, err := securejoin.SecureJoin(r.Path(), p)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{r.join(p), resolved} {
		if err := os.MkdirAll(d, mode); err != nil {
			return nil, err
		}
	}
	return r.Lookup(p)
}

// MkFile creates the joined path and the lexically resolved one.
func (r *Root) MkFile(p string, mode os.FileMode) (*os.File, error) {
	resolved, err := securejoin.SecureJoin(r.Path(), p)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{r.join(p), resolved} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return nil, err
		}
		h, err := os.OpenFile(f, os.O_CREATE|os.O_RDONLY, mode)
		if err != nil {
			return nil, err
		}
		h.Close()
	}
	return r.Lookup(p)
}

// ReplaceFile is MkFile.
func (r *Root) ReplaceFile(p string, mode os.FileMode) (*os.File, error) { return r.MkFile(p, mode) }

// Mknod makes the node at the joined path.
func (r *Root) Mknod(p string, mode uint32, dev uint64) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(r.join(p)), 0o755); err != nil {
		return nil, err
	}
	_ = unix.Unlink(r.join(p))
	old := unix.Umask(0)
	err := unix.Mknod(r.join(p), mode, int(dev))
	unix.Umask(old)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(r.join(p), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// Symlink makes the link at the joined path.
func (r *Root) Symlink(target, p string) error {
	if err := os.Symlink(target, r.join(p)); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
