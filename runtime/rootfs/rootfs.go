// Package rootfs builds a container's root filesystem inside its new mount
// namespace: propagation, the rootfs bind mount, the config's mounts, device
// nodes, pivot_root, then masked and read-only paths. It runs in the
// container's init, so nothing it mounts is ever in the host's mount table.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/mountinfo"
	"github.com/nsbench/nsbench/runtime/spec"
)

// Options describe one root filesystem.
type Options struct {
	Spec *specs.Spec
	// Rootfs is the absolute path of the root filesystem directory.
	Rootfs string
	// UserNS is set when the container has its own user namespace: device
	// nodes are then bind-mounted from the host, since mknod is denied.
	UserNS bool
	// CgroupV2 is the host's cgroup2 mount, for a "cgroup" mount inside.
	CgroupV2 bool
}

func isShared(p string) bool { return p == "shared" || p == "rshared" }

// Prepare runs before pivot_root: propagation, rootfs bind, mounts, /dev.
func Prepare(o *Options) error {
	l := o.Spec.Linux
	prop := ""
	if l != nil {
		prop = l.RootfsPropagation
	}
	switch {
	case prop == "":
		// Private by default: nothing the container mounts reaches the host,
		// and nothing the host mounts later reaches the container.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make / rprivate: %w", err)
		}
	case isShared(prop):
		// Leave the host's peer groups as they are: a shared root is what
		// the config asked for.
	default:
		if err := unix.Mount("", "/", "", unix.MS_REC|spec.PropagationFlags[prop], ""); err != nil {
			return fmt.Errorf("make / %s: %w", prop, err)
		}
	}
	// pivot_root refuses a new root whose parent mount is shared.
	if err := privateParent(o.Rootfs); err != nil {
		return err
	}
	if err := unix.Mount(o.Rootfs, o.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", o.Rootfs, err)
	}
	if isShared(prop) {
		// pivot_root refuses a shared new root too.
		if err := unix.Mount("", o.Rootfs, "", unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make rootfs %s private for pivot_root: %w", o.Rootfs, err)
		}
	}
	devMounted := false
	for _, m := range o.Spec.Mounts {
		if err := mountOne(o, m); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" {
			devMounted = true
		}
	}
	if devMounted {
		if err := createDevices(o); err != nil {
			return err
		}
	}
	return nil
}

// privateParent makes the mount holding rootfs's parent directory private
// when it is shared, in this namespace only.
func privateParent(rootfs string) error {
	mp, shared, err := mountOf(filepath.Dir(rootfs))
	if err != nil {
		return err
	}
	if !shared {
		return nil
	}
	if err := unix.Mount("", mp, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private for pivot_root: %w", mp, err)
	}
	return nil
}

// mountOf finds the mount point holding path and whether it is shared.
func mountOf(path string) (string, bool, error) {
	ms, err := mountinfo.Self()
	if err != nil {
		return "", false, err
	}
	m, ok := mountinfo.Holding(ms, path)
	if !ok {
		return "", false, fmt.Errorf("no mount holds %s", path)
	}
	return m.Mountpoint, m.Shared(), nil
}

// options splits OCI mount options into flags to set, propagation flags and
// the filesystem data string.
func options(opts []string) (flags uintptr, prop []uintptr, data string) {
	var d []string
	for _, o := range opts {
		if f, ok := spec.MountFlags[o]; ok {
			if f.Clear {
				flags &^= f.Flag
			} else {
				flags |= f.Flag
			}
			continue
		}
		if p, ok := spec.PropagationFlags[o]; ok {
			prop = append(prop, p)
			continue
		}
		d = append(d, o)
	}
	return flags, prop, strings.Join(d, ",")
}

func mountOne(o *Options, m specs.Mount) error {
	dest, err := securejoin.SecureJoin(o.Rootfs, m.Destination)
	if err != nil {
		return fmt.Errorf("resolve mount destination %s in %s: %w", m.Destination, o.Rootfs, err)
	}
	flags, prop, data := options(m.Options)
	bind := m.Type == "bind" || flags&unix.MS_BIND != 0
	typ := m.Type
	if typ == "cgroup" {
		if !o.CgroupV2 {
			// A v1 host's hierarchies cannot be shown under one mount; an
			// empty read-only tmpfs keeps the path from leaking the host's.
			typ, data, flags = "tmpfs", "mode=755", flags|unix.MS_RDONLY
		} else {
			typ = "cgroup2"
		}
	}
	if err := makeTarget(dest, bind, m.Source); err != nil {
		return err
	}
	src := m.Source
	if bind {
		typ = ""
	}
	what := fmt.Sprintf("mount %s on %s", m.Type, m.Destination)
	if bind {
		what = fmt.Sprintf("bind %s on %s", m.Source, m.Destination)
	}
	first := flags
	if bind {
		// A bind ignores per-mount flags; they take a remount.
		first &^= perMount
	}
	if err := unix.Mount(src, dest, typ, first, data); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if bind && flags&perMount != 0 {
		if err := remountBind(dest, flags); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	for _, p := range prop {
		if err := unix.Mount("", dest, "", p, ""); err != nil {
			return fmt.Errorf("set propagation of %s: %w", m.Destination, err)
		}
	}
	return nil
}

// perMount are the flags a bind mount only takes through a remount.
const perMount = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// remountBind applies flags to a bind mount, keeping those the kernel
// locked on the source (a user namespace may not clear them).
func remountBind(dest string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dest, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dest, err)
	}
	locked := uintptr(0)
	for _, x := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&x.st != 0 {
			locked |= x.ms
		}
	}
	if flags&(unix.MS_NOATIME|unix.MS_RELATIME|unix.MS_STRICTATIME) != 0 {
		locked &^= unix.MS_NOATIME | unix.MS_RELATIME
	}
	keep := flags & perMount
	if err := unix.Mount("", dest, "", unix.MS_BIND|unix.MS_REMOUNT|keep|locked, ""); err != nil {
		return fmt.Errorf("remount %s with flags %#x: %w", dest, keep|locked, err)
	}
	return nil
}

