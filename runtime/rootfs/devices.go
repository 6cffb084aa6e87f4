package rootfs

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/inroot"
)

// DefaultDevices are the nodes every container gets.
var DefaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// devLinks are the /dev symlinks every container gets.
var devLinks = []struct{ link, target string }{
	{"/dev/fd", "/proc/self/fd"}, {"/dev/stdin", "/proc/self/fd/0"}, {"/dev/stdout", "/proc/self/fd/1"},
	{"/dev/stderr", "/proc/self/fd/2"}, {"/dev/ptmx", "pts/ptmx"},
}

// createDevices makes the default and configured device nodes and the /dev
// links inside root. Whatever the image has at those paths is replaced,
// and a /dev that is a symlink is followed only inside the root: nothing is
// ever made or removed outside it (runc's CVE-2026-41579, CVE-2024-45310).
func createDevices(o *Options, root *inroot.Root) error {
	devs := append([]specs.LinuxDevice(nil), DefaultDevices...)
	if o.Spec.Linux != nil {
		devs = append(devs, o.Spec.Linux.Devices...)
	}
	for _, d := range devs {
		if err := createDevice(o, root, d); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		if err := root.Symlink(l.target, l.link); err != nil {
			return err
		}
	}
	return nil
}

func createDevice(o *Options, root *inroot.Root, d specs.LinuxDevice) error {
	if o.UserNS {
		// mknod is denied in a user namespace: bind the host's node onto
		// a fresh file.
		h, err := root.ReplaceFile(d.Path, 0o666)
		if err != nil {
			return fmt.Errorf("create device mount point %s: %w", d.Path, err)
		}
		defer h.Close()
		if err := onHandle(h, func(target string) error { return unix.Mount(d.Path, target, "", unix.MS_BIND, "") }); err != nil {
			return fmt.Errorf("bind device %s: %w", d.Path, err)
		}
		return nil
	}
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode) & 0o7777
	}
	switch d.Type {
	case "c", "u":
		mode |= unix.S_IFCHR
	case "b":
		mode |= unix.S_IFBLK
	case "p":
		mode |= unix.S_IFIFO
	}
	h, err := root.Mknod(d.Path, mode, unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	if err != nil {
		return err
	}
	defer h.Close()
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(int(h.Fd()), "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("chown %s: %w", d.Path, err)
	}
	return nil
}
