package network

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"defaults", Config{}, ""},
		{"long bridge", Config{Bridge: "abcdefghijklmnop"}, "at most 15"},
		{"bad cidr", Config{Subnet: "10.0.0.0/33"}, `subnet "10.0.0.0/33"`},
		{"ipv6", Config{Subnet: "fd00::/64"}, "only IPv4"},
		{"too small", Config{Subnet: "10.0.0.0/31"}, "leaves no address"},
		{"host bits", Config{Subnet: "10.0.0.5/24"}, "did you mean 10.0.0.0/24"},
		{"mtu", Config{MTU: 10}, "mtu 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.WithDefaults().Validate()
			if tc.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.want)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"bridge": "br1", "subnet": "10.1.2.0/24", "mtu": 9000}`), 0o644))
	c, err := LoadConfig(good)
	require.NoError(t, err)
	assert.Equal(t, Config{Bridge: "br1", Subnet: "10.1.2.0/24", MTU: 9000}, c)
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"bridges": "x"}`), 0o644))
	_, err = LoadConfig(bad)
	assert.ErrorContains(t, err, "unknown field")
}

func TestAllocate(t *testing.T) {
	p := netip.MustParsePrefix("10.9.0.0/29") // .1 bridge, .2-.6 containers, .7 broadcast
	l := leases{}
	var got []string
	for i := 0; i < 5; i++ {
		a, err := l.allocate(p, netip.Addr{})
		require.NoError(t, err)
		l[strconv.Itoa(i)] = a
		got = append(got, a.String())
	}
	assert.Equal(t, []string{"10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"}, got)
	_, err := l.allocate(p, netip.Addr{})
	assert.ErrorContains(t, err, "exhausted")

	delete(l, "2")
	a, err := l.allocate(p, netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "10.9.0.4", a.String(), "a released address is reused")

	for want, msg := range map[string]string{
		"10.9.0.1": "bridge's own", "10.9.0.7": "broadcast", "10.9.0.0": "network", "10.9.1.1": "outside", "10.9.0.3": "leased to container 1",
	} {
		_, err := l.allocate(p, netip.MustParseAddr(want))
		assert.ErrorContains(t, err, msg, want)
	}
	assert.Equal(t, "10.9.0.255", broadcast(netip.MustParsePrefix("10.9.0.0/24")).String())
}

func TestHostVethName(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, id := range []string{"a", long, "c-1.2+3"} {
		n := HostVethName(id)
		assert.LessOrEqual(t, len(n), maxNameLen, n)
		assert.True(t, strings.HasPrefix(n, "nsv"))
	}
	assert.NotEqual(t, HostVethName("a"), HostVethName("b"))
	assert.Equal(t, HostVethName("a"), HostVethName("a"))
}

// --- tests against the real kernel (root) ---

// testConfig gives each test its own bridge, subnet and lease directory,
// and removes the bridge when the test ends.
func testConfig(t *testing.T) Config {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	cfg := Config{
		Bridge:   fmt.Sprintf("nsbt%x", b),
		Subnet:   fmt.Sprintf("10.209.%d.0/24", 1+int(b[0])%250),
		LeaseDir: filepath.Join(t.TempDir(), "leases"),
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(cfg.Bridge); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	return cfg
}

// newNetns starts a process in a new network namespace and returns its pid;
// the process is killed when the test ends.
func newNetns(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "--net", "sleep", "120")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// unshare execs sleep in the new namespace; wait until it did.
	require.Eventually(t, func() bool {
		a, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
		b, err2 := os.Readlink("/proc/self/ns/net")
		return err1 == nil && err2 == nil && a != b
	}, 5*time.Second, time.Millisecond)
	return cmd.Process.Pid
}

// inNetns runs f on a thread inside pid's network namespace. Sockets made
// there stay in that namespace after the thread returns. The thread goes
// back to the host namespace before it is unlocked; were it to exit locked
// and be the main thread, Go would park it instead of ending it, and
// /proc/self/ns/net would point into the test's namespace from then on.
func inNetns(t *testing.T, pid int, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		goruntime.LockOSThread()
		orig, err := netns.Get()
		if !assert.NoError(t, err) {
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPid(pid)
		if !assert.NoError(t, err) {
			return
		}
		defer target.Close()
		if !assert.NoError(t, netns.Set(target)) {
			return
		}
		defer func() {
			// Unlock only a thread that made it home; otherwise it ends
			// with the goroutine.
			if netns.Set(orig) == nil {
				goruntime.UnlockOSThread()
			}
		}()
		f()
	}()
	<-done
}

