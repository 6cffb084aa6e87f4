// Package atomicfile replaces files and directories so that a reader sees
// the old one or the new one, never a torn one, and two concurrent writers
// never share a temporary name: each writes its own temporary in the
// target's directory (a rename does not cross filesystems) and renames it
// into place. It is the one place in nsbench that does this: runtime
// state, leases, pid files, results, cached images and unpacked trees.
package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/flock"
)

// Write replaces path with data, mode perm. Once it returns, data is on
// disk: the file is fsynced before the rename and its directory after, so
// a crash leaves the old content or the new, not an empty file. On error
// path is unchanged and no temporary is left. A path that names a device,
// a FIFO, a socket or a directory is refused: renaming over /dev/null (a
// --pid-file or -out of /dev/null) would replace the host's null device
// with a regular file.
func Write(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, true)
}

// WriteVolatile replaces path with data as Write does, atomically for
// readers and with the same refusals, but without the two fsyncs: for
// files whose content is meaningless after a crash of the machine anyway,
// such as a container runtime's state (the processes it describes died
// with the boot). The fsyncs cost a journal commit each on ext4, the
// largest part of saving nsrun's record.
func WriteVolatile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, sync bool) (err error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("write %s: it is a %s, not a regular file: refusing to replace it (name a regular file)", path, kind(fi.Mode()))
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	// CreateTemp makes 0600; umask does not apply to fchmod.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("write %s: fsync: %w", tmp.Name(), err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	return syncDir(dir)
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "block device"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// Dir makes directory path by fill, which writes the tree into a fresh
// temporary directory beside path; the tree is then renamed into place.
// When another writer put path there meanwhile, its tree is kept and this
// one removed: callers use Dir for content named by what it holds (caches),
// where either tree serves. On error nothing is left but what was there.
//
// A writer killed while it fills (SIGKILL, a crash) cannot remove its
// temporary. Each writer therefore holds an flock on its temporary while
// it fills, and Dir first removes the temporaries of path that nobody
// holds: their writers are gone. One whose writer is still at work stays.
func Dir(path string, fill func(tmp string) error) error {
	parent, base := filepath.Split(path)
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	// A name of its own (not Write's ".tmp-"): only temporaries of writers
	// that lock them are swept, never one an older nsbench, which did not
	// lock, is filling beside this one.
	prefix := "." + base + ".dirtmp-"
	sweep(parent, prefix)
	tmp, unlock, err := lockedTemp(parent, prefix)
	if err != nil {
		return fmt.Errorf("create a temporary directory for %s: %w", path, err)
	}
	defer unlock()
	// MkdirTemp makes 0700; the trees here are read by other users (the
	// rootless tests, a VM image builder running unprivileged).
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			return nil // another writer won; its tree serves
		}
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return syncDir(parent)
}

// lockedTemp makes a temporary directory in parent and locks it. Between
// the two a sweep may take it for a dead writer's and remove it: then it
// tries again with a new one.
func lockedTemp(parent, prefix string) (string, func(), error) {
	for attempt := 0; ; attempt++ {
		tmp, err := os.MkdirTemp(parent, prefix+"*")
		if err != nil {
			return "", nil, err
		}
		made, err := os.Lstat(tmp)
		if err != nil {
			return "", nil, err
		}
		// Only a sweep can hold the lock of a new temporary, and only
		// while it removes it.
		unlock, err := flock.LockDir(context.Background(), tmp)
		if err == nil {
			if now, err := os.Lstat(tmp); err == nil && os.SameFile(made, now) {
				return tmp, unlock, nil
			}
			unlock()
		}
		if attempt == 10 {
			return "", nil, fmt.Errorf("%s: swept by other writers %d times in a row", tmp, attempt+1)
		}
	}
}

// sweep removes the temporaries in parent named prefix* that no writer
// holds. It is best effort: what it cannot remove is no concern of the
// Dir call that found it (the next one tries again).
func sweep(parent, prefix string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		tmp := filepath.Join(parent, e.Name())
		unlock, ok, err := flock.TryLockDir(tmp)
		if err != nil || !ok {
			continue
		}
		os.RemoveAll(tmp)
		unlock()
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to fsync it: %w", dir, err)
	}
	defer d.Close()
	// Some filesystems (a few FUSE ones) cannot fsync a directory; the
	// rename itself is done, so that is not worth failing for.
	if err := d.Sync(); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTSUP) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
