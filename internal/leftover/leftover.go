// Package leftover lists what a container, an engine or a test left on the
// host: mounts, cgroups, processes, zombies, network interfaces and paths.
// It is the one leftover checker of nsbench: nsrun's and nsnet's tests,
// the soak, the conformance suite's teardown invariant and the engine
// adapters' clean-up check all describe what is theirs as a Scope and ask
// it. Other helpers' tests run on the same machine at the same time, so a
// Scope names only what its owner could have made.
package leftover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/procfs"

	"github.com/nsbench/nsbench/internal/mountinfo"
	"github.com/nsbench/nsbench/runtime/cgroups"
)

// Scope says what belongs to the thing checked. Empty fields check nothing.
type Scope struct {
	// Paths must not exist (state directories, pid files, lease files).
	Paths []string
	// MountsUnder: no mount point at or below these directories.
	MountsUnder []string
	// MountsNaming: no mount whose mount point, root or source contains
	// one of these strings (a bind mount of a test's files names them only
	// in its root field).
	MountsNaming []string
	// Cgroups: no cgroup directory at these paths relative to each
	// hierarchy's mount point; filepath.Match patterns ("*/id") allowed.
	Cgroups []string
	// Cmdlines: no live process whose command line (arguments joined by
	// spaces, with a trailing space) contains one of these.
	Cmdlines []string
	// PIDs must have exited (a zombie has).
	PIDs []int
	// ZombiesOf: no unreaped child of these processes.
	ZombiesOf []int
	// Links: no network interface of these names in the caller's network
	// namespace.
	Links []string
}

// List returns what of the scope is still on the host, one line each
// ("mount /x", "cgroup /sys/fs/cgroup/pids/nsrun/c1", "process 42 (nsrun
// init c1)"), or nothing.
func (s Scope) List() []string {
	var left []string
	for _, p := range s.Paths {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, "path "+p)
		}
	}
	if len(s.MountsUnder) > 0 || len(s.MountsNaming) > 0 {
		ms, err := mountinfo.Self()
		if err != nil {
			left = append(left, "mount table unreadable: "+err.Error())
		}
		for _, m := range Mounts(ms, s.MountsUnder, s.MountsNaming) {
			left = append(left, "mount "+m)
		}
	}
	for _, c := range CgroupDirs(s.Cgroups...) {
		left = append(left, "cgroup "+c)
	}
	for _, p := range Processes(s.Cmdlines...) {
		left = append(left, fmt.Sprintf("process %d (%s)", p.PID, strings.TrimSpace(p.Cmdline)))
	}
	for _, pid := range s.PIDs {
		if st, err := procfs.ReadStat(pid); err == nil && !st.Zombie() {
			left = append(left, fmt.Sprintf("process %d", pid))
		}
	}
	for _, z := range Zombies(s.ZombiesOf...) {
		left = append(left, fmt.Sprintf("zombie %d", z))
	}
	for _, l := range s.Links {
		if _, err := os.Lstat(filepath.Join("/sys/class/net", l)); err == nil {
			left = append(left, "link "+l)
		}
	}
	return left
}

// Wait polls List until it is empty or ctx ends and returns what is left
// then. Teardown finishes asynchronously in places (an exiting process, a
// veth the kernel removes with its namespace), so a check right after a
// delete would see what is already on its way out.
func (s Scope) Wait(ctx context.Context) []string {
	for {
		left := s.List()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return left
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Mounts lists the mount points of ms at or below one of under, or whose
// mount point, root or source contains one of naming; deepest first, so
// they can be unmounted in that order.
func Mounts(ms []mountinfo.Mount, under, naming []string) []string {
	var out []string
	for _, m := range ms {
		hit := slices.ContainsFunc(under, func(d string) bool { return d != "" && m.Under(filepath.Clean(d)) })
		hit = hit || slices.ContainsFunc(naming, func(n string) bool {
			return n != "" && (strings.Contains(m.Mountpoint, n) || strings.Contains(m.Root, n) || strings.Contains(m.Source, n))
		})
		if hit {
			out = append(out, m.Mountpoint)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// CgroupDirs lists the existing directories of the cgroups named by
// patterns (relative to a hierarchy's mount point) in every hierarchy of
// the host: v1 controllers, the hybrid unified tree, or a pure v2 root.
func CgroupDirs(patterns ...string) []string {
	if len(patterns) == 0 {
		return nil
	}
	l, err := cgroups.HostLayout()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range l.Hierarchies {
		for _, p := range patterns {
			if p == "" {
				continue
			}
			matches, _ := filepath.Glob(filepath.Join(h.Mountpoint, p))
			for _, m := range matches {
				if st, err := os.Stat(m); err == nil && st.IsDir() {
					out = append(out, m)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Process is a live process found by its command line.
type Process struct {
	PID     int
	Cmdline string
}

// Processes lists the live processes other than the caller whose command
// line contains one of subs. A zombie has an empty command line and so is
// never listed (Zombies finds those).
func Processes(subs ...string) []Process {
	if len(subs) == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []Process
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone, a zombie or a kernel thread
		}
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if slices.ContainsFunc(subs, func(s string) bool { return s != "" && strings.Contains(cmdline, s) }) {
			out = append(out, Process{PID: pid, Cmdline: cmdline})
		}
	}
	return out
}

// Zombies lists the zombie children of parents.
func Zombies(parents ...int) []int {
	if len(parents) == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if st, err := procfs.ReadStat(pid); err == nil && st.State == 'Z' && slices.Contains(parents, st.PPid) {
			out = append(out, pid)
		}
	}
	return out
}
