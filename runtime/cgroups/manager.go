package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrRootless means an unprivileged caller cannot have a cgroup here: v1
// hierarchies are root's, and a v2 tree needs a delegated subtree. The
// runtime ignores it when the container asks for no resources.
var ErrRootless = errors.New("an unprivileged user cannot create cgroups on this host (v1 hierarchies, or cgroup v2 without a delegated subtree)")

// Manager is the cgroup of one container: one directory per hierarchy. On
// a v1 or hybrid host the container is placed in every hierarchy, as runc
// and crun place it: pause needs the freezer, engines read the memory,
// cpuacct and blkio counters, and a "cgroup" mount inside the container
// shows each hierarchy at the container's own directory. On cgroup v2 it
// is the one directory in the unified tree.
type Manager struct {
	// paths maps hierarchy name (Hierarchy.Name) to the container's
	// directory in it.
	paths map[string]string
	// created lists directories this Manager made, parents first, so
	// Destroy removes exactly those.
	created []string
	// ownDirs maps each v1 hierarchy to the caller's own cgroup directory
	// in it: where a thread that joined the container's goes back to (New
	// sets it; a Manager from Load has none).
	ownDirs map[string]string
}

// New resolves the container's cgroup in layout l (HostLayout).
// cgroupsPath follows the OCI spec: empty means "/nsrun/<id>"; an absolute
// path is relative to each hierarchy's root; a relative one is relative to
// the caller's own cgroup.
func New(l *Layout, cgroupsPath, containerID string, rootless bool) (*Manager, error) {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return newFromLayout(l, ownCgroups(string(own)), cgroupsPath, containerID, rootless)
}

func newFromLayout(l *Layout, own map[string]string, cgroupsPath, containerID string, rootless bool) (*Manager, error) {
	if len(l.Hierarchies) == 0 {
		return nil, errors.New("no cgroup hierarchy is mounted (mount cgroup2 on /sys/fs/cgroup)")
	}
	rel, err := cleanPath(cgroupsPath, containerID)
	if err != nil {
		return nil, err
	}
	if rootless && l.Mode() != ModeV2 {
		return nil, ErrRootless
	}
	m := &Manager{paths: map[string]string{}, ownDirs: map[string]string{}}
	for _, h := range l.Hierarchies {
		p := rel
		if !path.IsAbs(cgroupsPath) && cgroupsPath != "" {
			p = path.Join(own[h.Name], rel)
		}
		m.paths[h.Name] = inMount(h, p)
		if o, ok := own[h.Name]; ok && h.Name != unifiedName {
			m.ownDirs[h.Name] = inMount(h, o)
		}
	}
	if rootless {
		parent := filepath.Dir(m.paths[unifiedName])
		if unix.Access(parent, unix.W_OK) != nil {
			return nil, fmt.Errorf("%w: %s is not writable", ErrRootless, parent)
		}
	}
	return m, nil
}

// inMount is cgroup p of hierarchy h as a path under its mount, which
// shows the hierarchy from h.Root down; a path outside that cannot be
// reached through this mount.
func inMount(h Hierarchy, p string) string {
	rel, err := filepath.Rel(h.Root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = strings.TrimPrefix(p, "/")
	}
	return filepath.Join(h.Mountpoint, rel)
}

