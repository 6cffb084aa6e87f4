package env

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vishvananda/netlink"

	"github.com/nsbench/nsbench/runtime/network"
)

// Network is the nsnet bridge of one benchmark run: its name and subnet are
// the run's own (nsbp<pid>, a free 10.209.x.0/24), its leases live in the
// run's state directory, and Close removes all of it. The bridge itself is
// made by runtime/network, the code the nsnet hook runs, so the benchmark's
// bridge is the one containers get. The subnet's route sits on the bridge,
// so the benchmark's traffic never leaves the machine.
type Network struct {
	cfg    network.Config
	prefix netip.Prefix
	hook   string
}

// NewNetwork makes the run's bridge with its gateway address (a host server
// binds there before any container exists); hook is the nsnet binary that
// attaches containers to it.
func NewNetwork(ctx context.Context, stateDir, hook string) (_ *Network, err error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the nsnet bridge needs root (CAP_NET_ADMIN)")
	}
	if hook == "" {
		return nil, fmt.Errorf("the nsnet bridge needs the nsnet hook binary")
	}
	prefix, err := freeSubnet()
	if err != nil {
		return nil, err
	}
	n := &Network{prefix: prefix, hook: hook, cfg: network.Config{
		Bridge: "nsbp" + strconv.Itoa(os.Getpid()), Subnet: prefix.String(), MTU: network.DefaultMTU,
		LeaseDir: filepath.Join(stateDir, "nsnet"),
	}}
	if _, err := netlink.LinkByName(n.cfg.Bridge); err == nil {
		return nil, fmt.Errorf("bridge %s exists already: another nsbench of this pid? remove it with nsnet cleanup --bridge %s --subnet %s", n.cfg.Bridge, n.cfg.Bridge, n.cfg.Subnet)
	}
	if err := network.EnsureBridge(ctx, n.cfg); err != nil {
		return nil, errors.Join(err, n.Close(context.WithoutCancel(ctx)))
	}
	return n, nil
}

// freeSubnet returns the first 10.209.x.0/24 (x from 128; nsnet's default
// 10.209.0.0/24 stays free) that no route of the host overlaps.
func freeSubnet() (netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4) // the main table
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list routes: %w", err)
	}
	var used []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		ones, _ := r.Dst.Mask.Size()
		if !ok || ones == 0 {
			continue // the default route overlaps everything and routes nothing of ours
		}
		used = append(used, netip.PrefixFrom(a, ones))
	}
next:
	for x := 128; x < 255; x++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 209, byte(x), 0}), 24)
		for _, u := range used {
			if u.Overlaps(p) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, fmt.Errorf("no free subnet in 10.209.128.0/17 for the benchmark bridge")
}

// Name is the bridge's interface name.
func (n *Network) Name() string { return n.cfg.Bridge }

// Gateway is the bridge's own address, where a host server listens.
func (n *Network) Gateway() netip.Addr { return network.Gateway(n.prefix) }

// Host returns the subnet's i-th container address (i >= 1).
func (n *Network) Host(i int) netip.Addr {
	a := n.Gateway()
	for range i {
		a = a.Next()
	}
	return a
}

// Attach is the job option that puts a container at the i-th address.
func (n *Network) Attach(i int) *Bridge {
	return &Bridge{Network: n.cfg, Address: n.Host(i), Hook: n.hook}
}

// Close detaches whatever is still attached, removes the bridge, the leases
// and the lease directory, and checks that no link of the run is left.
func (n *Network) Close(ctx context.Context) error {
	err := network.Cleanup(ctx, n.cfg, true)
	if rerr := os.RemoveAll(n.cfg.LeaseDir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove lease dir %s: %w", n.cfg.LeaseDir, rerr))
	}
	if _, lerr := netlink.LinkByName(n.cfg.Bridge); lerr == nil {
		err = errors.Join(err, fmt.Errorf("bridge %s is still there after cleanup", n.cfg.Bridge))
	}
	return err
}
