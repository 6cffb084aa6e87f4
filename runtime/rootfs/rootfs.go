// Package rootfs builds a container's root filesystem inside its new mount
// namespace: propagation, the rootfs bind mount, the config's mounts, device
// nodes, pivot_root, then masked and read-only paths. It runs in the
// container's init, so nothing it mounts is ever in the host's mount table.
//
// The rootfs comes from an image and is hostile: every path inside it is
// resolved by package inroot (symlinks and ".." stay inside the root) into a
// handle, and mounts go onto that handle, never onto a joined path string.
package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/mountinfo"
	"github.com/nsbench/nsbench/runtime/inroot"
	"github.com/nsbench/nsbench/runtime/procfs"
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
	// CgroupV2 is set on a cgroup v2 host: a "cgroup" mount is cgroup2.
	CgroupV2 bool
	// CgroupV1 are the container's v1 hierarchies for a "cgroup" mount
	// on a v1 or hybrid host.
	CgroupV1 []CgroupV1Mount
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
	// Opened after the bind, so the handle is the new mount's root.
	root, err := inroot.Open(o.Rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	for i, m := range o.Spec.Mounts {
		if err := mountOne(o, root, i, m); err != nil {
			return err
		}
	}
	if !needDevices(o.Spec.Mounts) {
		return nil
	}
	return createDevices(o, root)
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
		if _, ok := spec.RecursiveFlags[o]; ok {
			continue // applied after the mount (mountOne)
		}
		d = append(d, o)
	}
	return flags, prop, strings.Join(d, ",")
}

func mountOne(o *Options, root *inroot.Root, i int, m specs.Mount) error {
	flags, prop, data := options(m.Options)
	bind := m.Type == "bind" || flags&unix.MS_BIND != 0
	typ := m.Type
	if typ == "cgroup" {
		if !o.CgroupV2 {
			return mountCgroupV1(o, root, m, flags, prop)
		}
		typ = "cgroup2"
	}
	if err := checkDestination(root, i, m, typ); err != nil {
		return err
	}
	data, copyUp := splitCopyUp(data)
	var before *unix.Stat_t
	if typ == "tmpfs" {
		var err error
		if before, err = statIn(root, m.Destination); err != nil {
			return err
		}
		data = withDirMode(data, before)
	}
	dest, err := makeTarget(root, m.Destination, bind, m.Source)
	if err != nil {
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
	err = onHandle(dest, func(target string) error { return unix.Mount(src, target, typ, first, data) })
	if err == nil && typ == "tmpfs" {
		// dest still holds the directory the tmpfs now covers.
		err = afterTmpfs(root, m.Destination, dest, before, copyUp)
	}
	dest.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if bind && flags&perMount != 0 {
		if err := onPath(root, m.Destination, func(target string) error { return remountBind(target, flags) }); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if bind && flags&(unix.MS_REC|unix.MS_RDONLY) == unix.MS_REC|unix.MS_RDONLY {
		if err := readOnlyBelow(root, m.Destination); err != nil {
			return fmt.Errorf("%s: make every mount under it read-only: %w", what, err)
		}
	}
	for _, p := range prop {
		if err := onPath(root, m.Destination, func(target string) error { return unix.Mount("", target, "", p, "") }); err != nil {
			return fmt.Errorf("set propagation of %s: %w", m.Destination, err)
		}
	}
	// runc's recursive options (rro, rnosuid, ...): the mount and every
	// mount under it.
	if attr, ok := spec.RecursiveAttr(m.Options); ok {
		err := onPath(root, m.Destination, func(target string) error {
			return unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &attr)
		})
		if err != nil {
			return fmt.Errorf("%s: recursive options: %w", what, err)
		}
	}
	return nil
}

// onHandle runs op with the /proc/self/fd path of h: a mount made there
// lands exactly on what h holds.
func onHandle(h *os.File, op func(target string) error) error {
	target, err := procfs.FDPath(h)
	if err != nil {
		return err
	}
	return op(target)
}

// onPath resolves p inside root again, so the handle is whatever is now
// mounted there, and runs op on it.
func onPath(root *inroot.Root, p string, op func(target string) error) error {
	h, err := root.Lookup(p)
	if err != nil {
		return err
	}
	defer h.Close()
	return onHandle(h, op)
}

// perMount are the flags a bind mount only takes through a remount.
const perMount = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// remountBind applies flags to the bind mount at dest (a path or a
// /proc/self/fd path), keeping those the kernel locked on the source (a
// user namespace may not clear them).
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

// makeTarget creates the mount point dest inside root and returns a handle
// to it: a directory, or an empty file when a file is bind-mounted.
func makeTarget(root *inroot.Root, dest string, bind bool, source string) (*os.File, error) {
	if bind {
		st, err := os.Stat(source)
		if err != nil {
			return nil, fmt.Errorf("bind source %s: %w", source, err)
		}
		if !st.IsDir() {
			h, err := root.MkFile(dest, 0o644)
			if err != nil {
				return nil, fmt.Errorf("create mount point %s: %w", dest, err)
			}
			return h, nil
		}
	}
	h, err := root.MkdirAll(dest, 0o755)
	if err != nil {
		return nil, fmt.Errorf("create mount point %s: %w", dest, err)
	}
	return h, nil
}
