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

// Manager is the cgroup of one container, one directory per hierarchy.
type Manager struct {
	// paths maps hierarchy name to the container's directory in it.
	paths map[string]string
	// created lists directories this Manager made, parents first, so
	// Destroy removes exactly those.
	created []string
}

// New resolves the container's cgroup. cgroupsPath follows the OCI spec:
// empty means "/nsrun/<id>"; an absolute path is relative to each
// hierarchy's root; a relative one is relative to the caller's own cgroup.
func New(cgroupsPath, containerID string, rootless bool) (*Manager, error) {
	l, err := HostLayout()
	if err != nil {
		return nil, err
	}
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
	if rootless && l.Mode() != "v2" {
		return nil, ErrRootless
	}
	m := &Manager{paths: map[string]string{}}
	for _, h := range l.Hierarchies {
		p := rel
		if !path.IsAbs(cgroupsPath) && cgroupsPath != "" {
			p = path.Join(own[h.Name], rel)
		}
		// The mount shows the hierarchy from h.Root down; a path outside it
		// cannot be reached through this mount.
		inMount, err := filepath.Rel(h.Root, p)
		if err != nil || strings.HasPrefix(inMount, "..") {
			inMount = strings.TrimPrefix(p, "/")
		}
		m.paths[h.Name] = filepath.Join(h.Mountpoint, inMount)
	}
	if rootless {
		parent := filepath.Dir(m.paths["unified"])
		if unix.Access(parent, unix.W_OK) != nil {
			return nil, fmt.Errorf("%w: %s is not writable", ErrRootless, parent)
		}
	}
	return m, nil
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
		return "", fmt.Errorf("linux.cgroupsPath %q: systemd slice:prefix:name paths are not supported; give a cgroupfs path such as /nsrun/%s", cgroupsPath, id)
	}
	c := path.Clean(cgroupsPath)
	if c == "/" || c == "." {
		return "", fmt.Errorf("linux.cgroupsPath %q: the root cgroup cannot hold a container", cgroupsPath)
	}
	return c, nil
}

// Only narrows a v1 or hybrid Manager to the hierarchies r needs. Any one
// hierarchy tracks every process for kill and delete; only with none needed
// is one added (freezer, else pids). Each hierarchy costs a mkdir and an
// rmdir, and above all a cgroup.procs write that on v1 waits out an RCU
// grace period (the threadgroup rwsem): milliseconds on every start. On
// cgroup v2 there is one directory anyway.
func (m *Manager) Only(r *specs.LinuxResources) {
	if m.pureV2() {
		return
	}
	need := map[string]bool{}
	if r != nil {
		if r.Memory != nil {
			need["memory"] = true
		}
		if r.Pids != nil {
			need["pids"] = true
		}
		if c := r.CPU; c != nil {
			if c.Shares != nil || c.Quota != nil || c.Period != nil {
				need["cpu"] = true
			}
			if c.Cpus != "" || c.Mems != "" {
				need["cpuset"] = true
			}
		}
		if len(r.Devices) > 0 {
			need["devices"] = true
		}
	}
	if len(need) == 0 {
		if dir, _ := m.dir("freezer"); dir != "" {
			need["freezer"] = true
		} else {
			need["pids"] = true
		}
	}
	for name := range m.paths {
		keep := false
		for _, c := range strings.Split(name, ",") {
			keep = keep || need[c]
		}
		if !keep {
			delete(m.paths, name)
		}
	}
}

// Load rebuilds a Manager from Paths, for delete after a crashed create.
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

// path returns the directory of the hierarchy carrying controller ("" for
// the v2 tree), and whether that is a v2 directory.
func (m *Manager) dir(controller string) (string, bool) {
	for name, p := range m.paths {
		if name == "unified" {
			continue
		}
		if slices.Contains(strings.Split(name, ","), controller) {
			return p, false
		}
	}
	if p, ok := m.paths["unified"]; ok && m.pureV2() {
		return p, true
	}
	return "", false
}

func (m *Manager) pureV2() bool {
	_, ok := m.paths["unified"]
	return ok && len(m.paths) == 1
}

