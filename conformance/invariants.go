package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/conformance/probe"
	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/runtime/network"
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
		{"pivot-root", "/, /.., /proc/1/root and .. from the cwd or any inherited descriptor all end at the container's root", checkPivotRoot},
		{"chroot-escape", "the chroot-in-chroot escape fails", checkChroot},
		{"propagation", "a host mount made after start shows inside with rslave/rshared roots, never with rprivate; a mount made inside reaches the host only with rshared", checkPropagation},
		{"bind-flags", "a bind mount's ro, nosuid, nodev, noexec hold and it cannot be remounted from inside", checkBindFlags},
		{"pid-ns", "the first process is PID 1 and /proc lists only the container's processes", checkPidNS},
		{"pid-lifecycle", "orphans reparent to the container's PID 1, and all processes die with it", checkPidLifecycle},
		{"pid-host-view", "the host sees the container's init under its host PID, and the container can neither signal nor ptrace a host process", checkPidHostView},
		{"pid-sibling", "a container sees none of a sibling container's processes", checkSibling},
		{"uts-ns", "the hostname is the config's inside, and changing hostname and domainname inside leaves the host's alone", checkUTS},
		{"ipc-ns", "a SysV shared memory segment and a POSIX message queue of the host are invisible inside", checkIPC},
		{"net-ns", "only lo exists inside: host interfaces are invisible", checkNet},
		{"net-hook", "with the nsnet hook, only lo and the hook's eth0 exist inside, and after delete its veth is gone", checkNetHook},
		{"cgroup-ns", "/proc/self/cgroup is rooted at the container's cgroup", checkCgroupNS},
		{"capabilities", "effective, permitted and bounding sets are exactly the default config's", checkCaps},
		{"no-new-privs", "noNewPrivileges is set, and a setuid-root binary run by a non-root user inside does not raise its euid", checkNNP},
		{"masked-paths", "maskedPaths (/proc/kcore, /proc/timer_list) read nothing", checkMasked},
		{"readonly-paths", "readonlyPaths (/proc/sys) and /sys cannot be written", checkReadonly},
		{"devices", "mknod fails inside, and a device node the config does not allow cannot be opened", checkMknod},
		{"fd-leak", "no descriptor beyond stdio reaches the process", checkFDs},
		{"id-ranges", "containers with user namespaces get the configured maps, and concurrent ones share no host id", checkIDRanges},
		{"user-ns-maps", "in a user namespace, uid/gid maps are the config's and setgroups is deny", checkUserNS},
		{"user-ns-owner", "a file root creates inside is owned on the host by the mapped uid", checkOwnership},
		{"teardown", "after delete no process, cgroup or state of the container is left", checkTeardown},
	}
}

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
	defer os.RemoveAll(b.Dir)
	pid, remove, err := e.launch(ctx, newID("pidv"), b, oci.IO{}, false)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	if pid <= 1 || !pidAlive(pid) {
		return fail("state pid %d is not a live host process", pid)
	}
	r, err := e.RunProbe(ctx, nil, "--host-pid", fmt.Sprint(os.Getpid()))
	if err != nil {
		return fail("%v", err)
	}
	if r.KillHost == "" {
		return fail("the container could signal host pid %d", os.Getpid())
	}
	if r.PtraceHost == "" {
		return fail("the container could ptrace host pid %d", os.Getpid())
	}
	return pass("host sees the init as pid %d; host pid %d from inside: signal %s, ptrace %s", pid, os.Getpid(), r.KillHost, r.PtraceHost)
}

// checkUTS: the config's hostname is set inside, and a container that may
// change its hostname and domainname (given CAP_SYS_ADMIN for it) changes
// its own, never the host's. The config's domainname is not asked for: it
// came with runtime-spec 1.1, after the 1.0.2 the suite's bundles declare
// (runc 1.1 ignores it). Should a runtime share the host's namespace, the
// check puts the host's names back before failing.
func checkUTS(ctx context.Context, e *Env) Result {
	hostBefore, domBefore := utsNames()
	r, err := e.RunProbe(ctx, func(s *specs.Spec) {
		s.Hostname = "conf-uts"
		addCap(s, "CAP_SYS_ADMIN")
	}, "--set-uts", "conf-uts-changed")
	hostAfter, domAfter := utsNames()
	if hostAfter != hostBefore || domAfter != domBefore {
		if os.Geteuid() == 0 {
			_ = unix.Sethostname([]byte(hostBefore))
			_ = unix.Setdomainname([]byte(domBefore))
		}
		return fail("the host's hostname/domainname changed from %q/%q to %q/%q", hostBefore, domBefore, hostAfter, domAfter)
	}
	if err != nil {
		return fail("%v", err)
	}
	if r.Hostname != "conf-uts" {
		return fail("hostname inside is %q, not the config's %q", r.Hostname, "conf-uts")
	}
	if r.SetUTS != "" {
		return fail("the container, given CAP_SYS_ADMIN, could not change its own names: %s", r.SetUTS)
	}
	return pass("hostname inside %q as configured; hostname and domainname changed inside to conf-uts-changed, host's %q/%q unchanged", r.Hostname, hostAfter, domAfter)
}

