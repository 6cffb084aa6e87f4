package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/inroot"
)

// CgroupV1Mount is one v1 hierarchy as a "cgroup" mount shows it inside
// the container: the container's own directory of the hierarchy, under the
// name the host mounts the hierarchy by.
type CgroupV1Mount struct {
	// Name is the directory under the mount's destination: the base name
	// of the host's mount point ("memory", "cpu,cpuacct", "systemd").
	Name string `json:"name"`
	// Source is the container's cgroup directory in the hierarchy, as a
	// host path (the init sees the host's mounts until pivot_root).
	Source string `json:"source"`
}

// mountCgroupV1 does for a "cgroup" mount on a v1 or hybrid host what runc
// does: a tmpfs (nosuid, nodev, noexec, mode=755) at the destination, in it
// one directory per v1 hierarchy with the container's own cgroup of that
// hierarchy bind-mounted there with the mount's flags (read-only, as
// engines ask), and for co-mounted controllers ("cpu,cpuacct") a symlink
// per controller. The unified tree of a hybrid host is left out, as runc
// leaves it out. Without a cgroup of its own (rootless) the container gets
// the tmpfs alone, read-only: the host's hierarchies never show.
func mountCgroupV1(o *Options, root *inroot.Root, m specs.Mount, flags uintptr, prop []uintptr) error {
	dest, err := makeTarget(root, m.Destination, false, "")
	if err != nil {
		return err
	}
	tmpfsFlags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if len(o.CgroupV1) == 0 {
		tmpfsFlags |= unix.MS_RDONLY
	}
	err = onHandle(dest, func(target string) error { return unix.Mount("tmpfs", target, "tmpfs", tmpfsFlags, "mode=755") })
	dest.Close()
	if err != nil {
		return fmt.Errorf("mount tmpfs for cgroup on %s: %w", m.Destination, err)
	}
	for _, p := range prop {
		if err := onPath(root, m.Destination, func(target string) error { return unix.Mount("", target, "", p, "") }); err != nil {
			return fmt.Errorf("set propagation of %s: %w", m.Destination, err)
		}
	}
	for _, h := range o.CgroupV1 {
		if h.Name == "" || strings.ContainsRune(h.Name, '/') || h.Name == "." || h.Name == ".." {
			return fmt.Errorf("cgroup hierarchy name %q is no directory name", h.Name)
		}
		sub := filepath.Join(m.Destination, h.Name)
		if err := bindCgroup(root, h.Source, sub, flags); err != nil {
			return err
		}
		if names := strings.Split(h.Name, ","); len(names) > 1 {
			for _, c := range names {
				if err := root.Symlink(h.Name, filepath.Join(m.Destination, c)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func bindCgroup(root *inroot.Root, source, sub string, flags uintptr) error {
	st, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("container cgroup %s: %w", source, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("container cgroup %s is not a directory", source)
	}
	h, err := root.MkdirAll(sub, 0o755)
	if err != nil {
		return fmt.Errorf("create mount point %s: %w", sub, err)
	}
	err = onHandle(h, func(target string) error { return unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, "") })
	h.Close()
	if err != nil {
		return fmt.Errorf("bind cgroup %s on %s: %w", source, sub, err)
	}
	if flags&perMount != 0 {
		if err := onPath(root, sub, func(target string) error { return remountBind(target, flags) }); err != nil {
			return fmt.Errorf("bind cgroup %s on %s: %w", source, sub, err)
		}
	}
	return nil
}