// listen opens a TCP listener on addr inside pid's namespace that answers
// every connection with "hello from <addr>".
func listen(t *testing.T, pid int, addr netip.Addr) string {
	t.Helper()
	var ln net.Listener
	inNetns(t, pid, func() {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		require.NoError(t, err)
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", addr)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, fromPid int, target string) string {
	t.Helper()
	var line string
	do := func() {
		c, err := net.DialTimeout("tcp", target, 5*time.Second)
		require.NoError(t, err, "dial %s", target)
		defer c.Close()
		line, err = bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
	}
	if fromPid == 0 {
		do()
	} else {
		inNetns(t, fromPid, do)
	}
	return strings.TrimSpace(line)
}

func assertNothingLeft(t *testing.T, cfg Config, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := netlink.LinkByName(HostVethName(id))
		assert.Error(t, err, "veth of %s is gone", id)
	}
	l, err := newStore(cfg.WithDefaults()).load()
	require.NoError(t, err)
	assert.Empty(t, l, "no lease is held")
}

func TestTwoContainersAndHost(t *testing.T) {
	testutil.NeedRoot(t, "creating bridges, veths and network namespaces")
	ctx := context.Background()
	cfg := testConfig(t)
	pa, pb := newNetns(t), newNetns(t)
	a, err := Setup(ctx, cfg, "ca", pa, netip.Addr{})
	require.NoError(t, err)
	b, err := Setup(ctx, cfg, "cb", pb, netip.Addr{})
	require.NoError(t, err)
	assert.NotEqual(t, a.Addr, b.Addr)
	assert.Equal(t, a.Gateway, b.Gateway)

	lb := listen(t, pb, b.Addr)
	la := listen(t, pa, a.Addr)
	assert.Equal(t, "hello from "+b.Addr.String(), dial(t, pa, lb), "container a reaches container b")
	assert.Equal(t, "hello from "+a.Addr.String(), dial(t, pb, la), "container b reaches container a")
	assert.Equal(t, "hello from "+a.Addr.String(), dial(t, 0, la), "the host reaches a")
	assert.Equal(t, "hello from "+b.Addr.String(), dial(t, 0, lb), "the host reaches b")

	// Inside: eth0 with the address, lo up, default route via the bridge.
	inNetns(t, pa, func() {
		eth, err := netlink.LinkByName(ContainerIface)
		require.NoError(t, err)
		assert.Equal(t, DefaultMTU, eth.Attrs().MTU)
		routes, err := netlink.RouteList(eth, netlink.FAMILY_V4)
		require.NoError(t, err)
		hasDefault := false
		for _, r := range routes {
			hasDefault = hasDefault || (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && r.Gw.String() == a.Gateway.String()
		}
		assert.True(t, hasDefault, "default route via %s: %v", a.Gateway, routes)
	})

	_, err = Setup(ctx, cfg, "ca", pa, netip.Addr{})
	assert.ErrorContains(t, err, "already holds", "an id is attached once")

	require.NoError(t, Teardown(ctx, cfg, "ca"))
	require.NoError(t, Teardown(ctx, cfg, "cb"))
	require.NoError(t, Teardown(ctx, cfg, "cb"), "teardown is idempotent")
	assertNothingLeft(t, cfg, "ca", "cb")
	require.NoError(t, Cleanup(ctx, cfg, false))
	_, err = netlink.LinkByName(cfg.Bridge)
	assert.Error(t, err, "cleanup removed the bridge")
	_, err = os.Stat(cfg.LeaseDir)
	assert.True(t, os.IsNotExist(err), "cleanup removed the lease directory")
}

func TestHalfFailedSetupLeavesNothing(t *testing.T) {
	testutil.NeedRoot(t, "creating bridges, veths and network namespaces")
	ctx := context.Background()
	cfg := testConfig(t)

	// The container's process is gone.
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	_, err := Setup(ctx, cfg, "gone", gone.Process.Pid, netip.Addr{})
	assert.ErrorContains(t, err, "has the container exited?")
	assertNothingLeft(t, cfg, "gone")

	// The container already has an eth0: the rename fails after the veth
	// and the lease exist, and both must be undone.
	pid := newNetns(t)
	inNetns(t, pid, func() {
		require.NoError(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ContainerIface}, PeerName: "other0"}))
	})
	_, err = Setup(ctx, cfg, "clash", pid, netip.Addr{})
	assert.ErrorContains(t, err, "rename")
	assertNothingLeft(t, cfg, "clash")

	// Exhaustion: a /30 has one container address.
	small := cfg
	small.Subnet = strings.TrimSuffix(cfg.Subnet, "/24") + "/30"
	small.Bridge = cfg.Bridge + "s"
	t.Cleanup(func() { _ = Cleanup(ctx, small, true) })
	p1, p2 := newNetns(t), newNetns(t)
	_, err = Setup(ctx, small, "one", p1, netip.Addr{})
	require.NoError(t, err)
	_, err = Setup(ctx, small, "two", p2, netip.Addr{})
	assert.ErrorContains(t, err, "exhausted")
	_, err = netlink.LinkByName(HostVethName("two"))
	assert.Error(t, err)
	assert.ErrorContains(t, Cleanup(ctx, small, false), "still has 1 container(s) attached")
	require.NoError(t, Cleanup(ctx, small, true))
	require.NoError(t, Cleanup(ctx, cfg, false))
}

