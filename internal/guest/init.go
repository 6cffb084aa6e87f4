package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Init is PID 1 of the guest. It never returns: it powers the guest
// off, after writing every result to the share (lockdown on the hardened
// kernel blocks isa-debug-exit, so results go back through the share).
func Init(console io.Writer) {
	err := guestInit(console)
	if err != nil {
		fmt.Fprintf(console, "nsinit: %v\n", err)
		_ = os.WriteFile(filepath.Join(ShareMount, "init-error"), []byte(err.Error()+"\n"), 0o644)
	}
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}

func guestInit(console io.Writer) error {
	if os.Getenv("NSINIT_STAGE") != "2" {
		// pivot_root refuses to move the initramfs rootfs, so containers
		// could not be made on it: copy it into a tmpfs and make that the
		// root (what switch_root does), then start again from the copy.
		if err := switchRoot(); err != nil {
			return err
		}
		if err := unix.Exec("/init", []string{"/init"}, append(os.Environ(), "NSINIT_STAGE=2", "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")); err != nil {
			return fmt.Errorf("exec /init in the new root: %w", err)
		}
	}
	for _, m := range []struct{ src, dst, typ, data string }{
		{"proc", "/proc", "proc", ""}, {"sysfs", "/sys", "sysfs", ""}, {"devtmpfs", "/dev", "devtmpfs", ""},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777"}, {"tmpfs", "/run", "tmpfs", "mode=755"},
		{"cgroup2", "/sys/fs/cgroup", "cgroup2", ""}, {"devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666"},
		{"mqueue", "/dev/mqueue", "mqueue", ""},
		// POSIX shared memory, as on any Linux system (podman keeps its
		// locks there).
		{"tmpfs", "/dev/shm", "tmpfs", "mode=1777"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.typ, 0, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.typ, m.dst, err)
		}
	}
	if err := loadModules(console); err != nil {
		return err
	}
	// The image carries busybox without its applet links: a busybox of
	// another arch cannot be asked for its applet list on the host, so the
	// guest's own busybox makes them.
	if out, err := exec.Command("/bin/busybox", "--install", "-s").CombinedOutput(); err != nil {
		return fmt.Errorf("busybox --install -s: %w: %s", err, out)
	}
	// Enable every controller for the containers' cgroups.
	if ctrls, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		var plus []string
		for _, c := range strings.Fields(string(ctrls)) {
			plus = append(plus, "+"+c)
		}
		_ = os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte(strings.Join(plus, " ")), 0)
	}
	if err := os.MkdirAll(ShareMount, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(ShareTag, ShareMount, "9p", 0, "trans=virtio,version=9p2000.L,msize=512000,cache=none"); err != nil {
		return fmt.Errorf("mount the 9p share %q on %s: %w (is 9p over virtio in the kernel?)", ShareTag, ShareMount, err)
	}
	data, err := os.ReadFile(filepath.Join(ShareMount, JobFile))
	if err != nil {
		return fmt.Errorf("read the job: %w", err)
	}
	var job Job
	if err := json.Unmarshal(data, &job); err != nil {
		return fmt.Errorf("decode %s: %w", JobFile, err)
	}
	for k, v := range job.Sysctls {
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			fmt.Fprintf(console, "nsinit: sysctl %s=%s: %v\n", k, v, err)
		}
	}
	for _, m := range job.Mounts {
		if err := os.MkdirAll(m.Target, 0o755); err != nil {
			return fmt.Errorf("create mount point %s: %w", m.Target, err)
		}
		var flags uintptr
		if m.ReadOnly {
			flags = unix.MS_RDONLY
		}
		if err := unix.Mount(m.Source, m.Target, m.FSType, flags, m.Data); err != nil {
			return fmt.Errorf("mount %s (%s) on %s: %w (is the disk attached and the file system in the kernel?)", m.Source, m.FSType, m.Target, err)
		}
	}
	if err := overlay(job.Overlays); err != nil {
		return err
	}
	// Like any Linux system, the guest's programs have a loopback
	// interface (the kernel brings it up down).
	if err := loopbackUp(); err != nil {
		return err
	}
	for _, t := range job.Tests {
		code := runTest(console, t)
		if err := os.WriteFile(filepath.Join(ShareMount, t.Name+".exit"), []byte(strconv.Itoa(code)+"\n"), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(ShareMount, DoneFile), nil, 0o644)
}

