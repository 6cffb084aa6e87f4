package cgroups

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/nsbench/nsbench/internal/mountinfo"
)

// Hierarchy is one mounted cgroup hierarchy.
type Hierarchy struct {
	// Name is the v1 controller list as mounted ("cpu,cpuacct", "memory",
	// "name=systemd") or "unified" for cgroup2.
	Name string
	// Controllers the hierarchy carries (v1); for cgroup2 the ones listed
	// in its root's cgroup.controllers are not known from mountinfo.
	Controllers []string
	Mountpoint  string
	// Root is the path inside the hierarchy that is mounted at Mountpoint
	// ("/" unless the host itself runs in a container).
	Root string
	V2   bool
}

// Layout is the set of cgroup hierarchies of a host.
type Layout struct {
	Hierarchies []Hierarchy
}

// Mode is how a host mounts its cgroups. Layout.Mode of HostLayout is the
// one place nsbench decides it: the runtime, the kernel feature report and
// the engines' clean-up all ask here.
type Mode string

// The cgroup modes.
const (
	ModeNone   Mode = "none"   // no cgroup hierarchy mounted
	ModeV1     Mode = "v1"     // v1 controller hierarchies only
	ModeHybrid Mode = "hybrid" // v1 controllers plus a cgroup2 mount (Debian's systemd before 11)
	ModeV2     Mode = "v2"     // the unified hierarchy only
)

// Mode names the layout.
func (l *Layout) Mode() Mode {
	v1, v2 := false, false
	for _, h := range l.Hierarchies {
		if h.V2 {
			v2 = true
		} else {
			v1 = true
		}
	}
	switch {
	case v1 && v2:
		return ModeHybrid
	case v2:
		return ModeV2
	case v1:
		return ModeV1
	}
	return ModeNone
}

// ParseMountinfo reads the cgroup mounts of a /proc/PID/mountinfo text.
func ParseMountinfo(r io.Reader) (*Layout, error) {
	ms, err := mountinfo.Parse(r)
	if err != nil {
		return nil, err
	}
	return layoutOf(ms), nil
}

// layoutOf picks the cgroup hierarchies out of a mount table.
func layoutOf(ms []mountinfo.Mount) *Layout {
	l := &Layout{}
	seen := map[string]bool{}
	for _, m := range ms {
		var h Hierarchy
		switch m.FSType {
		case "cgroup2":
			h = Hierarchy{Name: unifiedName, Mountpoint: m.Mountpoint, Root: m.Root, V2: true}
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(m.SuperOptions, ",") {
				switch {
				case strings.HasPrefix(o, "name="):
					ctrls = append(ctrls, o)
				case knownV1[o]:
					ctrls = append(ctrls, o)
				}
			}
			if len(ctrls) == 0 {
				continue
			}
			sort.Strings(ctrls)
			h = Hierarchy{Name: strings.Join(ctrls, ","), Controllers: ctrls, Mountpoint: m.Mountpoint, Root: m.Root}
		default:
			continue
		}
		// The same hierarchy can be mounted twice; the first mount serves.
		if seen[h.Name] {
			continue
		}
		seen[h.Name] = true
		l.Hierarchies = append(l.Hierarchies, h)
	}
	return l
}

var knownV1 = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "devices": true, "freezer": true,
	"net_cls": true, "net_prio": true, "blkio": true, "perf_event": true, "hugetlb": true, "pids": true,
	"rdma": true, "misc": true,
}

// HostLayout reads the calling process's view of the cgroup hierarchies.
func HostLayout() (*Layout, error) {
	ms, err := mountinfo.Self()
	if err != nil {
		return nil, fmt.Errorf("read cgroup layout: %w", err)
	}
	return layoutOf(ms), nil
}

// ownCgroups maps hierarchy name ("unified" for the v2 line) to the calling
// process's cgroup path, from /proc/self/cgroup.
func ownCgroups(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		name := parts[1]
		if parts[0] == "0" && name == "" {
			name = unifiedName
		} else {
			ctrls := strings.Split(name, ",")
			sort.Strings(ctrls)
			name = strings.Join(ctrls, ",")
		}
		out[name] = path.Clean(parts[2])
	}
	return out
}
