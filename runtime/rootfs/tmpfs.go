package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/inroot"
)

// A tmpfs mount as runc makes it: with the "tmpcopyup" option (runc's
// extension, which podman asks for on every --tmpfs) the directory's files
// are copied into the new tmpfs, and a tmpfs over an existing directory
// gets that directory's mode unless the config's options name one
// (runc 1.1.8 and later, crun 1.12 and later: the mode goes into the
// mount's data, so a mode= of the config wins; runc before 1.1.8 chmodded
// the tmpfs back afterwards and so ignored mode= on existing directories).

// withDirMode puts the mode of the directory a tmpfs covers first into its
// data options, where a later mode= of the config overrides it.
func withDirMode(data string, before *unix.Stat_t) string {
	if before == nil || before.Mode&unix.S_IFMT != unix.S_IFDIR {
		return data
	}
	mode := fmt.Sprintf("mode=%o", before.Mode&07777)
	if data == "" {
		return mode
	}
	return mode + "," + data
}

// splitCopyUp removes "tmpcopyup" from a mount's data options.
func splitCopyUp(data string) (string, bool) {
	var keep []string
	copyUp := false
	for _, o := range strings.Split(data, ",") {
		switch o {
		case "":
		case "tmpcopyup":
			copyUp = true
		default:
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, ","), copyUp
}

// statIn returns what p inside root is, or nil if nothing is there yet.
func statIn(root *inroot.Root, p string) (*unix.Stat_t, error) {
	h, err := root.Lookup(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", p, err)
	}
	return &st, nil
}

// afterTmpfs finishes a tmpfs just mounted at p: copies the files of under
// (a handle to the directory the tmpfs now covers) into it when copyUp.
func afterTmpfs(root *inroot.Root, p string, under *os.File, before *unix.Stat_t, copyUp bool) error {
	top, err := root.Lookup(p)
	if err != nil {
		return err
	}
	defer top.Close()
	if copyUp && before != nil && before.Mode&unix.S_IFMT == unix.S_IFDIR {
		src, err := openDir(under, ".")
		if err != nil {
			return fmt.Errorf("tmpcopyup %s: %w", p, err)
		}
		defer src.Close()
		dst, err := openDir(top, ".")
		if err != nil {
			return fmt.Errorf("tmpcopyup %s: %w", p, err)
		}
		defer dst.Close()
		if err := copyTree(src, dst); err != nil {
			return fmt.Errorf("tmpcopyup %s: %w", p, err)
		}
	}
	return nil
}

// openDir opens name under dir as a directory that can be read, without
// following a symlink.
func openDir(dir *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", name, dir.Name(), err)
	}
	return os.NewFile(uintptr(fd), dir.Name()+"/"+name), nil
}

// copyTree copies the entries of src into dst, keeping modes and owners:
// directories, regular files, symlinks (never followed: the image may point
// them anywhere) and device, FIFO and socket nodes.
func copyTree(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("list %s: %w", src.Name(), err)
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(src, dst *os.File, name string) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s/%s: %w", src.Name(), name, err)
	}
	mode := st.Mode & 07777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
			return fmt.Errorf("create %s/%s: %w", dst.Name(), name, err)
		}
		s, err := openDir(src, name)
		if err != nil {
			return err
		}
		defer s.Close()
		d, err := openDir(dst, name)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := copyTree(s, d); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(sfd, dfd, name, src.Name()); err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(sfd, name, buf)
		if err != nil {
			return fmt.Errorf("read link %s/%s: %w", src.Name(), name, err)
		}
		if err := unix.Symlinkat(string(buf[:n]), dfd, name); err != nil {
			return fmt.Errorf("create link %s/%s: %w", dst.Name(), name, err)
		}
		if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s/%s: %w", dst.Name(), name, err)
		}
		return nil
	default:
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("create node %s/%s: %w", dst.Name(), name, err)
		}
	}
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s/%s: %w", dst.Name(), name, err)
	}
	if err := unix.Fchmodat(dfd, name, mode, 0); err != nil {
		return fmt.Errorf("chmod %s/%s: %w", dst.Name(), name, err)
	}
	return nil
}

func copyFile(sfd, dfd int, name, srcDir string) error {
	in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s/%s: %w", srcDir, name, err)
	}
	inf := os.NewFile(uintptr(in), name)
	defer inf.Close()
	out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	outf := os.NewFile(uintptr(out), name)
	if _, err := io.Copy(outf, inf); err != nil {
		outf.Close()
		return fmt.Errorf("copy %s/%s: %w", srcDir, name, err)
	}
	return outf.Close()
}
