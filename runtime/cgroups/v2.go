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

// cgroup v2: one directory in the unified tree, the OCI (v1-shaped) values
// converted the way runc's fs2 package and crun convert them.

func (m *Manager) setV2(r *specs.LinuxResources) error {
	dir := m.paths[unifiedName]
	if mem := r.Memory; mem != nil {
		if err := setMemoryV2(dir, mem); err != nil {
			return err
		}
	}
	if err := m.setPids(r.Pids); err != nil {
		return err
	}
	if c := r.CPU; c != nil {
		if err := setCPUV2(dir, c); err != nil {
			return err
		}
		if err := m.setCpuset(c); err != nil {
			return err
		}
	}
	if b := r.BlockIO; b != nil {
		if err := setIOV2(dir, b); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		if err := attachDeviceFilter(dir, r.Devices); err != nil {
			return err
		}
	}
	for file, value := range r.Unified {
		if strings.ContainsRune(file, '/') || file == "." || file == ".." {
			return fmt.Errorf("linux.resources.unified: %q is not a file name in the container's cgroup", file)
		}
		if err := write(dir, file, value); err != nil {
			return fmt.Errorf("linux.resources.unified[%q]: %w", file, err)
		}
	}
	return unsupported(r)
}

// setMemoryV2 converts as runc's fs2 package: zero means unset, OCI's swap
// (memory+swap) becomes swap alone.
func setMemoryV2(dir string, mem *specs.LinuxMemory) error {
	lim, res := val(mem.Limit), val(mem.Reservation)
	swap, setSwap, err := swapV2(lim, val(mem.Swap))
	if err != nil {
		return err
	}
	if setSwap {
		// Without swap accounting there is no file; "max" then is moot.
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil || swap != -1 {
			if err := write(dir, "memory.swap.max", limit(swap)); err != nil {
				return err
			}
		}
	}
	if lim != 0 {
		if err := write(dir, "memory.max", limit(lim)); err != nil {
			return err
		}
	}
	if res != 0 {
		if err := write(dir, "memory.low", limit(res)); err != nil {
			return err
		}
	}
	return nil
}

// swapV2 turns OCI's memory limit and memory+swap limit (0 unset, -1
// unlimited) into memory.swap.max (-1 for "max"), and whether to write it.
// Unlimited memory without a swap value means unlimited swap too; equal
// limits mean no swap at all.
func swapV2(lim, swap int64) (int64, bool, error) {
	switch {
	case lim == -1 && swap == 0:
		return -1, true, nil
	case swap == -1:
		return -1, true, nil
	case swap == 0:
		return 0, false, nil
	case lim == 0 || lim == -1:
		return 0, false, errors.New("linux.resources.memory.swap: on cgroup v2 a swap limit needs a memory limit too (swap is memory+swap in the OCI spec)")
	case swap < lim:
		return 0, false, fmt.Errorf("linux.resources.memory.swap %d is below the memory limit %d (it counts memory+swap)", swap, lim)
	}
	return swap - lim, true, nil
}

func setCPUV2(dir string, c *specs.LinuxCPU) error {
	if c.Shares != nil && *c.Shares > 0 {
		if err := write(dir, "cpu.weight", strconv.FormatUint(SharesToWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	if c.Quota != nil || c.Period != nil {
		quota, period := "max", uint64(100000)
		if c.Quota != nil && *c.Quota > 0 {
			quota = strconv.FormatInt(*c.Quota, 10)
		}
		if c.Period != nil && *c.Period > 0 {
			period = *c.Period
		}
		if err := write(dir, "cpu.max", quota+" "+strconv.FormatUint(period, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := write(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 || c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		return errors.New("linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime CPU limits; drop them")
	}
	return nil
}

func setIOV2(dir string, b *specs.LinuxBlockIO) error {
	if b.Weight != nil && *b.Weight != 0 {
		// blkio.weight [10, 1000] to io.weight [1, 10000], as runc and crun.
		w := 1 + (uint64(*b.Weight)-10)*9999/990
		if err := write(dir, "io.weight", strconv.FormatUint(w, 10)); err != nil {
			return err
		}
	}
	for key, ds := range map[string][]specs.LinuxThrottleDevice{
		"rbps": b.ThrottleReadBpsDevice, "wbps": b.ThrottleWriteBpsDevice,
		"riops": b.ThrottleReadIOPSDevice, "wiops": b.ThrottleWriteIOPSDevice,
	} {
		for _, d := range ds {
			if err := write(dir, "io.max", fmt.Sprintf("%d:%d %s=%d", d.Major, d.Minor, key, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// SharesToWeight converts cgroup v1 cpu.shares [2, 262144] to v2 cpu.weight
// [1, 10000], the mapping runc and crun agree on.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// enableControllers makes the controllers a container can use available to
// dir's children.
func enableControllers(dir string) error {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(dir, "cgroup.controllers"), err)
	}
	var want []string
	for _, c := range strings.Fields(string(avail)) {
		if c == "cpu" || c == "memory" || c == "pids" || c == "cpuset" || c == "io" {
			want = append(want, "+"+c)
		}
	}
	if len(want) == 0 {
		return nil
	}
	f := filepath.Join(dir, "cgroup.subtree_control")
	if err := os.WriteFile(f, []byte(strings.Join(want, " ")), 0); err != nil {
		return fmt.Errorf("enable controllers %v in %s: %w", want, f, err)
	}
	return nil
}

// OpenUnified opens the container's directory in the unified (cgroup2)
// hierarchy, on a v2 host and on a hybrid one, for clone3's
// CLONE_INTO_CGROUP: the process is born in its cgroup and never migrated.
// It returns -1 where no cgroup2 hierarchy is mounted.
func (m *Manager) OpenUnified() (int, error) {
	dir, ok := m.paths[unifiedName]
	if !ok {
		return -1, nil
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return fd, nil
}

func (m *Manager) statsV2(s *Stats) {
	dir := m.paths[unifiedName]
	s.MemoryUsage, _ = readUint(dir, "memory.current")
	s.MemoryPeak, _ = readUint(dir, "memory.peak")
	data, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "usage_usec" {
			us, _ := strconv.ParseUint(f[1], 10, 64)
			s.CPUUsage = time.Duration(us) * time.Microsecond
		}
	}
}