// Create makes the directories. On v1 a new cpuset group starts with no
// CPUs or memory nodes, so those are copied down from the parent; on v2 the
// controllers the container needs are enabled in every ancestor.
func (m *Manager) Create() error {
	names := make([]string, 0, len(m.paths))
	for n := range m.paths {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
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
			if strings.Contains(n, "cpuset") {
				if err := copyFromParent(d, "cpuset.cpus", "cpuset.mems"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func enableControllers(dir string) error {
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(dir, "cgroup.controllers"), err)
	}
	var want []string
	for _, c := range strings.Fields(string(avail)) {
		if c == "cpu" || c == "memory" || c == "pids" || c == "cpuset" {
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

func write(dir, file, value string) error {
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("write %q to %s: %w", value, p, err)
	}
	return nil
}

// OpenV2 opens the container's directory on a pure cgroup v2 host, for
// clone3(CLONE_INTO_CGROUP): the init is born in its cgroup and never
// migrated. It returns -1 on v1 and hybrid hosts, where it cannot be used.
func (m *Manager) OpenV2() (int, error) {
	if !m.pureV2() {
		return -1, nil
	}
	dir := m.paths["unified"]
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return fd, nil
}

// Apply moves pid into the container's cgroup in every hierarchy.
func (m *Manager) Apply(pid int) error {
	for _, dir := range m.paths {
		if err := write(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
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
	if mem := r.Memory; mem != nil {
		dir, v2 := m.dir("memory")
		if dir == "" && (mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil) {
			return errors.New("linux.resources.memory: this host has no memory cgroup controller")
		}
		if err := setMemory(dir, v2, mem); err != nil {
			return err
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit != 0 {
		dir, _ := m.dir("pids")
		if dir == "" {
			return errors.New("linux.resources.pids: this host has no pids cgroup controller")
		}
		v := "max"
		if *p.Limit > 0 {
			v = strconv.FormatInt(*p.Limit, 10)
		}
		if err := write(dir, "pids.max", v); err != nil {
			return err
		}
	}
	if c := r.CPU; c != nil {
		if err := m.setCPU(c); err != nil {
			return err
		}
	}
	if len(r.Devices) > 0 {
		// v1 has a devices controller; v2 takes a cgroup device program.
		switch dir, v2 := m.dir("devices"); {
		case dir == "":
		case v2:
			if err := attachDeviceFilter(dir, r.Devices); err != nil {
				return err
			}
		default:
			if err := setDevices(dir, r.Devices); err != nil {
				return err
			}
		}
	}
	return nil
}

func setMemory(dir string, v2 bool, mem *specs.LinuxMemory) error {
	if v2 {
		if mem.Limit != nil {
			if err := write(dir, "memory.max", limit(*mem.Limit)); err != nil {
				return err
			}
		}
		if mem.Reservation != nil {
			if err := write(dir, "memory.low", limit(*mem.Reservation)); err != nil {
				return err
			}
		}
		if mem.Swap != nil {
			// OCI's swap is memory+swap; v2 counts swap alone.
			v := "max"
			if *mem.Swap >= 0 && mem.Limit != nil && *mem.Limit >= 0 {
				v = strconv.FormatInt(max(*mem.Swap-*mem.Limit, 0), 10)
			}
			if err := write(dir, "memory.swap.max", v); err != nil {
				return err
			}
		}
		return nil
	}
	if mem.Limit != nil {
		if err := write(dir, "memory.limit_in_bytes", strconv.FormatInt(*mem.Limit, 10)); err != nil {
			return err
		}
	}
	if mem.Reservation != nil {
		if err := write(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(*mem.Reservation, 10)); err != nil {
			return err
		}
	}
	if mem.Swap != nil {
		if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err != nil {
			return fmt.Errorf("linux.resources.memory.swap: %s has no memory.memsw.limit_in_bytes (boot with swapaccount=1, or drop the swap limit)", dir)
		}
		if err := write(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(*mem.Swap, 10)); err != nil {
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

func limit(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func (m *Manager) setCPU(c *specs.LinuxCPU) error {
	dir, v2 := m.dir("cpu")
	if dir == "" && (c.Shares != nil || c.Quota != nil || c.Period != nil) {
		return errors.New("linux.resources.cpu: this host has no cpu cgroup controller")
	}
	if v2 {
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
	} else if dir != "" {
		if c.Shares != nil && *c.Shares > 0 {
			if err := write(dir, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
				return err
			}
		}
		// The period goes first: the kernel checks quota against it.
		if c.Period != nil && *c.Period > 0 {
			if err := write(dir, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10)); err != nil {
				return err
			}
		}
		if c.Quota != nil && *c.Quota != 0 {
			if err := write(dir, "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); err != nil {
				return err
			}
		}
	}
	if c.Cpus != "" || c.Mems != "" {
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

func setDevices(dir string, rules []specs.LinuxDeviceCgroup) error {
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

// Pids lists every process in the container's cgroup and its children.
func (m *Manager) Pids() ([]int, error) {
	dir := m.procsDir()
	if dir == "" {
		return nil, errors.New("container has no cgroup")
	}
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("read %s: %w", filepath.Join(p, "cgroup.procs"), err)
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	sort.Ints(pids)
	return pids, err
}

// procsDir is the hierarchy to list processes from: one every process is
// placed in, preferring those with no controller side effects.
func (m *Manager) procsDir() string {
	for _, c := range []string{"pids", "freezer", "memory"} {
		if d, _ := m.dir(c); d != "" {
			return d
		}
	}
	if d, ok := m.paths["unified"]; ok {
		return d
	}
	for _, d := range m.paths {
		return d
	}
	return ""
}

// Signal sends sig to every process of the container. For SIGKILL the
// cgroup is frozen first (or cgroup.kill used on v2), and the round is
// repeated until a listing comes back empty: a process caught mid-fork is
// not listed yet and would otherwise survive.
func (m *Manager) Signal(sig unix.Signal) error {
	if sig == unix.SIGKILL && m.pureV2() {
		if err := write(m.paths["unified"], "cgroup.kill", "1"); err == nil {
			return nil
		}
	}
	if sig != unix.SIGKILL {
		_, err := m.signalOnce(sig)
		return err
	}
	for round := 0; round < 20; round++ {
		thaw, err := m.freeze()
		if err != nil {
			return err
		}
		n, err := m.signalOnce(sig)
		if terr := thaw(); err == nil {
			err = terr
		}
		if err != nil || n == 0 {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// signalOnce signals the processes listed now and returns how many.
func (m *Manager) signalOnce(sig unix.Signal) (int, error) {
	pids, err := m.Pids()
	if err != nil {
		return 0, err
	}
	var firstErr error
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) && firstErr == nil {
			firstErr = fmt.Errorf("signal %d to pid %d: %w", sig, pid, err)
		}
	}
	return len(pids), firstErr
}

// freeze stops every process of the cgroup and returns the function that
// thaws it; without a freezer it does nothing.
func (m *Manager) freeze() (func() error, error) {
	dir, v2 := m.dir("freezer")
	file, frozen, thawed := "freezer.state", "FROZEN", "THAWED"
	if dir == "" && m.pureV2() {
		dir, v2 = m.paths["unified"], true
	}
	if dir == "" {
		return func() error { return nil }, nil
	}
	if v2 {
		file, frozen, thawed = "cgroup.freeze", "1", "0"
	}
	if err := write(dir, file, frozen); err != nil {
		return nil, err
	}
	thaw := func() error { return write(dir, file, thawed) }
	if !v2 {
		// v1 freezing is asynchronous: FREEZING until every task stopped.
		for i := 0; i < 1000; i++ {
			data, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil || strings.TrimSpace(string(data)) == frozen {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	return thaw, nil
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
	var firstErr error
	for _, d := range dirs {
		isLeaf := slices.Contains(mapValues(m.paths), d)
		if err := rmdirAll(ctx, d, isLeaf); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// rmdirAll removes dir and the sub-cgroups a container may have made in
// it. A parent that still holds others' cgroups (ENOTEMPTY/EBUSY) is left.
func rmdirAll(ctx context.Context, dir string, mustGo bool) error {
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

func killProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
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
	if dir, v2 := m.dir("memory"); dir != "" {
		usage, peak := "memory.usage_in_bytes", "memory.max_usage_in_bytes"
		if v2 {
			usage, peak = "memory.current", "memory.peak"
		}
		s.MemoryUsage, _ = readUint(dir, usage)
		s.MemoryPeak, _ = readUint(dir, peak)
	}
	if dir, _ := m.dir("pids"); dir != "" {
		s.Pids, _ = readUint(dir, "pids.current")
	}
	if dir, v2 := m.dir("cpuacct"); dir != "" && !v2 {
		ns, _ := readUint(dir, "cpuacct.usage")
		s.CPUUsage = time.Duration(ns)
	} else if dir, v2 := m.dir("cpu"); dir != "" && v2 {
		data, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "usage_usec" {
					us, _ := strconv.ParseUint(f[1], 10, 64)
					s.CPUUsage = time.Duration(us) * time.Microsecond
				}
			}
		}
	}
	return s, nil
}

func readUint(dir, file string) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}