// JoinThread moves the calling OS thread, and only it, into the container's
// cgroup in every v1 hierarchy, so that a process it clones is born there
// (the v1 counterpart of clone3's CLONE_INTO_CGROUP, which covers the
// unified hierarchy: OpenUnified). Moving a process (cgroup.procs, or any
// pid but the writer's own) takes the global cgroup_threadgroup_rwsem for
// writing, which waits out an RCU grace period when it was idle: 5-30 ms
// on this host, the largest single wait of a v1 create. Writing "0" to
// `tasks` moves the writer's own thread, for which the kernel skips that
// lock ("If we migrate a single thread, we don't care about threadgroup
// stability", cgroup_procs_write_start in kernel/cgroup/cgroup.c; in the
// 6.1 source the guests are built from and in this host's 6.18). A kernel
// without that takes the lock and is only as slow as a process move.
//
// leave moves the thread back to the caller's own cgroups, the same way;
// it is returned whenever JoinThread returns, an error included (a partial
// join is undone by it too), and the caller must call it once the clone is
// done: a thread of nsrun's left in a container's cgroup would carry its
// limits, and a freeze of that cgroup (delete, pause) would freeze nsrun
// with it. The caller must run both on one locked OS thread (see
// CanJoinThread).
func (m *Manager) JoinThread() (leave func() error, err error) {
	if !m.CanJoinThread() {
		return func() error { return nil }, errors.New("move nsrun's cloning thread into the container's cgroup: no v1 hierarchy, or the way back to nsrun's own cgroups is unknown")
	}
	leave = func() error {
		for _, n := range m.names() {
			if n == unifiedName {
				continue
			}
			if err := write(m.ownDirs[n], "tasks", "0"); err != nil {
				return fmt.Errorf("move nsrun's cloning thread back out of the container's cgroup: %w", err)
			}
		}
		return nil
	}
	for _, n := range m.names() {
		if n == unifiedName {
			continue
		}
		if err := write(m.paths[n], "tasks", "0"); err != nil {
			return leave, fmt.Errorf("move nsrun's cloning thread into the container's cgroup: %w", err)
		}
	}
	return leave, nil
}

// CanBeBornIn reports whether a process can be born in every one of the
// container's cgroups: the unified one through clone3's CLONE_INTO_CGROUP
// (OpenUnified), the v1 ones through JoinThread. Otherwise it is moved in
// after its clone (Apply).
func (m *Manager) CanBeBornIn() bool { return m.pureV2() || m.CanJoinThread() }

// CanJoinThread reports whether JoinThread can be used: the container has
// v1 hierarchies, and the Manager knows the caller's own cgroup in each
// (New does; Load, for the commands after create, does not).
func (m *Manager) CanJoinThread() bool {
	v1 := 0
	for n := range m.paths {
		if n == unifiedName {
			continue
		}
		if _, ok := m.ownDirs[n]; !ok {
			return false
		}
		v1++
	}
	return v1 > 0
}