func utsNames() (host, domain string) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "", ""
	}
	return unix.ByteSliceToString(u.Nodename[:]), unix.ByteSliceToString(u.Domainname[:])
}

// addCap puts a capability into the bounding, effective and permitted sets.
func addCap(s *specs.Spec, c string) {
	if s.Process.Capabilities == nil {
		s.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	pc := s.Process.Capabilities
	pc.Bounding = append(pc.Bounding, c)
	pc.Effective = append(pc.Effective, c)
	pc.Permitted = append(pc.Permitted, c)
}

func checkIPC(ctx context.Context, e *Env) Result {
	key := 0x6e730000 | os.Getpid()&0xffff
	id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		return skip("create host SysV shm segment: %v", err)
	}
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	mq := fmt.Sprintf("nsbench-conformance-%d", os.Getpid())
	if err := probe.MqCreate(mq); err != nil {
		return skip("create host POSIX message queue /%s: %v", mq, err)
	}
	defer probe.MqUnlink(mq)
	r, err := e.RunProbe(ctx, nil, "--shm-key", fmt.Sprint(key), "--mqueue", mq)
	if err != nil {
		return fail("%v", err)
	}
	if r.ShmLookup == "" {
		return fail("the container found the host's SysV segment %#x", key)
	}
	if r.MqLookup == "" {
		return fail("the container opened the host's message queue /%s", mq)
	}
	return pass("host SysV segment %#x (%s) and message queue /%s (%s) invisible inside", key, r.ShmLookup, mq, r.MqLookup)
}

func checkNet(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	// Compare namespaces, not only interface lists: a host with nothing
	// but lo (a minimal VM guest) would otherwise look isolated.
	if host, err := os.Readlink("/proc/self/ns/net"); err == nil && r.NetNS == host {
		return fail("the container shares the host's network namespace %s", host)
	}
	if !slices.Equal(r.Interfaces, []string{"lo"}) {
		return fail("interfaces inside: %v (want only lo)", r.Interfaces)
	}
	return pass("own network namespace %s with only lo", r.NetNS)
}

