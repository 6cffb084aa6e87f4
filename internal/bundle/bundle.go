// Package bundle makes OCI bundles for tests and benchmarks: a root
// filesystem built from Debian's busybox-static plus whatever static binaries
// the caller adds, and a config.json derived from the runtime's default spec.
// Every runtime under test (nsrun, runc, crun) gets the same bytes.
package bundle

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/spec"
)

// Owner is the host user that will run a rootless runtime on the bundle: the
// bundle is chowned to it and the id maps point at it.
type Owner struct {
	UID, GID int
}

// Options describe the bundle to make.
type Options struct {
	// Rootless starts from the rootless default spec (user namespace with a
	// single mapping of the owner, or of the caller without an Owner).
	Rootless bool
	// Args replace the default process arguments ("sh").
	Args []string
	// Files are copied into the rootfs: path inside the rootfs -> host file.
	// Modes are kept.
	Files map[string]string
	// Owner, when set, owns the whole bundle.
	Owner *Owner
	// Busybox is the static busybox binary to use; empty means the one on
	// PATH, which must be Debian's busybox-static.
	Busybox string
}

// Bundle is an OCI bundle on disk. Spec is written by Save.
type Bundle struct {
	Dir  string
	Spec *specs.Spec
}

// Rootfs returns the root filesystem directory.
func (b *Bundle) Rootfs() string { return filepath.Join(b.Dir, "rootfs") }

// Save writes Spec as dir/config.json.
func (b *Bundle) Save() error {
	data, err := json.MarshalIndent(b.Spec, "", "\t")
	if err != nil {
		return fmt.Errorf("encode config for %s: %w", b.Dir, err)
	}
	path := filepath.Join(b.Dir, "config.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// New makes a bundle in dir (created if missing; it must not hold a rootfs
// yet) and saves its config.
func New(dir string, opts Options) (*Bundle, error) {
	bb := opts.Busybox
	if bb == "" {
		p, err := exec.LookPath("busybox")
		if err != nil {
			return nil, fmt.Errorf("find busybox: %w (install Debian's busybox-static)", err)
		}
		bb = p
	}
	applets, err := applets(bb)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Dir: dir, Spec: spec.Default(opts.Rootless)}
	// crun 1.8.1 refuses ociVersion 1.3.0 ("unknown version specified");
	// 1.0.2 is what runc 1.1 writes and every runtime under test accepts.
	b.Spec.Version = "1.0.2"
	rootfs := b.Rootfs()
	if _, err := os.Stat(rootfs); err == nil {
		return nil, fmt.Errorf("make bundle in %s: rootfs already exists", dir)
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "run", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Join(rootfs, d), err)
		}
	}
	tmp := filepath.Join(rootfs, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", tmp, err)
	}
	// Mkdir applies the umask; the sticky world-writable mode must be exact.
	if err := os.Chmod(tmp, os.ModeSticky|0o777); err != nil {
		return nil, fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := copyFile(bb, filepath.Join(rootfs, "bin/busybox")); err != nil {
		return nil, err
	}
	for _, a := range applets {
		link := filepath.Join(rootfs, a)
		if a == "bin/busybox" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(link), err)
		}
		if err := os.Symlink("/bin/busybox", link); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("link applet %s: %w", link, err)
		}
	}
	etc := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
		"etc/hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
		"etc/hostname": b.Spec.Hostname + "\n",
	}
	for p, content := range etc {
		if err := os.WriteFile(filepath.Join(rootfs, p), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", filepath.Join(rootfs, p), err)
		}
	}
	for in, host := range opts.Files {
		if !filepath.IsAbs(in) {
			return nil, fmt.Errorf("add %s to rootfs: path inside the rootfs must be absolute", in)
		}
		dst := filepath.Join(rootfs, in)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
		}
		if err := copyFile(host, dst); err != nil {
			return nil, err
		}
	}
	if len(opts.Args) > 0 {
		b.Spec.Process.Args = append([]string(nil), opts.Args...)
	}
	if opts.Owner != nil && opts.Rootless {
		b.Spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(opts.Owner.UID), Size: 1}}
		b.Spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(opts.Owner.GID), Size: 1}}
	}
	if err := b.Save(); err != nil {
		return nil, err
	}
	if opts.Owner != nil {
		if err := chownTree(dir, opts.Owner.UID, opts.Owner.GID); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// applets lists the paths busybox installs its applets at, after checking
// that the binary is static: a dynamic one would not run in a bare rootfs.
func applets(busybox string) ([]string, error) {
	f, err := elf.Open(busybox)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked: install Debian's busybox-static", busybox)
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command(busybox, "--list-full")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w: %s", busybox, err, strings.TrimSpace(stderr.String()))
	}
	return strings.Fields(string(out)), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	// A copy, never a hard link: a container with a writable rootfs must not
	// be able to change the host's binary.
	if err := writeCopy(dst, in, st.Mode().Perm()); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	// Keep setuid/setgid/sticky bits that OpenFile's perm cannot carry.
	if err := os.Chmod(dst, st.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return fmt.Errorf("chmod %s: %w", dst, err)
	}
	return nil
}

// writeCopy writes in to a new file dst. It holds off forks meanwhile: a
// child forked by another goroutine holds the write descriptor until its
// exec, and exec of the copied binary in that window fails with ETXTBSY
// ("text file busy", seen with concurrent perf jobs; golang/go#22315).
func writeCopy(dst string, in io.Reader, perm os.FileMode) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s to %d:%d: %w", p, uid, gid, err)
		}
		return nil
	})
}