// makeTarget creates the mount point: a directory, or an empty file when a
// file is bind-mounted.
func makeTarget(dest string, bind bool, source string) error {
	if bind {
		st, err := os.Stat(source)
		if err != nil {
			return fmt.Errorf("bind source %s: %w", source, err)
		}
		if !st.IsDir() {
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				return fmt.Errorf("create %s: %w", filepath.Dir(dest), err)
			}
			f, err := os.OpenFile(dest, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return fmt.Errorf("create mount point %s: %w", dest, err)
			}
			return f.Close()
		}
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("create mount point %s: %w", dest, err)
	}
	return nil
}

// DefaultDevices are the nodes every container gets.
var DefaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

func createDevices(o *Options) error {
	devs := append([]specs.LinuxDevice(nil), DefaultDevices...)
	if o.Spec.Linux != nil {
		devs = append(devs, o.Spec.Linux.Devices...)
	}
	for _, d := range devs {
		dest, err := securejoin.SecureJoin(o.Rootfs, d.Path)
		if err != nil {
			return fmt.Errorf("resolve device %s: %w", d.Path, err)
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(dest), err)
		}
		if o.UserNS {
			// mknod is denied in a user namespace: bind the host's node.
			f, err := os.OpenFile(dest, os.O_CREATE|os.O_RDONLY, 0o666)
			if err != nil {
				return fmt.Errorf("create device mount point %s: %w", d.Path, err)
			}
			f.Close()
			if err := unix.Mount(d.Path, dest, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind device %s: %w", d.Path, err)
			}
			continue
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(*d.FileMode)
		}
		switch d.Type {
		case "c", "u":
			mode |= unix.S_IFCHR
		case "b":
			mode |= unix.S_IFBLK
		case "p":
			mode |= unix.S_IFIFO
		}
		_ = unix.Unlink(dest)
		if err := unix.Mknod(dest, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
			return fmt.Errorf("mknod %s: %w", d.Path, err)
		}
		// mknod applies the umask; the configured mode must hold.
		if err := unix.Chmod(dest, mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", d.Path, err)
		}
		uid, gid := 0, 0
		if d.UID != nil {
			uid = int(*d.UID)
		}
		if d.GID != nil {
			gid = int(*d.GID)
		}
		if err := unix.Chown(dest, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", d.Path, err)
		}
	}
	for link, target := range map[string]string{
		"/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0", "/dev/stdout": "/proc/self/fd/1",
		"/dev/stderr": "/proc/self/fd/2", "/dev/ptmx": "pts/ptmx",
	} {
		p := filepath.Join(o.Rootfs, link)
		if err := os.Symlink(target, p); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("link %s to %s: %w", link, target, err)
		}
	}
	return nil
}

// Pivot makes rootfs the root and detaches the old root, so no path leads
// back to the host's filesystem.
func Pivot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
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
// root, and a shared root when the config asked for one.
func Finish(s *specs.Spec) error {
	if l := s.Linux; l != nil {
		for _, p := range l.MaskedPaths {
			if err := mask(p); err != nil {
				return err
			}
		}
		for _, p := range l.ReadonlyPaths {
			if err := readonly(p); err != nil {
				return err
			}
		}
		if isShared(l.RootfsPropagation) {
			if err := unix.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("make / rshared: %w", err)
			}
		}
	}
	if s.Root != nil && s.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	return nil
}

func mask(p string) error {
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if st.IsDir() {
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0"); err != nil {
			return fmt.Errorf("mask directory %s: %w", p, err)
		}
		return nil
	}
	if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mask %s with /dev/null: %w", p, err)
	}
	return nil
}

func readonly(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("bind %s read-only: %w", p, err)
	}
	if err := remountBind(p, unix.MS_RDONLY); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}