func TestSharedHostNamespaceRefused(t *testing.T) {
	testutil.NeedRoot(t, "creating bridges, veths and network namespaces")
	cfg := testConfig(t)
	_, err := Setup(context.Background(), cfg, "hostns", os.Getpid(), netip.Addr{})
	assert.ErrorContains(t, err, "shares the host's network namespace")
	assertNothingLeft(t, cfg, "hostns")
}

func TestConcurrentGoroutines(t *testing.T) {
	testutil.NeedRoot(t, "creating bridges, veths and network namespaces")
	ctx := context.Background()
	cfg := testConfig(t)
	const n = 10
	pids := make([]int, n)
	for i := range pids {
		pids[i] = newNetns(t)
	}
	atts := make([]*Attachment, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a, err := Setup(ctx, cfg, "g"+strconv.Itoa(i), pids[i], netip.Addr{})
			assert.NoError(t, err)
			atts[i] = a
		}(i)
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, a := range atts {
		require.NotNil(t, a, "container %d", i)
		assert.False(t, seen[a.Addr], "address %s given twice", a.Addr)
		seen[a.Addr] = true
		assert.Equal(t, "hello from "+a.Addr.String(), dial(t, 0, listen(t, pids[i], a.Addr)))
	}
	for i := 0; i < n; i++ {
		require.NoError(t, Teardown(ctx, cfg, "g"+strconv.Itoa(i)))
	}
	require.NoError(t, Cleanup(ctx, cfg, false))
}

// EnsureBridge makes the bridge with its gateway address before any
// container exists, does nothing the second time, and refuses a bridge that
// carries another subnet; Cleanup removes what it made.
func TestEnsureBridge(t *testing.T) {
	testutil.NeedRoot(t, "creating a bridge")
	ctx := context.Background()
	cfg := testConfig(t)
	require.NoError(t, EnsureBridge(ctx, cfg))
	require.NoError(t, EnsureBridge(ctx, cfg), "a second call finds it ready")
	br, err := netlink.LinkByName(cfg.Bridge)
	require.NoError(t, err)
	assert.Equal(t, "bridge", br.Type())
	assert.NotZero(t, br.Attrs().Flags&net.FlagUp, "the bridge is up")
	addrs, err := netlink.AddrList(br, unix.AF_INET)
	require.NoError(t, err)
	require.Len(t, addrs, 1)
	prefix := netip.MustParsePrefix(cfg.Subnet)
	assert.Equal(t, Gateway(prefix).String(), addrs[0].IP.String())
	// the gateway is the host's address on the bridge: a server binds there
	ln, err := net.Listen("tcp", netip.AddrPortFrom(Gateway(prefix), 0).String())
	require.NoError(t, err)
	ln.Close()

	other := cfg
	other.Subnet = "10.209.251.0/24"
	assert.ErrorContains(t, EnsureBridge(ctx, other), "pass its subnet with --subnet")
	bad := cfg
	bad.Bridge = "a-name-longer-than-15"
	assert.ErrorContains(t, EnsureBridge(ctx, bad), "interface names are at most 15")

	require.NoError(t, Cleanup(ctx, cfg, false))
	_, err = netlink.LinkByName(cfg.Bridge)
	assert.Error(t, err, "the bridge is gone")
}

func TestGateway(t *testing.T) {
	for in, want := range map[string]string{"10.209.0.0/24": "10.209.0.1", "192.168.8.0/30": "192.168.8.1", "10.1.2.77/16": "10.1.0.1"} {
		assert.Equal(t, want, Gateway(netip.MustParsePrefix(in)).String(), in)
	}
}
