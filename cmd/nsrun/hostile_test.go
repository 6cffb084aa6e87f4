package main

// Hostile images and bundles: each test mounts one attack on nsrun the way an
// image or a bundle from an untrusted source would, against throw-away
// directories the test owns, and checks that nothing outside the rootfs
// changed and that the container got no more than its config gives it.
// Nothing here ever writes a real host file or sysctl: where the question is
// whether a write would be allowed, the answer is read from the mount and
// file type, never by writing.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/testutil"
)

// replaceWithSymlink removes path inside the rootfs and puts a symlink to
// target there, as an image layer can.
func replaceWithSymlink(t *testing.T, b *bundle.Bundle, path, target string) {
	t.Helper()
	p := filepath.Join(b.Rootfs(), path)
	require.NoError(t, os.RemoveAll(p))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.Symlink(target, p))
}

// baitVolume makes a host directory for a bundle to bind (at /vol) holding
// target, a world-writable file of "bait\n": a runtime write redirected to
// /vol/target by a hostile image would land in it.
func baitVolume(t *testing.T, dir string) (vol, target string) {
	t.Helper()
	vol = filepath.Join(dir, "volume")
	require.NoError(t, os.Mkdir(vol, 0o777))
	target = filepath.Join(vol, "target")
	require.NoError(t, os.WriteFile(target, []byte("bait\n"), 0o666))
	return vol, target
}

// assertBait checks that a baitVolume target is still untouched.
func assertBait(t *testing.T, target, msg string) {
	t.Helper()
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "bait\n", string(data), msg)
}

// TestDevSymlinkStaysInRootfs: an image whose /dev is a symlink to a host
// directory must not get the runtime to create (or delete) anything there:
// the /dev links (fd, stdin, stdout, stderr, ptmx) and the device nodes are
// made inside the rootfs (runc's CVE-2026-41579, the CVE-2024-45310 family).
func TestDevSymlinkStaysInRootfs(t *testing.T) {
	testutil.NeedRoot(t, "the attack targets a root runtime's host-side operations")
	e := newEnv(t)
	host := filepath.Join(e.tmp, "host-dir")
	require.NoError(t, os.Mkdir(host, 0o755))
	// A file named like one the runtime replaces: a naive runtime deletes it.
	require.NoError(t, os.WriteFile(filepath.Join(host, "ptmx"), []byte("bait"), 0o644))
	before := testutil.ListDir(t, host)
	b := e.newBundle("sh", "-c", "test -c /dev/null && test -L /dev/fd")
	replaceWithSymlink(t, b, "dev", host)
	id := randomID("devlink")
	_, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	assert.Equal(t, before, testutil.ListDir(t, host), "the runtime created or removed entries in the host directory /dev pointed at")
	data, err := os.ReadFile(filepath.Join(host, "ptmx"))
	assert.NoError(t, err)
	assert.Equal(t, "bait", string(data))
	assert.Zero(t, code, "the container should run with its /dev inside the rootfs: %s", stderr)
	assert.Empty(t, e.leftovers(id))
}

// noDevMounts drops every mount on or under /dev, so that the image's own
// /dev is what the container gets.
func noDevMounts(s *specs.Spec) {
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool {
		return m.Destination == "/dev" || strings.HasPrefix(m.Destination, "/dev/")
	})
}

// TestMaskSourceIsRealDevNull: an image whose /dev/null is a symlink to a
// sysctl must not turn the masked /proc files into read-write binds of that
// sysctl (runc's CVE-2025-31133). The symlink points at kernel.domainname,
// which the container's own uts namespace holds: even a broken runtime
// exposes nothing of the host's here, and nothing is written either way.
func TestMaskSourceIsRealDevNull(t *testing.T) {
	testutil.NeedRoot(t, "the attack targets a root runtime's host-side operations")
	var masked []string
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, err := os.Stat(p); err == nil {
			masked = append(masked, p)
		}
	}
	if len(masked) == 0 {
		t.Skip("none of /proc/kcore, /proc/keys, /proc/timer_list exists on this kernel")
	}
	e := newEnv(t)
	// Print the type and device numbers of each masked file: a real mask is
	// the character device 1:3.
	b := e.newBundle("sh", "-c", "for f in "+strings.Join(masked, " ")+"; do stat -c '%n %F %t:%T' $f; done")
	noDevMounts(b.Spec)
	require.NoError(t, b.Save())
	replaceWithSymlink(t, b, "dev/null", "/proc/sys/kernel/domainname")
	id := randomID("devnull")
	out, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, len(masked), out)
	for i, l := range lines {
		assert.Equal(t, masked[i]+" character special file 1:3", l, "a masked file is not /dev/null")
	}
	assert.Empty(t, e.leftovers(id))
}

