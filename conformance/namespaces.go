package conformance

// The namespace family: uts, ipc, network (with and without the nsnet hook), cgroup.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nsbench/nsbench/conformance/probe"
	"github.com/nsbench/nsbench/runtime/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

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
