package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vishvananda/netlink"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/runtime/network"
)

// netBridge is the nsnet bridge of one run: its name and subnet are the
// run's own (nsbp<pid>, a free 10.209.x.0/24), its leases live in the run's
// state directory, and close removes all of it. The subnet's route sits on
// the bridge, so the benchmark's traffic never leaves the machine.
type netBridge struct {
	cfg    network.Config
	prefix netip.Prefix
	hook   string // nsnet, built from this tree
}

// newBridge makes the bridge with its gateway address (the mixed topology's
// host server binds there before any container exists), and builds the nsnet
// hook that attaches containers to it.
func newBridge(ctx context.Context, stateDir string) (_ *netBridge, err error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the nsnet bridge needs root (CAP_NET_ADMIN)")
	}
	prefix, err := freeSubnet()
	if err != nil {
		return nil, err
	}
	b := &netBridge{prefix: prefix, cfg: network.Config{
		Bridge: "nsbp" + strconv.Itoa(os.Getpid()), Subnet: prefix.String(), MTU: network.DefaultMTU,
		LeaseDir: filepath.Join(stateDir, "nsnet"),
	}}
	if b.hook, err = gobuild.Static(ctx, "./cmd/nsnet", filepath.Join(stateDir, "bin"), ""); err != nil {
		return nil, fmt.Errorf("build the nsnet hook: %w", err)
	}
	if _, err := netlink.LinkByName(b.cfg.Bridge); err == nil {
		return nil, fmt.Errorf("bridge %s exists already: another nsbench of this pid? remove it with nsnet cleanup --bridge %s", b.cfg.Bridge, b.cfg.Bridge)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: b.cfg.Bridge, MTU: b.cfg.MTU}}
	if err := netlink.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("create bridge %s: %w", b.cfg.Bridge, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.close(context.Background()))
		}
	}()
	gw := b.gateway()
	ipnet := &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(prefix.Bits(), 32)}
	if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: ipnet}); err != nil {
		return nil, fmt.Errorf("add %s/%d to bridge %s: %w", gw, prefix.Bits(), b.cfg.Bridge, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("set bridge %s up: %w", b.cfg.Bridge, err)
	}
	return b, nil
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

// gateway is the bridge's own address, the subnet's first.
func (b *netBridge) gateway() netip.Addr { return b.prefix.Addr().Next() }

// host returns the subnet's n-th container address (n >= 1).
func (b *netBridge) host(n int) netip.Addr {
	a := b.gateway()
	for range n {
		a = a.Next()
	}
	return a
}

// attach is the job option that puts a container at the n-th address.
func (b *netBridge) attach(n int) *env.Bridge {
	return &env.Bridge{Network: b.cfg, Address: b.host(n), Hook: b.hook}
}

// close detaches whatever is still attached, removes the bridge, the leases
// and the lease directory, and checks that no link of the run is left.
func (b *netBridge) close(ctx context.Context) error {
	err := network.Cleanup(ctx, b.cfg, true)
	if rerr := os.RemoveAll(b.cfg.LeaseDir); rerr != nil {
		err = errors.Join(err, fmt.Errorf("remove lease dir %s: %w", b.cfg.LeaseDir, rerr))
	}
	if _, lerr := netlink.LinkByName(b.cfg.Bridge); lerr == nil {
		err = errors.Join(err, fmt.Errorf("bridge %s is still there after cleanup", b.cfg.Bridge))
	}
	return err
}