// checkNetHook: a container the nsnet hook put on a test-owned bridge sees
// lo and the hook's eth0, nothing of the host's, and delete (the poststop
// hook) takes its veth away. The bridge and subnet are the check's own.
func checkNetHook(ctx context.Context, e *Env) Result {
	if os.Geteuid() != 0 {
		return skip("nsnet needs CAP_NET_ADMIN in the host network namespace (root)")
	}
	if e.NSNet == "" {
		return skip("no nsnet hook binary: %s", e.NoNSNet)
	}
	tag := make([]byte, 2)
	_, _ = rand.Read(tag)
	bridge := "nsc" + hex.EncodeToString(tag)
	subnet := fmt.Sprintf("10.211.%d.0/24", tag[0])
	hook := []string{"nsnet", "--bridge", bridge, "--subnet", subnet, "--lease-dir", filepath.Join(e.Dir, bridge+"-leases")}
	cleanup := append([]string{"cleanup"}, hook[1:]...)
	defer exec.Command(e.NSNet, append(cleanup, "--force")...).Run()
	b, err := e.NewBundle("/nsprobe")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	b.Spec.Hooks = &specs.Hooks{
		CreateRuntime: []specs.Hook{{Path: e.NSNet, Args: hook}},
		Poststop:      []specs.Hook{{Path: e.NSNet, Args: hook}},
	}
	if err := b.Save(); err != nil {
		return fail("%v", err)
	}
	id := newID("nethook")
	r, err := e.runBundle(ctx, id, b)
	if err != nil {
		return fail("%v", err)
	}
	if host, err := os.Readlink("/proc/self/ns/net"); err == nil && r.NetNS == host {
		return fail("the container shares the host's network namespace %s", host)
	}
	if got := slices.Sorted(slices.Values(r.Interfaces)); !slices.Equal(got, []string{"eth0", "lo"}) {
		return fail("interfaces inside: %v (want lo and the hook's eth0)", got)
	}
	veth := network.HostVethName(id)
	if _, err := net.InterfaceByName(veth); err == nil {
		return fail("the host end %s of the container's veth is left after delete", veth)
	}
	if out, err := exec.CommandContext(ctx, e.NSNet, cleanup...).CombinedOutput(); err != nil {
		return fail("nsnet cleanup of bridge %s: %v: %s", bridge, err, out)
	}
	if _, err := net.InterfaceByName(bridge); err == nil {
		return fail("bridge %s is left after nsnet cleanup", bridge)
	}
	return pass("lo and eth0 inside %s; veth %s gone after delete, bridge %s after cleanup", r.NetNS, veth, bridge)
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

// checkNNP: no_new_privs is set, and it works: a process running as an
// unprivileged user inside execs a setuid-root copy of the probe, which
// must still run with that user's effective id.
func checkNNP(ctx context.Context, e *Env) Result {
	if os.Geteuid() != 0 {
		// The setuid exec needs a second uid mapped into the container;
		// rootless there is only one, so the flag is the evidence.
		r, err := e.RunProbe(ctx, nil)
		if err != nil {
			return fail("%v", err)
		}
		if !r.NoNewPrivs {
			return fail("NoNewPrivs is 0: a setuid binary could elevate")
		}
		return pass("NoNewPrivs: 1 (the setuid exec is root's: rootless maps a single uid)")
	}
	const user = 1000
	b, err := e.NewBundle("/nsprobe", "--setuid", "/suid-probe")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	suid := filepath.Join(b.Dir, "rootfs", "suid-probe")
	if err := copyFile(e.Probe, suid); err != nil {
		return fail("%v", err)
	}
	if err := os.Chown(suid, 0, 0); err != nil {
		return fail("chown %s: %v", suid, err)
	}
	// chmod after chown: chown clears the setuid bit.
	if err := os.Chmod(suid, os.ModeSetuid|0o755); err != nil {
		return fail("chmod u+s %s: %v", suid, err)
	}
	b.Spec.Process.User = specs.User{UID: user, GID: user}
	if err := b.Save(); err != nil {
		return fail("%v", err)
	}
	r, err := e.runBundle(ctx, newID("nnp"), b)
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case r.Setuid == nil:
		return fail("the probe did not run the setuid binary")
	case r.Setuid.Error != "":
		return fail("%s", r.Setuid.Error)
	case r.Setuid.EUID != user:
		return fail("uid %d exec'd a setuid-root binary and ran with euid %d: privileges grew (NoNewPrivs %t)", r.Setuid.UID, r.Setuid.EUID, r.NoNewPrivs)
	case !r.NoNewPrivs:
		return fail("NoNewPrivs is 0")
	}
	return pass("NoNewPrivs: 1; uid %d exec'd a setuid-root binary and kept euid %d", r.Setuid.UID, r.Setuid.EUID)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
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

// checkMknod: mknod fails inside, and a device node the config does not
// allow cannot be opened. The node is the check's own, made on the host
// for a character major no driver has registered and bind-mounted in: the
// device allowlist (the devices cgroup, or its eBPF program on cgroup v2)
// refuses the open with EPERM before the kernel looks for a driver; with
// no allowlist the open reaches that lookup and fails with ENXIO instead.
func checkMknod(ctx context.Context, e *Env) Result {
	var args []string
	var mutate func(*specs.Spec)
	why := ""
	if os.Geteuid() != 0 {
		// Rootless runtimes cannot set up device control; mknod is the
		// whole check then.
		why = "rootless: no device allowlist to test"
	} else if major, err := freeCharMajor(); err != nil {
		why = err.Error()
	} else {
		d, err := e.hostDir("dev")
		if err != nil {
			return fail("%v", err)
		}
		node := filepath.Join(d, "nsbench-dev")
		if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(major, 0))); err != nil {
			return fail("mknod %s (char %d:0) on the host: %v", node, major, err)
		}
		args = []string{"--open-dev", "/nsbench-dev"}
		mutate = func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount(node, "/nsbench-dev")) }
	}
	r, err := e.RunProbe(ctx, mutate, args...)
	if err != nil {
		return fail("%v", err)
	}
	if r.Mknod == "" {
		return fail("mknod of a character device succeeded inside")
	}
	if args == nil {
		return pass("mknod: %s (%s)", r.Mknod, why)
	}
	switch r.OpenDev {
	case "EPERM", "EACCES":
		return pass("mknod: %s; a device node the config does not allow: open %s", r.Mknod, r.OpenDev)
	case "":
		return fail("a device node the config does not allow opened inside")
	}
	return fail("a device node the config does not allow got past the allowlist to the driver lookup (open: %s): no device control", r.OpenDev)
}

