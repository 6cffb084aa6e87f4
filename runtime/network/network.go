package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/nsbench/nsbench/internal/testpause"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ContainerIface is the name of the container's end of the veth pair.
const ContainerIface = "eth0"

// Attachment is one container's place on the bridge.
type Attachment struct {
	ID       string     `json:"id"`
	HostVeth string     `json:"hostVeth"`
	Addr     netip.Addr `json:"address"`
	Prefix   int        `json:"prefixLength"`
	Gateway  netip.Addr `json:"gateway"`
}

// HostVethName derives the host end's name from the container id: a hash,
// so any id fits in an interface name and names do not collide.
func HostVethName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "nsv" + hex.EncodeToString(sum[:])[:10]
}

func peerTempName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "nsp" + hex.EncodeToString(sum[:])[:10]
}

// ErrNotRoot is returned without CAP_NET_ADMIN in the host namespace.
var ErrNotRoot = errors.New("nsnet needs root (CAP_NET_ADMIN in the host network namespace); rootless containers get only lo")

// Setup attaches the network namespace of process pid to the bridge as
// container id: bridge (made if missing), lease, veth pair with its peer
// born in the container's namespace, eth0 with the address, lo up, default
// route via the bridge. want, when valid, asks for a fixed address. On
// failure it undoes what it did.
func Setup(ctx context.Context, cfg Config, id string, pid int, want netip.Addr) (_ *Attachment, err error) {
	cfg = cfg.WithDefaults()
	prefix, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if id == "" {
		return nil, errors.New("container id is empty")
	}
	if pid <= 0 {
		return nil, fmt.Errorf("container %s: no pid to find its network namespace (state.pid is %d)", id, pid)
	}
	// Hold the container's namespace open: the pid may go away, and a
	// reused pid must not send us into someone else's namespace.
	nsh, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("container %s: open network namespace of pid %d: %w (has the container exited?)", id, pid, err)
	}
	defer nsh.Close()
	host, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("open own network namespace: %w", err)
	}
	defer host.Close()
	if nsh.Equal(host) {
		return nil, fmt.Errorf("container %s: pid %d shares the host's network namespace: give the container a network namespace", id, pid)
	}

	st := newStore(cfg)
	unlock, err := st.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	l, err := st.load()
	if err != nil {
		return nil, err
	}
	if a, ok := l[id]; ok {
		return nil, fmt.Errorf("container %s already holds %s on bridge %s (tear it down first)", id, a, cfg.Bridge)
	}
	br, err := ensureBridge(cfg, prefix)
	if err != nil {
		return nil, err
	}
	addr, err := l.allocate(prefix, want)
	if err != nil {
		return nil, err
	}
	l[id] = addr
	if err := st.save(l); err != nil {
		return nil, err
	}
	testpause.At("nsnet", cfg.PauseAt, "lease-saved")
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	undo = append(undo, func() {
		if l2, lerr := st.load(); lerr == nil {
			delete(l2, id)
			_ = st.save(l2)
		}
	})

	hostName, peerName := HostVethName(id), peerTempName(id)
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostName, MTU: cfg.MTU, MasterIndex: br.Attrs().Index},
		PeerName:      peerName,
		PeerMTU:       uint32(cfg.MTU),
		PeerNamespace: netlink.NsFd(int(nsh)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth %s for container %s: %w", hostName, id, err)
	}
	undo = append(undo, func() { _ = netlink.LinkDel(veth) })
	testpause.At("nsnet", cfg.PauseAt, "veth-created")
	hostLink, err := netlink.LinkByName(hostName)
	if err != nil {
		return nil, fmt.Errorf("find veth %s: %w", hostName, err)
	}
	if err := netlink.LinkSetUp(hostLink); err != nil {
		return nil, fmt.Errorf("set %s up: %w", hostName, err)
	}
	gw := Gateway(prefix)
	if err := configureInside(nsh, peerName, netip.PrefixFrom(addr, prefix.Bits()), gw); err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	testpause.At("nsnet", cfg.PauseAt, "configured")
	return &Attachment{ID: id, HostVeth: hostName, Addr: addr, Prefix: prefix.Bits(), Gateway: gw}, nil
}

// configureInside works through a netlink socket opened in the container's
// namespace: no thread of ours ever changes namespace here. Only
// NETLINK_ROUTE: with no family named, netlink opens XFRM and NETFILTER
// sockets too, which a minimal kernel without them refuses
// (EPROTONOSUPPORT), though links, addresses and routes need neither.
func configureInside(nsh netns.NsHandle, peer string, addr netip.Prefix, gw netip.Addr) error {
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink in the container's namespace: %w", err)
	}
	defer h.Close()
	link, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("find %s in the container's namespace: %w", peer, err)
	}
	if err := h.LinkSetName(link, ContainerIface); err != nil {
		return fmt.Errorf("rename %s to %s: %w (does the container already have an %s?)", peer, ContainerIface, err, ContainerIface)
	}
	ipnet := &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), 32)}
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipnet}); err != nil {
		return fmt.Errorf("add %s to %s: %w", addr, ContainerIface, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", ContainerIface, err)
	}
	if lo, err := h.LinkByName("lo"); err == nil {
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up: %w", err)
		}
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("add default route via %s: %w", gw, err)
	}
	return nil
}