// names returns the hierarchies' names, sorted: every walk over them goes
// in the same order.
func (m *Manager) names() []string {
	names := make([]string, 0, len(m.paths))
	for n := range m.paths {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// cleanPath validates cgroupsPath and applies the default.
func cleanPath(cgroupsPath, id string) (string, error) {
	if cgroupsPath == "" {
		if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
			return "", fmt.Errorf("cgroup for container %q: the id cannot name a directory", id)
		}
		return "/nsrun/" + id, nil
	}
	if strings.ContainsRune(cgroupsPath, 0) {
		return "", fmt.Errorf("linux.cgroupsPath %q: contains a NUL byte", cgroupsPath)
	}
	for _, part := range strings.Split(cgroupsPath, "/") {
		if part == ".." {
			return "", fmt.Errorf("linux.cgroupsPath %q: \"..\" would leave the cgroup tree; give a path without it", cgroupsPath)
		}
	}
	if strings.Contains(cgroupsPath, ":") {
		return "", fmt.Errorf("linux.cgroupsPath %q: systemd slice:prefix:name paths are not supported (nsrun manages cgroupfs directly, no systemd); give a cgroupfs path such as /nsrun/%s", cgroupsPath, id)
	}
	c := path.Clean(cgroupsPath)
	if c == "/" || c == "." {
		return "", fmt.Errorf("linux.cgroupsPath %q: the root cgroup cannot hold a container", cgroupsPath)
	}
	return c, nil
}

// Load rebuilds a Manager from Paths, for the commands after create.
func Load(paths map[string]string) *Manager {
	m := &Manager{paths: map[string]string{}}
	for k, v := range paths {
		m.paths[k] = v
	}
	return m
}

// Paths returns hierarchy name -> the container's directory in it.
func (m *Manager) Paths() map[string]string {
	out := make(map[string]string, len(m.paths))
	for k, v := range m.paths {
		out[k] = v
	}
	return out
}

// unifiedName is the cgroup2 hierarchy's name in Paths.
const unifiedName = "unified"

// dir returns the directory of the hierarchy carrying controller, and
// whether that is a v2 directory. On a hybrid host the controllers are the
// v1 hierarchies'; the unified tree there only tracks processes.
func (m *Manager) dir(controller string) (string, bool) {
	for name, p := range m.paths {
		if name == unifiedName {
			continue
		}
		if slices.Contains(strings.Split(name, ","), controller) {
			return p, false
		}
	}
	if p, ok := m.paths[unifiedName]; ok && m.pureV2() {
		return p, true
	}
	return "", false
}

// pureV2 tells a cgroup v2 host's Manager (one unified directory) from a
// v1 or hybrid one; the saved paths alone decide, so a later command needs
// no second look at the host.
func (m *Manager) pureV2() bool {
	_, ok := m.paths[unifiedName]
	return ok && len(m.paths) == 1
}

// Create makes the directories. On v1 a new cpuset group starts with no
// CPUs or memory nodes, so those are copied down from the parent; on v2 the
// controllers the container needs are enabled in every ancestor.
func (m *Manager) Create() error {
	for _, n := range m.names() {
		dir := m.paths[n]
		var missing []string
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil {
				break
			}
			missing = append([]string{d}, missing...)
			if d == "/" {
				break
			}
		}
		for _, d := range missing {
			if m.pureV2() {
				if err := enableControllers(filepath.Dir(d)); err != nil {
					return err
				}
			}
			if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("create cgroup %s: %w", d, err)
			}
			m.created = append(m.created, d)
			if slices.Contains(strings.Split(n, ","), "cpuset") {
				if err := copyFromParent(d, "cpuset.cpus", "cpuset.mems"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Apply moves pid into the container's cgroup in every hierarchy: for a
// process that was not born there (JoinThread, OpenUnified). On v1 only
// the first write waits out an RCU grace period; the others follow within
// microseconds each.
func (m *Manager) Apply(pid int) error {
	for _, n := range m.names() {
		if err := write(m.paths[n], "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Set applies linux.resources. A limit the host cannot honour (no such
// controller, no swap accounting) is an error naming what is missing.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if m.pureV2() {
		return m.setV2(r)
	}
	return m.setV1(r)
}

func write(dir, file, value string) error {
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

func readUint(dir, file string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}

// Destroy removes the container's cgroup directories, waiting while
// exiting processes still hold them. It is idempotent.
func (m *Manager) Destroy(ctx context.Context) error {
	var dirs []string
	for _, d := range m.paths {
		dirs = append(dirs, d)
		// The default layout's parent "nsrun" is ours by name; any other
		// parent is removed only if this Manager created it.
		if filepath.Base(filepath.Dir(d)) == "nsrun" {
			dirs = append(dirs, filepath.Dir(d))
		}
	}
	dirs = append(dirs, m.created...)
	// Deepest first, each once.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	dirs = slices.Compact(dirs)
	leaves := slices.Collect(func(yield func(string) bool) {
		for _, v := range m.paths {
			if !yield(v) {
				return
			}
		}
	})
	var firstErr error
	for _, d := range dirs {
		if err := rmdirAll(ctx, d, slices.Contains(leaves, d)); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// rmdirAll removes dir and the sub-cgroups a container may have made in
// it. A parent that still holds others' cgroups (ENOTEMPTY/EBUSY) is left.
func rmdirAll(ctx context.Context, dir string, mustGo bool) error {
	// Most often the directory holds no sub-cgroup and goes at once; a
	// parent that does not is someone else's too.
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) || !mustGo {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if mustGo {
		for _, e := range entries {
			if e.IsDir() {
				if err := rmdirAll(ctx, filepath.Join(dir, e.Name()), true); err != nil {
					return err
				}
			}
		}
	}
	delay := time.Millisecond
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !mustGo {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		// A container being destroyed has no business left: a straggler
		// that escaped the kill (forked at that instant) goes now.
		killProcs(dir)
		select {
		case <-ctx.Done():
			return fmt.Errorf("remove cgroup %s: still busy (processes left?): %w", dir, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// Stats is a snapshot of the container's resource use.
type Stats struct {
	MemoryUsage, MemoryPeak uint64 // bytes
	Pids                    uint64
	CPUUsage                time.Duration
}

// Stats reads the counters the host has; missing ones stay zero.
func (m *Manager) Stats() (*Stats, error) {
	s := &Stats{}
	if dir, _ := m.dir("pids"); dir != "" {
		s.Pids, _ = readUint(dir, "pids.current")
	}
	if m.pureV2() {
		m.statsV2(s)
	} else {
		m.statsV1(s)
	}
	return s, nil
}