// freeCharMajor finds a character major that no driver has registered, per
// /proc/devices: first in the range Linux keeps for local use (240-254).
func freeCharMajor() (uint32, error) {
	data, err := os.ReadFile("/proc/devices")
	if err != nil {
		return 0, fmt.Errorf("read /proc/devices: %w", err)
	}
	used := map[string]bool{}
	chars := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "Character devices:"):
			chars = true
		case strings.HasPrefix(l, "Block devices:"):
			chars = false
		case chars:
			if f := strings.Fields(l); len(f) == 2 {
				used[f[0]] = true
			}
		}
	}
	// 256-383: beyond the 8-bit majors and below the extended dynamic range
	// (384-511), for kernels whose drivers took all of 240-254 (Debian's
	// arm64 kernel does).
	for _, r := range [][2]uint32{{240, 254}, {256, 383}} {
		for m := r[0]; m <= r[1]; m++ {
			if !used[fmt.Sprint(m)] {
				return m, nil
			}
		}
	}
	return 0, fmt.Errorf("every character major of 240-254 and 256-383 is registered here: no free number for a driverless node")
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
	defer os.RemoveAll(b.Dir)
	id := newID("down")
	pid, remove, err := e.launch(ctx, id, b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove() // in case the delete under test fails
	if err := e.Runtime.Delete(ctx, id, true); err != nil {
		return fail("delete --force: %v", err)
	}
	// The runtime's cgroup is named after the id, at the top of a
	// hierarchy or one level down (runc, crun and nsrun differ).
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	left := leftover.Scope{PIDs: []int{pid}, Cgroups: []string{id, "*/" + id}}.Wait(wait)
	if _, err := e.Runtime.State(ctx, id); err == nil {
		left = append(left, "state (the runtime still knows "+id+")")
	}
	if len(left) > 0 {
		return fail("left after delete: %s", strings.Join(slices.Compact(left), ", "))
	}
	return pass("no process, cgroup or state left")
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

// checkPidLifecycle: an orphan is reparented to the container's PID 1, and
// when PID 1 dies every other process of the container dies with it.
func checkPidLifecycle(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sh", "-c", "(sleep 300 &); exec sleep 300")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	id := newID("orphan")
	pid, remove, err := e.launch(ctx, id, b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	orphan := 0
	// By command: until the subshell exits, it is a child of PID 1 too,
	// and taking it for the orphan would pass a runtime whose orphans go
	// to the host.
	for deadline := time.Now().Add(5 * time.Second); orphan == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		orphan = childOf(pid, "sleep")
	}
	if orphan == 0 {
		return fail("no orphan was reparented to the container's PID 1 (host pid %d)", pid)
	}
	if err := e.Runtime.Kill(ctx, id, "KILL"); err != nil {
		return fail("kill: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); pidAlive(orphan) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if s, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan)); strings.Contains(string(s), ") Z ") {
			break // dead, waiting for the host's init to reap it
		}
	}
	if s, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan)); err == nil && !strings.Contains(string(s), ") Z ") {
		return fail("orphan %d survived the death of PID 1", orphan)
	}
	return pass("orphan %d reparented to PID 1 (host %d) and died with it", orphan, pid)
}

// childOf returns the host pid of a process named comm whose parent is
// ppid, or 0.
func childOf(ppid int, comm string) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == fmt.Sprint(ppid) && s[strings.IndexByte(s, '(')+1:i] == comm {
			var pid int
			fmt.Sscan(s, &pid)
			return pid
		}
	}
	return 0
}

// checkOwnership: with a user namespace, a file created inside as root is
// owned on the host by the mapped id, not by root.
func checkOwnership(ctx context.Context, e *Env) Result {
	if os.Geteuid() == 0 {
		return skip("the root configuration has no user namespace; run the suite unprivileged (make conformance-rootless)")
	}
	d, err := e.hostDir("own")
	if err != nil {
		return fail("%v", err)
	}
	r, err := e.RunProbe(ctx, func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount(d, "/own")) }, "--touch", "/own/f")
	if err != nil {
		return fail("%v", err)
	}
	if r.Touched != "" {
		return fail("create /own/f inside: %s", r.Touched)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(d, "f"), &st); err != nil {
		return fail("the file made inside is not on the host: %v", err)
	}
	if int(st.Uid) != os.Geteuid() {
		return fail("a file made by root inside is owned by uid %d on the host, want the mapped %d", st.Uid, os.Geteuid())
	}
	return pass("root inside wrote a file owned by uid %d on the host", st.Uid)
}

func readReport(path string) (*probe.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r probe.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode probe report %q: %w", data, err)
	}
	return &r, nil
}

// checkSibling: a container running next to another sees none of its
// processes.
func checkSibling(ctx context.Context, e *Env) Result {
	marker := fmt.Sprintf("%d", 300+os.Getpid()%600)
	b, err := e.NewBundle("sleep", marker)
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	_, remove, err := e.launch(ctx, newID("sibling"), b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	for _, c := range r.Cmdlines {
		if c == "sleep "+marker {
			return fail("the sibling container's %q is visible inside", c)
		}
	}
	return pass("the sibling's \"sleep %s\" is not among the %d processes seen", marker, len(r.Cmdlines))
}
