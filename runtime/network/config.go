package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
)

// Config selects the bridge and its address space.
type Config struct {
	// Bridge is the host bridge's name (at most 15 bytes).
	Bridge string `json:"bridge,omitempty"`
	// Subnet is the bridge's network in CIDR form; the bridge takes its
	// first host address, containers the others.
	Subnet string `json:"subnet,omitempty"`
	// MTU of the bridge and every veth end.
	MTU int `json:"mtu,omitempty"`
	// LeaseDir holds the lease and lock files.
	LeaseDir string `json:"leaseDir,omitempty"`
	// PauseAt names a step of Setup at which it stops for good, for the
	// fault tests ("lease-saved", "veth-created", "configured"); nsnet sets
	// it from EnvTestPause. Empty outside them.
	PauseAt string `json:"-"`
}

// EnvTestPause is the variable nsnet reads PauseAt from.
const EnvTestPause = "_NSNET_TEST_PAUSE"

// Defaults for an unset Config field.
const (
	DefaultBridge   = "nsbr0"
	DefaultSubnet   = "10.209.0.0/24"
	DefaultMTU      = 1500
	DefaultLeaseDir = "/run/nsnet"
)

// maxNameLen is IFNAMSIZ less the terminating NUL.
const maxNameLen = 15

// WithDefaults fills unset fields.
func (c Config) WithDefaults() Config {
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.Subnet == "" {
		c.Subnet = DefaultSubnet
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.LeaseDir == "" {
		c.LeaseDir = DefaultLeaseDir
	}
	return c
}

// Validate checks c (with defaults applied) and returns its subnet.
func (c Config) Validate() (netip.Prefix, error) {
	var errs []error
	if len(c.Bridge) > maxNameLen {
		errs = append(errs, fmt.Errorf("bridge name %q is %d bytes: interface names are at most %d", c.Bridge, len(c.Bridge), maxNameLen))
	}
	p, err := netip.ParsePrefix(c.Subnet)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("subnet %q: %w (want CIDR such as %s)", c.Subnet, err, DefaultSubnet))
	case !p.Addr().Is4():
		errs = append(errs, fmt.Errorf("subnet %q: only IPv4 subnets are supported", c.Subnet))
	case p.Bits() > 30:
		errs = append(errs, fmt.Errorf("subnet %q: a /%d leaves no address for a container besides the bridge (use /30 or larger)", c.Subnet, p.Bits()))
	case p.Masked() != p:
		errs = append(errs, fmt.Errorf("subnet %q has host bits set: did you mean %s?", c.Subnet, p.Masked()))
	}
	if c.MTU < 68 || c.MTU > 65535 {
		errs = append(errs, fmt.Errorf("mtu %d: outside 68..65535", c.MTU))
	}
	return p, errors.Join(errs...)
}

// LoadConfig reads a JSON config file; flags given later override it.
func LoadConfig(path string) (Config, error) {
	var c Config
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read nsnet config %s: %w", path, err)
	}
	dec := json.NewDecoder(bytesReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parse nsnet config %s: %w (fields: bridge, subnet, mtu, leaseDir)", path, err)
	}
	return c, nil
}