func runTest(console io.Writer, t Test) int {
	out, err := os.Create(filepath.Join(ShareMount, t.Name+".out"))
	if err != nil {
		fmt.Fprintf(console, "nsinit: %v\n", err)
		return 125
	}
	defer out.Close()
	fmt.Fprintf(console, "nsinit: running %s\n", t.Name)
	cmd := exec.Command(t.Path, t.Args...)
	cmd.Env = append(os.Environ(), t.Env...)
	cmd.Dir = "/tmp"
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		fmt.Fprintf(out, "nsinit: run %s: %v\n", t.Path, err)
		return 126
	}
}

// switchRoot copies the initramfs into a tmpfs, moves that over / and
// chroots into it.
func switchRoot() error {
	const nr = "/newroot"
	if err := os.MkdirAll(nr, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", nr, "tmpfs", 0, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", nr, err)
	}
	err := filepath.WalkDir("/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "/" {
			return nil
		}
		if p == nr || p == "/proc" || p == "/sys" || p == "/dev" {
			return filepath.SkipDir
		}
		dst := filepath.Join(nr, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, data, info.Mode().Perm())
		}
	})
	if err != nil {
		return fmt.Errorf("copy the initramfs into %s: %w", nr, err)
	}
	for _, d := range []string{"proc", "sys", "dev"} {
		_ = os.Mkdir(filepath.Join(nr, d), 0o755)
	}
	if err := unix.Chdir(nr); err != nil {
		return err
	}
	if err := unix.Mount(nr, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", nr, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the new root: %w", err)
	}
	return unix.Chdir("/")
}

// loadModules loads the image's kernel modules in the order the host
// resolved (dependencies first): a distribution kernel has 9p, virtio and
// the network devices as modules and there is no modprobe in the guest.
func loadModules(console io.Writer) error {
	list, err := os.ReadFile(ModuleList)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", ModuleList, err)
	}
	names := strings.Fields(string(list))
	for _, name := range names {
		p := filepath.Join(ModuleDir, name+".ko")
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("load module: %w", err)
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load module %s: %w", p, err)
		}
	}
	fmt.Fprintf(console, "nsinit: loaded %d modules: %s\n", len(names), strings.Join(names, " "))
	return nil
}

// loopbackUp sets lo up (SIOCSIFFLAGS), so services on 127.0.0.1 work.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: read its flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// overlayRoot holds the overlays' upper and work directories: a tmpfs of
// its own, so they are on one file system, as overlayfs requires.
const overlayRoot = "/run/nsinit-overlay"

func overlay(layers []Overlay) error {
	if len(layers) == 0 {
		return nil
	}
	if err := os.MkdirAll(overlayRoot, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", overlayRoot, err)
	}
	if err := unix.Mount("tmpfs", overlayRoot, "tmpfs", 0, "mode=700"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", overlayRoot, err)
	}
	for i, o := range layers {
		upper := filepath.Join(overlayRoot, strconv.Itoa(i), "upper")
		work := filepath.Join(overlayRoot, strconv.Itoa(i), "work")
		for _, d := range []string{upper, work, o.Target} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", d, err)
			}
		}
		// The target is its own lowest layer: it was looked up before the
		// overlay covers it.
		data := "lowerdir=" + o.Lower + ":" + o.Target + ",upperdir=" + upper + ",workdir=" + work
		if err := unix.Mount("overlay", o.Target, "overlay", 0, data); err != nil {
			return fmt.Errorf("mount overlay %s on %s: %w (is overlayfs in the kernel?)", data, o.Target, err)
		}
	}
	return nil
}
