package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/runtime/spec"
)

// Invariant is one isolation property and the check that proves it.
type Invariant struct {
	Name string
	// Doc is the one line the README and the matrix show.
	Doc   string
	Check func(ctx context.Context, e *Env) Result
}

// expected is the isolation the suite asks of every runtime: the default
// bundle's. Checks compare against this, not against whatever config a
// (possibly broken) bundle carried.
func expected() *specs.Spec { return spec.Default(os.Geteuid() != 0) }

// Invariants is the suite, in matrix order.
func Invariants() []Invariant {
	return []Invariant{
		{"mount-leak", "no mount made for or inside the container is ever in the host's mount table, before or after delete", checkMountLeak},
		{"pivot-root", "/, /.. and /proc/1/root are the container's root: no path leads to the host's", checkPivotRoot},
		{"chroot-escape", "the chroot-in-chroot escape fails", checkChroot},
		{"pid-ns", "the first process is PID 1 and /proc lists only the container's processes", checkPidNS},
		{"pid-host-view", "the host sees the container's init under its host PID, and the container cannot signal a host process", checkPidHostView},
		{"uts-ns", "the hostname is the config's inside and unchanged on the host", checkUTS},
		{"ipc-ns", "a SysV shared memory segment of the host is invisible inside", checkIPC},
		{"net-ns", "only lo exists inside: host interfaces are invisible", checkNet},
		{"cgroup-ns", "/proc/self/cgroup is rooted at the container's cgroup", checkCgroupNS},
		{"capabilities", "effective, permitted and bounding sets are exactly the default config's", checkCaps},
		{"no-new-privs", "noNewPrivileges is set for the process", checkNNP},
		{"masked-paths", "maskedPaths (/proc/kcore, /proc/timer_list) read nothing", checkMasked},
		{"readonly-paths", "readonlyPaths (/proc/sys) and /sys cannot be written", checkReadonly},
		{"devices", "mknod fails inside", checkMknod},
		{"fd-leak", "no descriptor beyond stdio reaches the process", checkFDs},
		{"user-ns-maps", "in a user namespace, uid/gid maps are the config's and setgroups is deny", checkUserNS},
		{"teardown", "after delete no process, cgroup or state of the container is left", checkTeardown},
	}
}

func checkMountLeak(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sleep", "30")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	before := mountsUnder(b.Dir)
	id := newID("mnt")
	if err := e.Runtime.Create(ctx, id, b.Dir, oci.IO{}); err != nil {
		return fail("create: %v", err)
	}
	defer e.Runtime.Delete(context.Background(), id, true)
	if err := e.Runtime.Start(ctx, id); err != nil {
		return fail("start: %v", err)
	}
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
	var host unix.Stat_t
	if err := unix.Stat("/", &host); err == nil && r.Root == fmt.Sprintf("%d:%d", host.Dev, host.Ino) {
		return fail("the container's / is the host's / (%s)", r.Root)
	}
	return pass("/, /.. and /proc/1/root are all %s, not the host's root", r.Root)
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

func checkPidNS(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if r.Pid != 1 {
		return fail("the container's first process is PID %d, not 1 (no pid namespace?)", r.Pid)
	}
	if len(r.Procs) > 3 {
		return fail("/proc inside lists %d processes: %v (the host's?)", len(r.Procs), r.Procs)
	}
	return pass("PID 1; /proc lists %v", r.Procs)
}

func checkPidHostView(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sleep", "30")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	id := newID("pidv")
	if err := e.Runtime.Create(ctx, id, b.Dir, oci.IO{}); err != nil {
		return fail("create: %v", err)
	}
	defer e.Runtime.Delete(context.Background(), id, true)
	st, err := e.Runtime.State(ctx, id)
	if err != nil {
		return fail("state: %v", err)
	}
	if st.Pid <= 1 || !pidAlive(st.Pid) {
		return fail("state pid %d is not a live host process", st.Pid)
	}
	r, err := e.RunProbe(ctx, nil, "--host-pid", fmt.Sprint(os.Getpid()))
	if err != nil {
		return fail("%v", err)
	}
	if r.KillHost == "" {
		return fail("the container could signal host pid %d", os.Getpid())
	}
	return pass("host sees the init as pid %d; signalling host pid %d from inside: %s", st.Pid, os.Getpid(), r.KillHost)
}

func checkUTS(ctx context.Context, e *Env) Result {
	hostBefore, _ := os.Hostname()
	r, err := e.RunProbe(ctx, func(s *specs.Spec) { s.Hostname = "conf-uts" })
	if err != nil {
		return fail("%v", err)
	}
	hostAfter, _ := os.Hostname()
	if r.Hostname != "conf-uts" {
		return fail("hostname inside is %q, not the config's %q", r.Hostname, "conf-uts")
	}
	if hostAfter != hostBefore {
		return fail("the host's hostname changed from %q to %q", hostBefore, hostAfter)
	}
	return pass("inside %q, host %q unchanged", r.Hostname, hostAfter)
}

func checkIPC(ctx context.Context, e *Env) Result {
	key := 0x6e730000 | os.Getpid()&0xffff
	id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return skip("create host SysV shm segment: %v", err)
	}
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	r, err := e.RunProbe(ctx, nil, "--shm-key", fmt.Sprint(key))
	if err != nil {
		return fail("%v", err)
	}
	if r.ShmLookup == "" {
		return fail("the container found the host's SysV segment %#x", key)
	}
	return pass("host segment %#x invisible inside (%s)", key, r.ShmLookup)
}

