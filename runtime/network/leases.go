package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/flock"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// leases maps container id to its address.
type leases map[string]netip.Addr

// Gateway is the bridge's own address: the subnet's first host address.
// Containers route through it, and a host service that containers on the
// bridge should reach binds to it.
func Gateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// allocate returns want if it is a free container address of p, or the
// lowest free one when want is invalid (not given).
func (l leases) allocate(p netip.Prefix, want netip.Addr) (netip.Addr, error) {
	used := map[netip.Addr]string{}
	for id, a := range l {
		used[a] = id
	}
	gw := Gateway(p)
	last := broadcast(p)
	if want.IsValid() {
		switch {
		case !p.Contains(want):
			return netip.Addr{}, fmt.Errorf("address %s is outside subnet %s", want, p)
		case want == p.Masked().Addr() || want == last:
			return netip.Addr{}, fmt.Errorf("address %s is the network or broadcast address of %s", want, p)
		case want == gw:
			return netip.Addr{}, fmt.Errorf("address %s is the bridge's own", want)
		case used[want] != "":
			return netip.Addr{}, fmt.Errorf("address %s is leased to container %s", want, used[want])
		}
		return want, nil
	}
	for a := gw.Next(); a.IsValid() && a != last && p.Contains(a); a = a.Next() {
		if used[a] == "" {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s is exhausted: %d containers hold every address (release some, or use a larger --subnet)", p, len(l))
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// store is the lease file of one bridge, used under its lock.
type store struct {
	path, lockPath string
}

func newStore(cfg Config) *store {
	return &store{
		path:     filepath.Join(cfg.LeaseDir, cfg.Bridge+".leases.json"),
		lockPath: filepath.Join(cfg.LeaseDir, cfg.Bridge+".lock"),
	}
}

// lock takes the bridge's lock, waiting until ctx ends; every change of
// bridge or leases holds it, which serialises concurrent hooks across
// processes.
func (s *store) lock(ctx context.Context) (func(), error) {
	return flock.Lock(ctx, s.lockPath)
}

func (s *store) load() (leases, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return leases{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read leases %s: %w", s.path, err)
	}
	l, err := parseLeases(data)
	if err != nil {
		return nil, fmt.Errorf("parse leases %s: %w (remove the file if no container uses the bridge)", s.path, err)
	}
	return l, nil
}

// parseLeases decodes a lease file: container id -> IPv4 address. A lease
// with no id, an address that is not IPv4 or one held twice is refused: the
// file is damaged, and trusting it would hand one address to two
// containers.
func parseLeases(data []byte) (leases, error) {
	l := leases{}
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	holder := map[netip.Addr]string{}
	for _, id := range l.ids() {
		a := l[id]
		switch {
		case id == "":
			return nil, fmt.Errorf("a lease of %s has no container id", a)
		case !a.Is4():
			return nil, fmt.Errorf("lease of %s: %q is not an IPv4 address", id, a)
		case holder[a] != "":
			return nil, fmt.Errorf("address %s is leased to both %s and %s", a, holder[a], id)
		}
		holder[a] = id
	}
	return l, nil
}

func (s *store) save(l leases) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("encode leases: %w", err)
	}
	if err := atomicfile.Write(s.path, data, 0o644); err != nil {
		return fmt.Errorf("save leases: %w", err)
	}
	return nil
}

// ids lists the lease holders, sorted.
func (l leases) ids() []string {
	var out []string
	for id := range l {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
