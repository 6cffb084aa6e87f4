package runtime

import (
	"context"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/cgroups"
	"github.com/nsbench/nsbench/runtime/state"
)

// statusPaused is the OCI state runc reports for a frozen container; the
// spec leaves other states to the runtime.
const statusPaused specs.ContainerState = "paused"

// frozen reports whether the container's cgroup is frozen.
func frozen(rec *state.Container) bool {
	if len(rec.CgroupPaths) == 0 {
		return false
	}
	f, err := cgroups.Load(rec.CgroupPaths).Frozen()
	return err == nil && f
}

// Pause freezes every process of a created or running container, as `runc
// pause` does: they stay in memory, stopped, until Resume.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	_, rec, unlock, err := r.lockAndLoad(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	switch s := r.status(rec); s {
	case specs.StateCreated, specs.StateRunning:
	default:
		return fmt.Errorf("pause %s: container is %s, not running", id, s)
	}
	if len(rec.CgroupPaths) == 0 {
		return fmt.Errorf("pause %s: the container has no cgroup to freeze (a rootless container on a host that delegates none)", id)
	}
	if err := cgroups.Load(rec.CgroupPaths).Freeze(ctx); err != nil {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	return nil
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	_, rec, unlock, err := r.lockAndLoad(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	if s := r.status(rec); s != statusPaused {
		return fmt.Errorf("resume %s: container is %s, not paused", id, s)
	}
	if err := cgroups.Load(rec.CgroupPaths).Thaw(); err != nil {
		return fmt.Errorf("resume %s: %w", id, err)
	}
	return nil
}