func checkNet(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if !slices.Equal(r.Interfaces, []string{"lo"}) {
		return fail("interfaces inside: %v (want only lo)", r.Interfaces)
	}
	return pass("only lo")
}

func checkCgroupNS(ctx context.Context, e *Env) Result {
	if _, err := os.Stat("/proc/self/ns/cgroup"); err != nil {
		return skip("kernel without cgroup namespaces")
	}
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	for _, l := range r.Cgroup {
		if !strings.HasSuffix(l, ":/") {
			return fail("/proc/self/cgroup line %q is not rooted", l)
		}
	}
	return pass("%d hierarchies, all rooted at /", len(r.Cgroup))
}

func checkCaps(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	c := expected().Process.Capabilities
	want := map[string][2]uint64{
		"effective": {r.CapEff, capMask(c.Effective)},
		"permitted": {r.CapPrm, capMask(c.Permitted)},
		"bounding":  {r.CapBnd, capMask(c.Bounding)},
	}
	for set, v := range want {
		if v[0] != v[1] {
			return fail("%s set is %#x, the default config asks for %#x (extra: %#x)", set, v[0], v[1], v[0]&^v[1])
		}
	}
	return pass("effective=permitted=bounding=%#x as configured", r.CapEff)
}

func checkNNP(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if !r.NoNewPrivs {
		return fail("NoNewPrivs is 0: a setuid binary could elevate")
	}
	return pass("NoNewPrivs: 1")
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

func checkMknod(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if r.Mknod == "" {
		return fail("mknod of a character device succeeded inside")
	}
	return pass("mknod: %s", r.Mknod)
}

func checkFDs(ctx context.Context, e *Env) Result {
	// A descriptor the caller holds open must not reach the container.
	f, err := os.Open(os.DevNull)
	if err == nil {
		defer f.Close()
	}
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if !slices.Equal(r.FDs, []int{0, 1, 2}) {
		return fail("open descriptors inside: %v (want 0 1 2)", r.FDs)
	}
	return pass("only 0 1 2")
}

func checkUserNS(ctx context.Context, e *Env) Result {
	if os.Geteuid() == 0 {
		// Root runs use no user namespace by default; the rootless run of
		// the suite checks the maps.
		exp := expected()
		hasUser := slices.ContainsFunc(exp.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		if !hasUser {
			return skip("the root configuration has no user namespace; run the suite unprivileged to check id maps")
		}
	}
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	want := fmt.Sprintf("0 %d 1", os.Geteuid())
	if r.UIDMap != want {
		return fail("uid_map inside is %q, want %q", r.UIDMap, want)
	}
	if r.Setgroup != "deny" {
		return fail("setgroups is %q, want deny for a rootless container", r.Setgroup)
	}
	return pass("uid_map %q, setgroups deny", r.UIDMap)
}

func checkTeardown(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sleep", "30")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	id := newID("down")
	if err := e.Runtime.Create(ctx, id, b.Dir, oci.IO{}); err != nil {
		return fail("create: %v", err)
	}
	st, err := e.Runtime.State(ctx, id)
	if err != nil {
		return fail("state: %v", err)
	}
	if err := e.Runtime.Start(ctx, id); err != nil {
		return fail("start: %v", err)
	}
	if err := e.Runtime.Delete(ctx, id, true); err != nil {
		return fail("delete --force: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pidAlive(st.Pid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var left []string
	if pidAlive(st.Pid) {
		left = append(left, fmt.Sprintf("process %d", st.Pid))
	}
	for _, pat := range []string{"/sys/fs/cgroup/*/" + id, "/sys/fs/cgroup/*/*/" + id, "/sys/fs/cgroup/" + id} {
		m, _ := filepath.Glob(pat)
		left = append(left, m...)
	}
	if _, err := e.Runtime.State(ctx, id); err == nil {
		left = append(left, "state (the runtime still knows "+id+")")
	}
	if len(left) > 0 {
		return fail("left after delete: %s", strings.Join(slices.Compact(left), ", "))
	}
	return pass("no process, cgroup or state left")
}
