package runtime

import (
	"path/filepath"

	"github.com/nsbench/nsbench/runtime/cgroups"
	"github.com/nsbench/nsbench/runtime/rootfs"
)

// cgroupV1Mounts lists, for a "cgroup" mount on a v1 or hybrid host, the
// container's directory in each v1 hierarchy under the name the host mounts
// that hierarchy by (runc's view). Nil on cgroup v2 or without a cgroup.
func cgroupV1Mounts(l *cgroups.Layout, mgr *cgroups.Manager) []rootfs.CgroupV1Mount {
	if mgr == nil || l.Mode() == cgroups.ModeV2 {
		return nil
	}
	paths := mgr.Paths()
	var out []rootfs.CgroupV1Mount
	for _, h := range l.Hierarchies {
		if dir, ok := paths[h.Name]; ok && !h.V2 {
			out = append(out, rootfs.CgroupV1Mount{Name: filepath.Base(h.Mountpoint), Source: dir})
		}
	}
	return out
}