// EnsureBridge makes cfg's bridge (defaults applied) with its gateway
// address and sets it up, unless it exists already with that address: what
// Setup does before the first container is attached, for callers that need
// the bridge before any container exists (a host server bound to the
// gateway). It takes the bridge's lease lock, so it never races a hook.
func EnsureBridge(ctx context.Context, cfg Config) error {
	cfg = cfg.WithDefaults()
	prefix, err := cfg.Validate()
	if err != nil {
		return err
	}
	_, unlock, err := lockedStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer unlock()
	_, err = ensureBridge(cfg, prefix)
	return err
}

// ensureBridge returns the bridge, creating it with the gateway address
// when missing. Callers hold the lock; EEXIST still counts as success in
// case another tool made it.
func ensureBridge(cfg Config, prefix netip.Prefix) (netlink.Link, error) {
	br, err := netlink.LinkByName(cfg.Bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("find bridge %s: %w", cfg.Bridge, err)
		}
		nb := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: cfg.Bridge, MTU: cfg.MTU}}
		if err := netlink.LinkAdd(nb); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("create bridge %s: %w", cfg.Bridge, err)
		}
		if br, err = netlink.LinkByName(cfg.Bridge); err != nil {
			return nil, fmt.Errorf("find bridge %s: %w", cfg.Bridge, err)
		}
	}
	if br.Type() != "bridge" {
		return nil, fmt.Errorf("%s exists but is a %s, not a bridge: pick another --bridge", cfg.Bridge, br.Type())
	}
	gw := netip.PrefixFrom(Gateway(prefix), prefix.Bits())
	addrs, err := netlink.AddrList(br, unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", cfg.Bridge, err)
	}
	have := false
	var others []string
	for _, a := range addrs {
		p, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		if netip.PrefixFrom(p, ones) == gw {
			have = true
		} else {
			others = append(others, fmt.Sprintf("%s/%d", p, ones))
		}
	}
	if !have && len(others) > 0 {
		return nil, fmt.Errorf("bridge %s has %v, not %s: pass its subnet with --subnet or pick another --bridge", cfg.Bridge, others, gw)
	}
	if !have {
		ipnet := &net.IPNet{IP: gw.Addr().AsSlice(), Mask: net.CIDRMask(gw.Bits(), 32)}
		if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: ipnet}); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("add %s to bridge %s: %w", gw, cfg.Bridge, err)
		}
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("set bridge %s up: %w", cfg.Bridge, err)
	}
	return br, nil
}

// lockedStore validates cfg (defaults applied), checks for root and takes
// the bridge's lease lock: what every change to a bridge starts with.
func lockedStore(ctx context.Context, cfg Config) (*store, func(), error) {
	if _, err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if os.Geteuid() != 0 {
		return nil, nil, ErrNotRoot
	}
	st := newStore(cfg)
	unlock, err := st.lock(ctx)
	if err != nil {
		return nil, nil, err
	}
	return st, unlock, nil
}

// Teardown removes container id's veth (its peer goes with it) and releases
// its lease. It is idempotent.
func Teardown(ctx context.Context, cfg Config, id string) error {
	cfg = cfg.WithDefaults()
	st, unlock, err := lockedStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer unlock()
	if link, err := netlink.LinkByName(HostVethName(id)); err == nil {
		// The kernel removes the pair itself when the container's
		// namespace dies, and does so asynchronously: the veth found a
		// moment ago may be gone now. That is the outcome wanted, and the
		// lease must still be released (it was not, and nsnet cleanup
		// then found the bridge in use, in the VM guests).
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete veth %s of container %s: %w", HostVethName(id), id, err)
		}
	}
	l, err := st.load()
	if err != nil {
		return err
	}
	if _, ok := l[id]; ok {
		delete(l, id)
		return st.save(l)
	}
	return nil
}

// Cleanup removes the bridge and its lease files. With leases still held it
// refuses unless force, which also deletes those containers' veths.
func Cleanup(ctx context.Context, cfg Config, force bool) error {
	cfg = cfg.WithDefaults()
	st, unlock, err := lockedStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer unlock()
	l, err := st.load()
	if err != nil {
		return err
	}
	if len(l) > 0 && !force {
		return fmt.Errorf("bridge %s still has %d container(s) attached: %v (tear them down, or use --force)", cfg.Bridge, len(l), l.ids())
	}
	for id := range l {
		if link, err := netlink.LinkByName(HostVethName(id)); err == nil {
			_ = netlink.LinkDel(link)
		}
	}
	if br, err := netlink.LinkByName(cfg.Bridge); err == nil {
		if br.Type() != "bridge" {
			return fmt.Errorf("%s is a %s, not a bridge: not removing it", cfg.Bridge, br.Type())
		}
		if err := netlink.LinkDel(br); err != nil {
			return fmt.Errorf("delete bridge %s: %w", cfg.Bridge, err)
		}
	}
	for _, p := range []string{st.path, st.lockPath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	// The directory goes too when nothing else uses it.
	_ = os.Remove(cfg.LeaseDir)
	return nil
}
