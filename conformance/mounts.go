package conformance

// The mount family: what the container's mounts are and where they show.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nsbench/nsbench/conformance/probe"
	"github.com/nsbench/nsbench/internal/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func checkMountLeak(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sleep", "30")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	before := mountsUnder(b.Dir)
	id := newID("mnt")
	_, remove, err := e.launch(ctx, id, b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	during := mountsUnder(b.Dir)
	if err := e.Runtime.Kill(ctx, id, "KILL"); err != nil {
		return fail("kill: %v", err)
	}
	if err := e.Runtime.Wait(ctx, id); err != nil {
		return fail("wait: %v", err)
	}
	if err := e.Runtime.Delete(ctx, id, false); err != nil {
		return fail("delete: %v", err)
	}
	after := mountsUnder(b.Dir)
	switch {
	case len(during) > len(before):
		return fail("while running, the host sees %d mount(s) under the bundle: %s", len(during)-len(before), strings.Join(during, "; "))
	case len(after) > len(before):
		return fail("after delete, the host still has %s", strings.Join(after, "; "))
	}
	// A failed create must not leave mounts either.
	bad, err := e.NewBundle("/nonexistent-program")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(bad.Dir)
	badID := newID("mntbad")
	if err := e.Runtime.Create(ctx, badID, bad.Dir, oci.IO{}); err == nil {
		_ = e.Runtime.Delete(ctx, badID, true)
	}
	if m := mountsUnder(bad.Dir); len(m) > 0 {
		_ = e.Runtime.Delete(ctx, badID, true)
		return fail("a failed create left %s", strings.Join(m, "; "))
	}
	return pass("no mount under the bundle on the host while running, after kill -9 and delete, nor after a failed create")
}

func checkPivotRoot(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if r.Root != r.RootParent || r.Root != r.Proc1Root {
		return fail("/ is %s but /.. is %s and /proc/1/root is %s", r.Root, r.RootParent, r.Proc1Root)
	}
	if len(r.WalkOut) > 0 {
		return fail("climbing .. from an inherited directory leaves the container's root %s: %s", r.Root, strings.Join(r.WalkOut, "; "))
	}
	var host unix.Stat_t
	if err := unix.Stat("/", &host); err == nil && r.Root == fmt.Sprintf("%d:%d", host.Dev, host.Ino) {
		return fail("the container's / is the host's / (%s)", r.Root)
	}
	return pass("/, /.. and /proc/1/root are all %s, not the host's root; .. from the cwd and every inherited descriptor ends there too", r.Root)
}

func checkChroot(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if strings.HasPrefix(r.Chroot, "escaped") {
		return fail("%s", r.Chroot)
	}
	return pass("chroot escape: %s", r.Chroot)
}

// checkPropagation: a mount the host makes under a bind-mounted directory
// after the container started appears inside exactly when the container's
// root propagation lets host events in (rslave, rshared), never with
// rprivate; and a mount the container makes there reaches the host only
// with rshared, never with the bundle's own default. runbindable is not
// among the cases: the kernel refuses to bind-mount an unbindable tree, so
// no runtime can even bind the rootfs (nsrun, runc and crun all fail create
// with EINVAL).
func checkPropagation(ctx context.Context, e *Env) Result {
	if os.Geteuid() != 0 {
		return skip("the host-side mount of this check needs root")
	}
	var details []string
	for _, tc := range []struct {
		// prop "" keeps the bundle's own rootfsPropagation: whatever the
		// runtime defaults to, the container's mounts must stay inside.
		prop    string
		in, out bool
		checkIn bool
		name    string
	}{
		{"", false, false, false, "default"},
		{"rprivate", false, false, true, "rprivate"},
		{"rslave", true, false, true, "rslave"},
		{"rshared", true, true, true, "rshared"},
	} {
		in, out, err := propagationCase(ctx, e, tc.prop)
		if err != nil {
			return fail("rootfsPropagation %s: %v", tc.name, err)
		}
		if tc.checkIn && in != tc.in {
			return fail("rootfsPropagation %s: host mount made after start seen inside = %t, the kernel's rules say %t", tc.name, in, tc.in)
		}
		if out != tc.out {
			return fail("rootfsPropagation %s: mount made inside reached the host = %t, want %t", tc.name, out, tc.out)
		}
		if tc.checkIn {
			details = append(details, fmt.Sprintf("%s in=%t out=%t", tc.name, in, out))
		} else {
			details = append(details, fmt.Sprintf("%s out=%t", tc.name, out))
		}
	}
	return pass("host→container, container→host: %s", strings.Join(details, ", "))
}