// devIno is "dev:ino" of path, as stat -L prints it inside a container
// (%d:%i, decimal).
func devIno(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// TestInitExeIsSealed: the container's init must never run as the host's
// nsrun binary, or a process of the container (a startContainer hook from
// the image, here) can open /proc/PPID/exe and rewrite nsrun on the host
// once it stops running (CVE-2019-5736). Seen from the host the init's exe
// is another file, one nothing can write; seen from the hook it is that
// file or out of reach.
func TestInitExeIsSealed(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(e.tmp, "out")
	require.NoError(t, os.Mkdir(out, 0o777))
	require.NoError(t, os.Chmod(out, 0o777))
	b := e.newBundle("true")
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind"}})
	// The hook records what /proc/$PPID/exe (the init) is, or why it could
	// not look.
	b.Spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
		`stat -L -c '%d:%i' /proc/$PPID/exe > /out/exe 2>&1 || echo unreachable >> /out/exe`}}}}
	require.NoError(t, b.Save())
	id := randomID("exe")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	defer e.nsrun("delete", "--force", id)
	st := e.state(id)
	host := devIno(t, nsrunBin)
	if os.Geteuid() == 0 {
		exe := fmt.Sprintf("/proc/%d/exe", st.Pid)
		assert.NotEqual(t, host, devIno(t, exe), "the init runs the host's nsrun binary")
		var sfs unix.Statfs_t
		require.NoError(t, unix.Statfs(exe, &sfs))
		f, err := os.Open(exe)
		require.NoError(t, err)
		seals, serr := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
		f.Close()
		sealed := serr == nil && seals&unix.F_SEAL_WRITE != 0
		assert.True(t, sfs.Flags&unix.ST_RDONLY != 0 || sealed, "the init's exe is neither on a read-only mount nor a write-sealed memfd (statfs flags %#x, seals %#x %v)", sfs.Flags, seals, serr)
	}
	_, stderr, code = e.nsrun("start", id)
	require.Zero(t, code, stderr)
	// start returns once the init is released; the hook runs after that.
	require.Eventually(t, func() bool { return e.state(id).Status == specs.StateStopped }, 20*time.Second, 10*time.Millisecond)
	data, err := os.ReadFile(filepath.Join(out, "exe"))
	require.NoError(t, err)
	assert.NotEqual(t, host, strings.TrimSpace(string(data)), "a startContainer hook reached the host's nsrun binary through /proc/$PPID/exe")
}

// TestStartContainerHookUnprivileged: a startContainer hook comes with the
// image (its path resolves in the container), so it must run with no more
// privilege than the container's process: the same capability sets and
// no_new_privs, too little to remount /proc/sys read-write. runc runs it
// after the process's credentials are set; so must nsrun.
func TestStartContainerHookUnprivileged(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(e.tmp, "out")
	require.NoError(t, os.Mkdir(out, 0o777))
	require.NoError(t, os.Chmod(out, 0o777))
	b := e.newBundle("grep", "-E", "^(CapEff|CapPrm|CapBnd|NoNewPrivs):", "/proc/self/status")
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind"}})
	b.Spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
		`grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status > /out/status; ` +
			`if mount -o remount,bind,rw /proc/sys 2>/dev/null; then echo remounted > /out/remount; else echo refused > /out/remount; fi`}}}}
	require.NoError(t, b.Save())
	id := randomID("hookcaps")
	process, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	hook, err := os.ReadFile(filepath.Join(out, "status"))
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(process), strings.TrimSpace(string(hook)), "the hook's capabilities and no_new_privs differ from the process's")
	remount, err := os.ReadFile(filepath.Join(out, "remount"))
	require.NoError(t, err)
	assert.Equal(t, "refused", strings.TrimSpace(string(remount)), "the startContainer hook remounted /proc/sys read-write")
	assert.Empty(t, e.leftovers(id))
}

