package env

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/nsbench/nsbench/runtime/cgroups"
)

// ownCgroup is a CPU cgroup made for one native job, so that the job is
// scheduled as a container's process is. It matters on a shared machine:
// with autogroup (a session's processes share one scheduling entity) or
// a busy parent cgroup, two native jobs share one entity's weight, while
// runc and crun give each container a top-level cgroup of its own and so
// twice the share of a contended CPU. Measured here before this existed:
// runc and crun at 2 concurrent jobs 40 % "faster" than native.
type ownCgroup struct{ dirs []string }

// newOwnCgroup makes the cgroup in every hierarchy that schedules CPU time
// (v1 cpu and cpuacct, or the v2 unified hierarchy on a v2-only host).
func newOwnCgroup() (*ownCgroup, error) {
	l, err := cgroups.HostLayout()
	if err != nil {
		return nil, err
	}
	name := randomID("nsbench-native-")
	g := &ownCgroup{}
	for _, h := range l.Hierarchies {
		ok := !h.V2 && (slices.Contains(h.Controllers, "cpu") || slices.Contains(h.Controllers, "cpuacct"))
		ok = ok || h.V2 && l.Mode() == cgroups.ModeV2
		if !ok {
			continue
		}
		d := filepath.Join(h.Mountpoint, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, errors.Join(fmt.Errorf("native job cgroup: create %s: %w", d, err), g.remove())
		}
		g.dirs = append(g.dirs, d)
	}
	if len(g.dirs) == 0 {
		return nil, fmt.Errorf("native job cgroup: this host mounts no cpu cgroup controller")
	}
	return g, nil
}

// add moves pid into the cgroup.
func (g *ownCgroup) add(pid int) error {
	for _, d := range g.dirs {
		p := filepath.Join(d, "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("native job cgroup: write %s: %w", p, err)
		}
	}
	return nil
}

// remove deletes the cgroup once its processes have gone (an exiting
// process keeps it busy for a moment).
func (g *ownCgroup) remove() error {
	var errs []error
	for _, d := range g.dirs {
		var err error
		for range 50 {
			if err = os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) || !errors.Is(err, syscall.EBUSY) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("native job cgroup: remove %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
