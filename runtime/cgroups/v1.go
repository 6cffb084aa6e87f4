package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroup v1 (and the v1 side of a hybrid host): one hierarchy per
// controller group, limits in the controllers' own files, as runc's fs
// package writes them.

func (m *Manager) setV1(r *specs.LinuxResources) error {
	if len(r.Unified) > 0 {
		return errors.New("linux.resources.unified: cgroup v2 files cannot be set on this cgroup v1 host; use the v1 fields (memory, cpu, pids, ...)")
	}
	if mem := r.Memory; mem != nil {
		if err := m.setMemoryV1(mem); err != nil {
			return err
		}
	}
	if err := m.setPids(r.Pids); err != nil {
		return err
	}
	if c := r.CPU; c != nil {
		if err := m.setCPUV1(c); err != nil {
			return err
		}
		if err := m.setCpuset(c); err != nil {
			return err
		}
	}
	if b := r.BlockIO; b != nil {
		if err := m.setBlkioV1(b); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		if dir, _ := m.dir("devices"); dir != "" {
			if err := setDevicesV1(dir, r.Devices); err != nil {
				return err
			}
		}
	}
	return unsupported(r)
}

// setPids writes pids.max, the same file on v1 and v2.
func (m *Manager) setPids(p *specs.LinuxPids) error {
	if p == nil || p.Limit == nil || *p.Limit == 0 {
		return nil
	}
	dir, _ := m.dir("pids")
	if dir == "" {
		return errors.New("linux.resources.pids: this host has no pids cgroup controller")
	}
	return write(dir, "pids.max", limit(*p.Limit))
}

// unsupported names the resources nsrun does not apply, rather than
// running the container without them.
func unsupported(r *specs.LinuxResources) error {
	switch {
	case len(r.HugepageLimits) > 0:
		return errors.New("linux.resources.hugepageLimits: not supported by nsrun; drop them")
	case r.Network != nil && (r.Network.ClassID != nil || len(r.Network.Priorities) > 0):
		return errors.New("linux.resources.network: net_cls/net_prio are not supported by nsrun; drop them")
	case len(r.Rdma) > 0:
		return errors.New("linux.resources.rdma: not supported by nsrun; drop it")
	}
	return nil
}