// TestFakeProcCannotWidenBounding: with no procfs mounted on /proc, an image
// can put its own /proc/sys/kernel/cap_last_cap there. The runtime must not
// read how many capabilities the kernel has from it: with "0" a naive
// runtime drops only capability 0 from the bounding set and leaves the
// rest. procfs is mounted on /proc2 for the process to look.
func TestFakeProcCannotWidenBounding(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("grep", "^CapBnd:", "/proc2/self/status")
	for i, m := range b.Spec.Mounts {
		if m.Destination == "/proc" {
			b.Spec.Mounts[i].Destination = "/proc2"
		}
	}
	b.Spec.Linux.MaskedPaths, b.Spec.Linux.ReadonlyPaths = nil, nil
	require.NoError(t, b.Save())
	fake := filepath.Join(b.Rootfs(), "proc/sys/kernel")
	require.NoError(t, os.MkdirAll(fake, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fake, "cap_last_cap"), []byte("0\n"), 0o644))
	id := randomID("capbnd")
	out, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	f := strings.Fields(out)
	require.Len(t, f, 2, out)
	got, err := strconv.ParseUint(f[1], 16, 64)
	require.NoError(t, err)
	want := uint64(0)
	for _, c := range b.Spec.Process.Capabilities.Bounding {
		want |= 1 << capNumber(t, c)
	}
	assert.Equal(t, fmt.Sprintf("%#x", want), fmt.Sprintf("%#x", got), "bounding set wider than the config's")
	assert.Empty(t, e.leftovers(id))
}

func capNumber(t *testing.T, name string) uint {
	t.Helper()
	n, ok := map[string]uint{"CAP_AUDIT_WRITE": unix.CAP_AUDIT_WRITE, "CAP_KILL": unix.CAP_KILL, "CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE}[name]
	require.True(t, ok, "capability %s not in the test's table", name)
	return n
}

// TestRootPathSymlinkRefused: a root.path that is a symlink out of the
// bundle is refused (runc refuses any symlink there), not followed to
// wherever it points. (The refusals of apparmorProfile, selinuxLabel and
// mountLabel are fixtures of testdata/bundles/bad, run by TestBadBundles.)
func TestRootPathSymlinkRefused(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("true")
	moved := filepath.Join(t.TempDir(), "rootfs")
	require.NoError(t, os.Rename(b.Rootfs(), moved))
	require.NoError(t, os.Symlink(moved, b.Rootfs()))
	id := randomID("rootlink")
	_, stderr, code := e.nsrun("create", "--bundle", b.Dir, id)
	if code == 0 {
		e.nsrun("delete", "--force", id)
	}
	assert.NotZero(t, code, "nsrun ran a container whose root.path is a symlink out of the bundle")
	assert.Contains(t, stderr, "root.path")
	assert.Contains(t, stderr, "resolves through a symlink to "+moved)
	assert.Empty(t, e.leftovers(id))
}

// TestRbindReadOnlyIsRecursive: "ro" on an rbind makes every mount under
// it read-only, not only the top one. A rootless config binds /sys with
// rbind,ro; with the cgroup mounts under it left read-write a container
// could write the user's own cgroups (runc's CVE-2023-25809).
func TestRbindReadOnlyIsRecursive(t *testing.T) {
	testutil.NeedRoot(t, "the test mounts a tmpfs under the bind source")
	e := newEnv(t)
	d := filepath.Join(e.tmp, "tree")
	sub := filepath.Join(d, "sub")
	require.NoError(t, os.MkdirAll(sub, 0o755))
	require.NoError(t, unix.Mount("tmpfs", sub, "tmpfs", 0, "size=64k"))
	defer unix.Unmount(sub, unix.MNT_DETACH)
	b := e.newBundle("sh", "-c", "if touch /data/sub/written 2>/dev/null; then echo writable; else echo read-only; fi")
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: d, Options: []string{"rbind", "ro"}})
	require.NoError(t, b.Save())
	id := randomID("rro")
	out, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, stderr)
	assert.Equal(t, "read-only", strings.TrimSpace(out), "a mount under an rbind,ro bind stayed writable")
	_, err := os.Stat(filepath.Join(sub, "written"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, unix.Unmount(sub, unix.MNT_DETACH))
	assert.Empty(t, e.leftovers(id))
}