// propagationCase runs one container with a test-owned shared tmpfs bound
// at /shared and rootfsPropagation prop ("" leaves the bundle's). The
// container (given CAP_SYS_ADMIN for this) mounts a tmpfs on /shared/inner;
// then the host mounts one on mnt. in: the container saw the host's mount;
// out: the host saw the container's.
func propagationCase(ctx context.Context, e *Env, prop string) (in, out bool, err error) {
	d, err := e.hostDir("prop")
	if err != nil {
		return false, false, err
	}
	// Propagation needs a shared mount on the host side; the host's own may
	// be private (this machine's / is). A test-owned shared tmpfs makes the
	// rules observable; detaching it takes whatever propagated onto it.
	if err := unix.Mount("tmpfs", d, "tmpfs", 0, "size=1m"); err != nil {
		return false, false, fmt.Errorf("mount test tmpfs on %s: %w", d, err)
	}
	defer unix.Unmount(d, unix.MNT_DETACH)
	if err := unix.Mount("", d, "", unix.MS_SHARED, ""); err != nil {
		return false, false, fmt.Errorf("make %s shared: %w", d, err)
	}
	mnt, inner := filepath.Join(d, "mnt"), filepath.Join(d, "inner")
	for _, dir := range []string{mnt, inner} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return false, false, err
		}
	}
	b, err := e.NewBundle("/nsprobe", "--mount-inside", "/shared/inner", "--mounted", "/shared/mounted",
		"--wait-for", "/shared/go", "--watch", "/shared/mnt")
	if err != nil {
		return false, false, fmt.Errorf("make bundle: %w", err)
	}
	defer os.RemoveAll(b.Dir)
	if prop != "" {
		b.Spec.Linux.RootfsPropagation = prop
	}
	b.Spec.Mounts = append(b.Spec.Mounts, bindMount(d, "/shared"))
	addCap(b.Spec, "CAP_SYS_ADMIN")
	if err := b.Save(); err != nil {
		return false, false, err
	}
	f, err := os.Create(filepath.Join(b.Dir, "probe.out"))
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	id := newID("prop")
	_, remove, err := e.launch(ctx, id, b, oci.IO{Stdout: f}, true)
	if err != nil {
		return false, false, err
	}
	err = func() error {
		defer remove()
		msg, err := waitFile(ctx, filepath.Join(d, "mounted"))
		if err != nil {
			return fmt.Errorf("wait for the container's mount: %w", err)
		}
		if msg != "" {
			return fmt.Errorf("the container, given CAP_SYS_ADMIN, could not mount: %s", msg)
		}
		if _, err := os.Stat(filepath.Join(inner, probe.MarkerFromInside)); err == nil {
			out = true
		}
		// Then the host mounts a tmpfs with a marker file.
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64k"); err != nil {
			return fmt.Errorf("host mount on %s: %w", mnt, err)
		}
		defer unix.Unmount(mnt, unix.MNT_DETACH)
		if err := os.WriteFile(filepath.Join(mnt, "marker"), nil, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, "go"), nil, 0o644); err != nil {
			return err
		}
		return e.Runtime.Wait(ctx, id)
	}()
	if err != nil {
		return false, false, err
	}
	r, err := readReport(f.Name())
	if err != nil {
		return false, false, err
	}
	return slices.Contains(r.Watch, "marker"), out, nil
}

// waitFile waits for path to exist and returns its content (the probe
// renames it into place whole).
func waitFile(ctx context.Context, path string) (string, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if data, err := os.ReadFile(path); err == nil {
			return string(data), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s never appeared: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// checkBindFlags: a bind mount with ro, nosuid, nodev, noexec keeps all four
// and cannot be remounted from inside.
func checkBindFlags(ctx context.Context, e *Env) Result {
	d, err := e.hostDir("bind")
	if err != nil {
		return fail("%v", err)
	}
	if err := os.WriteFile(filepath.Join(d, "exe"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		return fail("%v", err)
	}
	r, err := e.RunProbe(ctx, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, bindMount(d, "/data", "ro", "nosuid", "nodev", "noexec"))
	}, "--bind", "/data")
	if err != nil {
		return fail("%v", err)
	}
	b := r.Bind
	switch {
	case b == nil:
		return fail("the probe did not look at the bind mount")
	case b.Write == "" || !b.RdOnly:
		return fail("the ro bind mount was writable (write: %q, ST_RDONLY %t)", b.Write, b.RdOnly)
	case b.Exec == "":
		return fail("a file on the noexec bind mount is executable")
	case !b.NoSuid || !b.NoDev:
		return fail("nosuid=%t nodev=%t, both asked for", b.NoSuid, b.NoDev)
	case b.Remount == "":
		return fail("the container remounted the bind mount")
	}
	if _, err := os.Stat(filepath.Join(d, "probe-write")); err == nil {
		return fail("a file written inside appeared on the host")
	}
	return pass("write %s, exec %s, remount %s; nosuid, nodev, ro hold", b.Write, b.Exec, b.Remount)
}

// hostDir makes a directory under the scratch dir, reachable by a rootless
// runtime's user.
func (e *Env) hostDir(name string) (string, error) {
	d := filepath.Join(e.Dir, newID(name))
	if err := os.MkdirAll(d, 0o777); err != nil {
		return "", err
	}
	return d, os.Chmod(d, 0o777)
}

func bindMount(src, dst string, opts ...string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)}
}

func checkMasked(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if r.MaskedBytes > 0 {
		return fail("read %d bytes of /proc/kcore and /proc/timer_list", r.MaskedBytes)
	}
	return pass("/proc/kcore and /proc/timer_list read nothing")
}

func checkReadonly(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if r.WriteReadonly == "" {
		return fail("wrote /proc/sys/kernel/hostname")
	}
	if r.WriteSys == "" {
		return fail("wrote /sys/kernel/probe")
	}
	return pass("/proc/sys: %s; /sys: %s", r.WriteReadonly, r.WriteSys)
}