// setMemoryV1 follows runc's fs package: a zero value means unset, and
// limit and memsw are written in the order the kernel accepts, which
// keeps memory.limit <= memory.memsw.limit at every step.
func (m *Manager) setMemoryV1(mem *specs.LinuxMemory) error {
	lim, swap, res := val(mem.Limit), val(mem.Swap), val(mem.Reservation)
	dir, _ := m.dir("memory")
	if dir == "" {
		if lim != 0 || swap != 0 || res != 0 {
			return errors.New("linux.resources.memory: this host has no memory cgroup controller")
		}
		return nil
	}
	_, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes"))
	hasSwap := err == nil
	if lim == -1 && swap == 0 && hasSwap {
		swap = -1 // unlimited memory means unlimited memory+swap too
	}
	if swap != 0 && !hasSwap {
		return fmt.Errorf("linux.resources.memory.swap: %s has no memory.memsw.limit_in_bytes (boot with swapaccount=1, or drop the swap limit)", dir)
	}
	setLimit := func() error {
		if lim == 0 {
			return nil
		}
		return write(dir, "memory.limit_in_bytes", strconv.FormatInt(lim, 10))
	}
	setSwap := func() error {
		if swap == 0 {
			return nil
		}
		return write(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(swap, 10))
	}
	first, second := setLimit, setSwap
	if lim != 0 && swap != 0 {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(dir, "memory.limit_in_bytes"), err)
		}
		if swap == -1 || cur < uint64(swap) {
			first, second = setSwap, setLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if res != 0 {
		if err := write(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(res, 10)); err != nil {
			return err
		}
	}
	if sw := mem.Swappiness; sw != nil && int64(*sw) != -1 {
		if *sw > 100 {
			return fmt.Errorf("linux.resources.memory.swappiness: %d is not in 0..100", *sw)
		}
		if err := write(dir, "memory.swappiness", strconv.FormatUint(*sw, 10)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		if err := write(dir, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	return nil
}

// val reads an optional OCI integer; absent is 0, which runc treats as
// "leave as it is".
func val(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (m *Manager) setCPUV1(c *specs.LinuxCPU) error {
	dir, _ := m.dir("cpu")
	if dir == "" {
		if c.Shares != nil || c.Quota != nil || c.Period != nil || c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
			return errors.New("linux.resources.cpu: this host has no cpu cgroup controller")
		}
		return nil
	}
	if c.Shares != nil && *c.Shares > 0 {
		if err := write(dir, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return err
		}
	}
	// The period goes first: the kernel checks quota against it. A smaller
	// period can be refused while the old quota stands (old quota / new
	// period above the parent's); then it is written again after the
	// quota, as runc does.
	period := ""
	if c.Period != nil && *c.Period > 0 {
		period = strconv.FormatUint(*c.Period, 10)
		if err := write(dir, "cpu.cfs_period_us", period); err == nil {
			period = ""
		} else if !errors.Is(err, unix.EINVAL) || c.Quota == nil || *c.Quota == 0 {
			return err
		}
	}
	if c.Quota != nil && *c.Quota != 0 {
		if err := write(dir, "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); err != nil {
			return err
		}
		if period != "" {
			if err := write(dir, "cpu.cfs_period_us", period); err != nil {
				return err
			}
		}
	}
	if c.RealtimePeriod != nil && *c.RealtimePeriod > 0 {
		if err := write(dir, "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10)); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
		if err := write(dir, "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := write(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

// setCpuset writes cpuset.cpus and cpuset.mems, the same files on v1 and
// v2.
func (m *Manager) setCpuset(c *specs.LinuxCPU) error {
	if c.Cpus == "" && c.Mems == "" {
		return nil
	}
	cs, _ := m.dir("cpuset")
	if cs == "" {
		return errors.New("linux.resources.cpu.cpus/mems: this host has no cpuset cgroup controller")
	}
	if c.Cpus != "" {
		if err := write(cs, "cpuset.cpus", c.Cpus); err != nil {
			return err
		}
	}
	if c.Mems != "" {
		if err := write(cs, "cpuset.mems", c.Mems); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) setBlkioV1(b *specs.LinuxBlockIO) error {
	dir, _ := m.dir("blkio")
	wantsWeight := b.Weight != nil && *b.Weight != 0 || b.LeafWeight != nil && *b.LeafWeight != 0 || len(b.WeightDevice) > 0
	throttles := map[string][]specs.LinuxThrottleDevice{
		"blkio.throttle.read_bps_device": b.ThrottleReadBpsDevice, "blkio.throttle.write_bps_device": b.ThrottleWriteBpsDevice,
		"blkio.throttle.read_iops_device": b.ThrottleReadIOPSDevice, "blkio.throttle.write_iops_device": b.ThrottleWriteIOPSDevice,
	}
	wantsThrottle := false
	for _, ds := range throttles {
		wantsThrottle = wantsThrottle || len(ds) > 0
	}
	if dir == "" {
		if wantsWeight || wantsThrottle {
			return errors.New("linux.resources.blockIO: this host has no blkio cgroup controller")
		}
		return nil
	}
	if wantsWeight {
		// CFQ's blkio.weight is gone from current kernels; BFQ's takes the
		// same range (runc falls back to it the same way).
		file := "blkio.weight"
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			file = "blkio.bfq.weight"
		}
		if _, err := os.Stat(filepath.Join(dir, file)); err != nil {
			return fmt.Errorf("linux.resources.blockIO.weight: %s has neither blkio.weight nor blkio.bfq.weight (no CFQ or BFQ I/O scheduler); drop the weight", dir)
		}
		if b.Weight != nil && *b.Weight != 0 {
			if err := write(dir, file, strconv.FormatUint(uint64(*b.Weight), 10)); err != nil {
				return err
			}
		}
		for _, d := range b.WeightDevice {
			if d.Weight != nil {
				if err := write(dir, file+"_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight)); err != nil {
					return err
				}
			}
		}
	}
	for file, ds := range throttles {
		for _, d := range ds {
			if err := write(dir, file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

func setDevicesV1(dir string, rules []specs.LinuxDeviceCgroup) error {
	for _, r := range rules {
		typ := r.Type
		if typ == "" {
			typ = "a"
		}
		major, minor := "*", "*"
		if r.Major != nil && *r.Major >= 0 {
			major = strconv.FormatInt(*r.Major, 10)
		}
		if r.Minor != nil && *r.Minor >= 0 {
			minor = strconv.FormatInt(*r.Minor, 10)
		}
		access := r.Access
		if access == "" {
			access = "rwm"
		}
		rule := fmt.Sprintf("%s %s:%s %s", typ, major, minor, access)
		if typ == "a" {
			rule = "a"
		}
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := write(dir, file, rule); err != nil {
			return err
		}
	}
	return nil
}

func copyFromParent(dir string, files ...string) error {
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(filepath.Dir(dir), f), err)
		}
		if err := write(dir, f, strings.TrimSpace(string(data))); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) statsV1(s *Stats) {
	if dir, _ := m.dir("memory"); dir != "" {
		s.MemoryUsage, _ = readUint(dir, "memory.usage_in_bytes")
		s.MemoryPeak, _ = readUint(dir, "memory.max_usage_in_bytes")
	}
	if dir, _ := m.dir("cpuacct"); dir != "" {
		ns, _ := readUint(dir, "cpuacct.usage")
		s.CPUUsage = time.Duration(ns)
	}
}

func limit(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}