// TestSysctlNotRedirected: the runtime writes linux.sysctl through the
// container's /proc. With no procfs on /proc, an image's /proc/sys/... can
// be a symlink to a host file reachable inside (a volume): the write must
// be refused, not land there (runc's CVE-2025-52881, CVE-2019-19921).
func TestSysctlNotRedirected(t *testing.T) {
	e := newEnv(t)
	vol, target := baitVolume(t, e.tmp)
	b := e.newBundle("true")
	for i, m := range b.Spec.Mounts {
		if m.Destination == "/proc" {
			b.Spec.Mounts[i].Destination = "/proc2"
		}
	}
	b.Spec.Linux.MaskedPaths, b.Spec.Linux.ReadonlyPaths = nil, nil
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind"}})
	b.Spec.Linux.Sysctl = map[string]string{"kernel.domainname": "nsbench-redirected"}
	require.NoError(t, b.Save())
	replaceWithSymlink(t, b, "proc/sys/kernel/domainname", "/vol/target")
	id := randomID("sysctl")
	_, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	assertBait(t, target, "the runtime's sysctl write landed in a host file")
	assert.NotZero(t, code, "a sysctl with no procfs on /proc must be refused")
	assert.Contains(t, stderr, "not procfs")
	assert.Empty(t, e.leftovers(id))
}

// TestConsoleNotRedirected: with process.terminal, the pty slave is bound
// onto /dev/console. Bound by the path /dev/pts/N, an image that controls
// that path (no devpts mounted on /dev/pts: here devpts is on /dev/pts2 and
// the image's /dev/ptmx leads there) points the bind at a file of its
// choosing, made writable at /dev/console before the read-only paths are
// applied (runc's CVE-2025-52565). The bind must be the pty itself.
func TestConsoleNotRedirected(t *testing.T) {
	e := newEnv(t)
	vol, target := baitVolume(t, e.tmp)
	b := e.newBundle("sh", "-c", "stat -c '%F %t' /dev/console; echo done")
	b.Spec.Process.Terminal = true
	var mounts []specs.Mount
	for _, m := range b.Spec.Mounts {
		switch m.Destination {
		case "/dev", "/dev/shm", "/dev/mqueue":
			continue
		case "/dev/pts":
			m.Destination = "/dev/pts2"
		}
		mounts = append(mounts, m)
	}
	b.Spec.Mounts = append(mounts, specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind"}})
	b.Spec.Root.Readonly = false
	require.NoError(t, b.Save())
	replaceWithSymlink(t, b, "dev/ptmx", "pts2/ptmx")
	for n := 0; n < 8; n++ {
		replaceWithSymlink(t, b, "dev/pts/"+strconv.Itoa(n), "/vol/target")
	}
	recv := newConsoleReceiver(t, e.tmp)
	id := randomID("console")
	_, stderr, code := e.nsrun("run", "--detach", "--console-socket", recv.path, "--bundle", b.Dir, id)
	if code == 0 {
		t.Cleanup(func() { e.nsrun("delete", "--force", id) })
		out := newTTYReader(recv.get(t)).until(t, "done")
		assert.Contains(t, out, "character special file 88", "/dev/console is not the container's pty")
	} else {
		assert.Contains(t, stderr, "console", "refused for another reason")
	}
	assertBait(t, target, "the pty bind landed on a host file")
}
