package runtime

import (
	"context"
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/cgroups"
)

// Update changes a created, running or paused container's resource limits,
// as `runc update` does: a field that is absent (or 0) keeps its value, -1
// lifts a limit. The new values are kept in the container's record.
// Devices cannot be changed (runc ignores them; nsrun says so).
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	st, rec, unlock, err := r.lockAndLoad(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	switch s := r.status(rec); s {
	case specs.StateCreated, specs.StateRunning, statusPaused:
	default:
		return fmt.Errorf("update %s: container is %s, not running", id, s)
	}
	if res == nil {
		return nil
	}
	if len(res.Devices) > 0 {
		return fmt.Errorf("update %s: linux.resources.devices cannot be changed on a living container (runc ignores them too); drop them", id)
	}
	if len(rec.CgroupPaths) == 0 {
		return fmt.Errorf("update %s: the container has no cgroup (a rootless container on a host that delegates none)", id)
	}
	var old *specs.LinuxResources
	if rec.Config != nil && rec.Config.Linux != nil {
		old = rec.Config.Linux.Resources
	}
	// cgroup v2 writes quota and period together (cpu.max): the one not
	// given keeps its old value, as runc keeps it.
	if c := res.CPU; c != nil && old != nil && old.CPU != nil {
		if set(c.Quota) != set(c.Period) {
			if !set(c.Quota) {
				c.Quota = old.CPU.Quota
			} else {
				c.Period = old.CPU.Period
			}
		}
	}
	if err := cgroups.Load(rec.CgroupPaths).Set(res); err != nil {
		return fmt.Errorf("update %s: %w", id, err)
	}
	if rec.Config != nil && rec.Config.Linux != nil {
		rec.Config.Linux.Resources = mergeResources(old, res)
		if err := st.Save(rec); err != nil {
			return errors.Join(fmt.Errorf("update %s: the limits are set but not recorded", id), err)
		}
	}
	return nil
}

func set[T int64 | uint64](p *T) bool { return p != nil && *p != 0 }

// mergeResources is old with every value res sets (non-nil and non-zero)
// replaced.
func mergeResources(old, res *specs.LinuxResources) *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if old != nil {
		c := *old
		out = &c
	}
	if m := res.Memory; m != nil {
		nm := specs.LinuxMemory{}
		if out.Memory != nil {
			nm = *out.Memory
		}
		over(&nm.Limit, m.Limit)
		over(&nm.Reservation, m.Reservation)
		over(&nm.Swap, m.Swap)
		if m.Swappiness != nil {
			nm.Swappiness = m.Swappiness
		}
		out.Memory = &nm
	}
	if c := res.CPU; c != nil {
		nc := specs.LinuxCPU{}
		if out.CPU != nil {
			nc = *out.CPU
		}
		overU(&nc.Shares, c.Shares)
		over(&nc.Quota, c.Quota)
		overU(&nc.Period, c.Period)
		over(&nc.RealtimeRuntime, c.RealtimeRuntime)
		overU(&nc.RealtimePeriod, c.RealtimePeriod)
		if c.Cpus != "" {
			nc.Cpus = c.Cpus
		}
		if c.Mems != "" {
			nc.Mems = c.Mems
		}
		if c.Idle != nil {
			nc.Idle = c.Idle
		}
		out.CPU = &nc
	}
	if p := res.Pids; p != nil && set(p.Limit) {
		out.Pids = &specs.LinuxPids{Limit: p.Limit}
	}
	if b := res.BlockIO; b != nil {
		nb := specs.LinuxBlockIO{}
		if out.BlockIO != nil {
			nb = *out.BlockIO
		}
		if b.Weight != nil && *b.Weight != 0 {
			nb.Weight = b.Weight
		}
		out.BlockIO = &nb
	}
	if len(res.Unified) > 0 {
		u := map[string]string{}
		for k, v := range out.Unified {
			u[k] = v
		}
		for k, v := range res.Unified {
			u[k] = v
		}
		out.Unified = u
	}
	return out
}

func over(dst **int64, v *int64) {
	if set(v) {
		*dst = v
	}
}

func overU(dst **uint64, v *uint64) {
	if set(v) {
		*dst = v
	}
}
