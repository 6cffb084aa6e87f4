// Package capabilities sets a process's five capability sets from an OCI
// process.capabilities. The calls act on the calling thread only, so the
// container's init runs them on its locked OS thread right before execve.
package capabilities

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/spec"
)

// Set is a parsed capability configuration, as bit masks.
type Set struct {
	Bounding, Effective, Inheritable, Permitted, Ambient uint64
}

// Parse turns capability names into masks.
func Parse(c *specs.LinuxCapabilities) (*Set, error) {
	s := &Set{}
	if c == nil {
		return s, nil
	}
	for _, x := range []struct {
		names []string
		mask  *uint64
		set   string
	}{{c.Bounding, &s.Bounding, "bounding"}, {c.Effective, &s.Effective, "effective"}, {c.Inheritable, &s.Inheritable, "inheritable"}, {c.Permitted, &s.Permitted, "permitted"}, {c.Ambient, &s.Ambient, "ambient"}} {
		for _, n := range x.names {
			v, ok := spec.Capability(n)
			if !ok {
				return nil, fmt.Errorf("capabilities.%s: unknown capability %q", x.set, n)
			}
			*x.mask |= 1 << uint(v)
		}
	}
	return s, nil
}

// DropBounding removes from the bounding set every capability not in
// s.Bounding. It needs CAP_SETPCAP, so it runs before the uid changes.
func (s *Set) DropBounding() error {
	last := LastCap() // asked once, not per capability
	for c := 0; c <= last; c++ {
		if s.Bounding&(1<<uint(c)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets, then raises the
// ambient ones (which must be permitted and inheritable).
func (s *Set) Apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[1].Effective = uint32(s.Effective), uint32(s.Effective>>32)
	data[0].Permitted, data[1].Permitted = uint32(s.Permitted), uint32(s.Permitted>>32)
	data[0].Inheritable, data[1].Inheritable = uint32(s.Inheritable), uint32(s.Inheritable>>32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset effective=%#x permitted=%#x inheritable=%#x: %w", s.Effective, s.Permitted, s.Inheritable, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if s.Ambient == 0 {
		return nil
	}
	last := LastCap()
	for c := 0; c <= last; c++ {
		if s.Ambient&(1<<uint(c)) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d (it must also be permitted and inheritable): %w", c, err)
		}
	}
	return nil
}
