package soak

// TestSoak is long (one file for one test and its helpers: the mix of
// bundles, the lifecycle, the 100-at-once phase and the leftover checks
// belong together); about 450 lines.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/procfs"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/network"
)

var (
	lifecycles = flag.Int("soak.n", 24, "container lifecycles to run (make soak: SOAK_N, 1000)")
	parallel   = flag.Int("soak.parallel", 8, "lifecycles at a time")
	alive      = flag.Int("soak.alive", 16, "containers running at once in the second phase (make soak: 100)")
	out        = flag.String("soak.out", "", "write the numbers as JSON to this file")
	race       = flag.Bool("soak.race", false, "build nsrun and nsnet with the race detector (make soak does)")
)

var nsrunBin, nsnetBin, timeBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		// TestSoak skips with the reason; no binary is needed then.
		os.Exit(m.Run())
	}
	var err error
	if timeBin, err = gnuTime(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !*race {
		os.Exit(gobuild.RunWith(m, map[string]*string{"nsrun": &nsrunBin, "nsnet": &nsnetBin}))
	}
	dir, err := os.MkdirTemp("", "nsbench-soak-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		for name, p := range map[string]*string{"nsrun": &nsrunBin, "nsnet": &nsnetBin} {
			if *p, err = gobuild.BuildRace(context.Background(), name, dir); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// kind is one of the bundles the lifecycles cycle through.
type kind struct {
	name   string
	bundle *bundle.Bundle
	nsnet  bool
	hooks  bool
}

// soak is one run: its binaries' scratch, ids, network and what it saw.
type soak struct {
	t      *testing.T
	dir    string
	root   string
	prefix string
	marker string
	net    []string // nsnet's flags
	kinds  []*kind

	mu      sync.Mutex
	ids     []string
	netIDs  []string
	inits   []proc
	rss     map[string][]int64 // command -> max RSS (KiB) of each call, in order
	initFDs []int              // descriptors of each created init, in order
	// fdTargets: the first init's descriptors and those of any init
	// that held another number, for the message.
	fdTargets []string
	races     []string
}

// proc names one process for good: pid and start time.
type proc struct {
	pid   int
	start uint64
}

func newSoak(t *testing.T) *soak {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tag := hex.EncodeToString(b)
	dir := t.TempDir()
	// t.TempDir makes 0700 directories; the user namespace's root (host
	// uid 200000) must reach its bundle.
	for _, d := range []string{filepath.Dir(dir), dir} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	s := &soak{
		t: t, dir: dir, root: filepath.Join(dir, "state"),
		prefix: "soak" + tag + "-", marker: "soak-marker-" + tag,
		net: []string{"--bridge", "rsoak" + tag, "--subnet", fmt.Sprintf("10.212.%d.0/24", 1+int(b[0])%250), "--lease-dir", filepath.Join(dir, "leases")},
		rss: map[string][]int64{},
	}
	t.Cleanup(func() {
		// Whatever a failed run left: delete its containers, then the bridge.
		for _, id := range s.ids {
			s.nsrun("delete", "--force", id)
		}
		_ = exec.Command(nsnetBin, append([]string{"cleanup", "--force"}, s.net...)...).Run()
	})
	return s
}

// makeKinds builds the bundles: plain, a user namespace, nsnet as the
// network hook, a hook at each of the six stages, and resource limits.
func (s *soak) makeKinds(phase string, args ...string) {
	t := s.t
	hookLog := filepath.Join(s.dir, "hooks.log")
	hook := filepath.Join(s.dir, "hook.sh")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\nread -r state\necho \"$1\" >> "+hookLog+"\n"), 0o755))
	mk := func(name string, edit func(*specs.Spec, *bundle.Bundle)) *kind {
		opts := bundle.Options{Args: args}
		if name == "userns" {
			// The container's root is host uid 200000: it owns its rootfs.
			opts.Owner = &bundle.Owner{UID: 200000, GID: 200000}
		}
		b, err := bundle.New(filepath.Join(s.dir, phase+"-"+name), opts)
		require.NoError(t, err)
		edit(b.Spec, b)
		require.NoError(t, b.Save())
		return &kind{name: name, bundle: b}
	}
	plain := mk("plain", func(*specs.Spec, *bundle.Bundle) {})
	userns := mk("userns", func(sp *specs.Spec, b *bundle.Bundle) {
		sp.Linux.Namespaces = append(sp.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		sp.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		sp.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 65536}}
		// sysfs needs a network namespace the user namespace owns, which a
		// joined or host one is not; the bundle has its own, so it stays.
	})
	netk := mk("nsnet", func(sp *specs.Spec, b *bundle.Bundle) {
		h := specs.Hook{Path: nsnetBin, Args: append([]string{"nsnet"}, s.net...)}
		sp.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{h}, Poststop: []specs.Hook{h}}
	})
	netk.nsnet = true
	hooks := mk("hooks", func(sp *specs.Spec, b *bundle.Bundle) {
		h := func(stage string) []specs.Hook { return []specs.Hook{{Path: hook, Args: []string{"hook.sh", stage}}} }
		// startContainer runs inside the container: its hook is in the rootfs.
		require.NoError(t, os.WriteFile(filepath.Join(b.Rootfs(), "hook.sh"), []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755))
		sp.Hooks = &specs.Hooks{
			//lint:ignore SA1019 the spec still has runtimes run prestart hooks; the soak covers all six stages
			Prestart: h("prestart"), CreateRuntime: h("createRuntime"), CreateContainer: h("createContainer"),
			StartContainer: []specs.Hook{{Path: "/hook.sh"}}, Poststart: h("poststart"), Poststop: h("poststop"),
		}
	})
	hooks.hooks = true
	limits := mk("limits", func(sp *specs.Spec, b *bundle.Bundle) {
		pids, mem, shares := int64(64), int64(64<<20), uint64(512)
		sp.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
		sp.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
		sp.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &shares}
	})
	s.kinds = []*kind{plain, userns, netk, hooks, limits}
}

// gnuTime finds GNU time, which reports its child's peak memory.
func gnuTime() (string, error) {
	p, err := exec.LookPath("time")
	if err == nil {
		out, _ := exec.Command(p, "--version").CombinedOutput()
		if strings.Contains(strings.ToLower(string(out)), "gnu time") {
			return p, nil
		}
		err = fmt.Errorf("%s is not GNU time: %q", p, out)
	}
	return "", fmt.Errorf("the soak measures nsrun's peak memory with GNU time: %w (install Debian's time package: make deps-test)", err)
}

// nsrun runs one nsrun command; it records the command's peak memory and
// any race report.
func (s *soak) nsrun(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	text, peak, err := runMeasured(ctx, s.dir, timeBin, append([]string{nsrunBin, "--root", s.root}, args...)...)
	s.mu.Lock()
	if peak > 0 {
		s.rss[args[0]] = append(s.rss[args[0]], peak)
	}
	if strings.Contains(text, "DATA RACE") {
		s.races = append(s.races, fmt.Sprintf("nsrun %s:\n%s", strings.Join(args, " "), text))
	}
	s.mu.Unlock()
	if err != nil {
		return text, fmt.Errorf("nsrun %s: %w: %s", strings.Join(args, " "), err, text)
	}
	return text, nil
}

// runMeasured runs argv under GNU time (timeBin) and returns what it
// printed (stdout and stderr, in a file in dir) and its peak RSS in KiB.
//
// The peak comes from time, not from this process's wait4: Go starts a
// child with vfork (CLONE_VM), and at execve the kernel folds the
// high-water RSS of the memory the child leaves, this test process's, into
// the child's ru_maxrss. wait4 here reported the (race-built) test's own
// 37-55 MiB for an nsrun create whose own peak is 7 MiB, and the test's
// growth as nsrun's. time is small and constant, so what it reports is
// the command's own peak (or that of a child it waited for, a hook).
func runMeasured(ctx context.Context, dir, timeBin string, argv ...string) (string, int64, error) {
	// Files, not pipes: a created container inherits nsrun's stdio.
	f, err := os.CreateTemp(dir, "out-")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rf, err := os.CreateTemp(dir, "rss-")
	if err != nil {
		return "", 0, err
	}
	rf.Close()
	defer os.Remove(rf.Name())
	cmd := exec.CommandContext(ctx, timeBin, append([]string{"-f", "%M", "-o", rf.Name()}, argv...)...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	text, _ := os.ReadFile(f.Name())
	peak, perr := peakKiB(rf.Name())
	if err == nil {
		err = perr
	}
	return string(text), peak, err
}

// peakKiB reads what `time -f %M -o path` wrote: the last line (a line
// about a non-zero exit may come first).
func peakKiB(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("peak memory: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("peak memory: %s is empty", path)
	}
	v, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("peak memory in %s: %w", path, err)
	}
	return v, nil
}

func (s *soak) register(id string, k *kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, id)
	if k.nsnet {
		s.netIDs = append(s.netIDs, id)
	}
}

// created records the created container's init: its identity, for the
// final check, and its descriptors (nsrun's code until start).
func (s *soak) created(id string) error {
	text, err := s.nsrun("state", id)
	if err != nil {
		return err
	}
	var st specs.State
	if err := json.Unmarshal([]byte(text), &st); err != nil {
		return fmt.Errorf("state of %s: %w: %s", id, err, text)
	}
	stat, err := procfs.ReadStat(st.Pid)
	if err != nil {
		return fmt.Errorf("init of %s: %w", id, err)
	}
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(st.Pid) + "/fd")
	if err != nil {
		return fmt.Errorf("init of %s: %w", id, err)
	}
	s.mu.Lock()
	s.inits = append(s.inits, proc{st.Pid, stat.StartTime})
	s.initFDs = append(s.initFDs, len(fds))
	if len(s.initFDs) == 1 || len(fds) != s.initFDs[0] {
		var targets []string
		for _, fd := range fds {
			l, _ := os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/fd/" + fd.Name())
			targets = append(targets, fd.Name()+"="+l)
		}
		s.fdTargets = append(s.fdTargets, id+": "+strings.Join(targets, " "))
	}
	s.mu.Unlock()
	return nil
}

// lifecycle is create, start, kill, wait for stopped, delete.
func (s *soak) lifecycle(id string, k *kind) error {
	s.register(id, k)
	if _, err := s.nsrun("create", "--bundle", k.bundle.Dir, id); err != nil {
		return err
	}
	if err := s.created(id); err != nil {
		return err
	}
	if _, err := s.nsrun("start", id); err != nil {
		return err
	}
	if _, err := s.nsrun("kill", id, "KILL"); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		text, err := s.nsrun("state", id)
		if err != nil {
			return err
		}
		var st specs.State
		if err := json.Unmarshal([]byte(text), &st); err != nil {
			return fmt.Errorf("state of %s: %w: %s", id, err, text)
		}
		if st.Status == specs.StateStopped {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not stopped a minute after SIGKILL: %s", id, text)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := s.nsrun("delete", id)
	return err
}

// each runs f for n ids, parallel at a time, and returns each call's
// duration; the first error stops the rest.
func (s *soak) each(n int, name string, f func(id string, k *kind) error) ([]time.Duration, error) {
	ids := make(chan int)
	var mu sync.Mutex
	var durs []time.Duration
	var first error
	var wg sync.WaitGroup
	for range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				id := fmt.Sprintf("%s%s-%d", s.prefix, name, i)
				t0 := time.Now()
				err := f(id, s.kinds[i%len(s.kinds)])
				mu.Lock()
				durs = append(durs, time.Since(t0))
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		ids <- i
	}
	close(ids)
	wg.Wait()
	return durs, first
}

// Numbers are what the soak reports (and writes with -soak.out).
type Numbers struct {
	Lifecycles   int      `json:"lifecycles"`
	Parallel     int      `json:"parallel"`
	Seconds      float64  `json:"seconds"`
	PerSecond    float64  `json:"lifecycles_per_second"`
	P50ms        float64  `json:"p50_ms"`
	P99ms        float64  `json:"p99_ms"`
	Alive        int      `json:"alive_at_once"`
	AliveUpS     float64  `json:"alive_create_start_seconds"`
	AliveDownS   float64  `json:"alive_delete_seconds"`
	RaceBuild    bool     `json:"race_build"`
	CreateRSSKiB [2]int64 `json:"create_max_rss_kib_first_last"`
	// CreateRSSAliveKiB: the same median over the creates of the second
	// phase, beside up to Alive running containers.
	CreateRSSAliveKiB int64    `json:"create_max_rss_kib_beside_alive"`
	InitFDs           [2]int   `json:"init_fds_first_last"`
	Leftovers         []string `json:"leftovers"`
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestSoak(t *testing.T) {
	testutil.NeedRoot(t, "containers with cgroup limits, nsnet's bridge and root's user namespaces")
	s := newSoak(t)
	// sh runs as the container's pid 1 and names the run in its argv, so a
	// container process that outlived its delete would be found.
	s.makeKinds("bundle", "sh", "-c", "sleep 3600", s.marker)
	n := Numbers{Lifecycles: *lifecycles, Parallel: *parallel, Alive: *alive, RaceBuild: *race}

	t0 := time.Now()
	durs, err := s.each(*lifecycles, "l", s.lifecycle)
	n.Seconds = time.Since(t0).Seconds()
	require.NoError(t, err)
	require.Len(t, durs, *lifecycles)
	n.PerSecond = float64(*lifecycles) / n.Seconds
	n.P50ms = float64(quantile(durs, 0.50).Microseconds()) / 1e3
	n.P99ms = float64(quantile(durs, 0.99).Microseconds()) / 1e3
	t.Logf("%d lifecycles, %d at a time: %.1f s, %.2f lifecycles/s, p50 %.0f ms, p99 %.0f ms",
		*lifecycles, *parallel, n.Seconds, n.PerSecond, n.P50ms, n.P99ms)

	s.checkGrowth(t, &n)
	s.aliveAtOnce(t, &n)
	s.checkAliveMemory(t, &n)
	s.checkHooks(t)
	n.Leftovers = s.leftovers()
	assert.Empty(t, n.Leftovers, "left on the host")
	assert.Empty(t, s.races, "race reports of nsrun or nsnet")
	if *out != "" {
		data, err := json.MarshalIndent(n, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(*out, data, 0o644))
	}
}

// aliveAtOnce: alive containers created and started, all running at once,
// then deleted.
func (s *soak) aliveAtOnce(t *testing.T, n *Numbers) {
	t0 := time.Now()
	_, err := s.each(*alive, "a", func(id string, k *kind) error {
		s.register(id, k)
		if _, err := s.nsrun("create", "--bundle", k.bundle.Dir, id); err != nil {
			return err
		}
		if err := s.created(id); err != nil {
			return err
		}
		_, err := s.nsrun("start", id)
		return err
	})
	n.AliveUpS = time.Since(t0).Seconds()
	require.NoError(t, err)
	text, err := s.nsrun("list")
	require.NoError(t, err)
	running := 0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, s.prefix+"a-") && strings.Contains(line, "running") {
			running++
		}
	}
	assert.Equal(t, *alive, running, "containers running at once:\n%s", text)
	t0 = time.Now()
	_, err = s.each(*alive, "a", func(id string, _ *kind) error {
		_, err := s.nsrun("delete", "--force", id)
		return err
	})
	n.AliveDownS = time.Since(t0).Seconds()
	require.NoError(t, err)
	t.Logf("%d containers at once: up in %.1f s, down in %.1f s", *alive, n.AliveUpS, n.AliveDownS)
}

// checkGrowth: nsrun's peak memory per create and the descriptors of the
// created init are the same at the end of the run as at its start.
func (s *soak) checkGrowth(t *testing.T, n *Numbers) {
	create := s.rss["create"]
	k := max(1, len(create)/10)
	n.CreateRSSKiB = [2]int64{median(create[:k]), median(create[len(create)-k:])}
	n.InitFDs = [2]int{s.initFDs[0], s.initFDs[len(s.initFDs)-1]}
	t.Logf("nsrun create max RSS (median of first/last tenth): %d / %d KiB; created init's descriptors first/last: %d / %d",
		n.CreateRSSKiB[0], n.CreateRSSKiB[1], n.InitFDs[0], n.InitFDs[1])
	assert.LessOrEqual(t, n.CreateRSSKiB[1], memoryBound(n.CreateRSSKiB[0]), "nsrun create's memory grew over the run")
	assert.Equal(t, slices.Max(s.initFDs), slices.Min(s.initFDs), "a created init holds a varying number of descriptors: %v\n%s", s.initFDs, strings.Join(s.fdTargets, "\n"))
}

// checkAliveMemory: nsrun create beside up to alive running containers
// (their state, cgroups and leases all there) needs no more memory than
// at the start of the run.
func (s *soak) checkAliveMemory(t *testing.T, n *Numbers) {
	create := s.rss["create"]
	n.CreateRSSAliveKiB = median(create[*lifecycles:])
	t.Logf("nsrun create max RSS beside up to %d containers (median): %d KiB", *alive, n.CreateRSSAliveKiB)
	assert.LessOrEqual(t, n.CreateRSSAliveKiB, memoryBound(n.CreateRSSKiB[0]), "nsrun create's memory grew with the containers alive")
}

// memoryBound is the most a peak RSS of first may become: a Go program's
// peak varies with GC timing (here by about 0.4 MiB around 7 MiB; more
// with the race detector); what grows with the number of containers
// (state, leases, listings) grows well past this over 1,000 of them.
func memoryBound(first int64) int64 { return first*5/4 + 2048 }

// checkHooks: every host-side hook ran once per lifecycle of the hooks
// bundle, nothing more.
func (s *soak) checkHooks(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(s.dir, "hooks.log"))
	require.NoError(t, err)
	count := map[string]int{}
	for _, l := range strings.Fields(string(data)) {
		count[l]++
	}
	want := 0
	for _, id := range s.ids {
		var i int
		if _, err := fmt.Sscanf(id[strings.LastIndexByte(id, '-')+1:], "%d", &i); err == nil && s.kinds[i%len(s.kinds)].hooks {
			want++
		}
	}
	for _, stage := range []string{"prestart", "createRuntime", "createContainer", "poststart", "poststop"} {
		assert.Equal(t, want, count[stage], "%s hooks run", stage)
	}
}

// leftovers lists what the soak's containers left: state, cgroups, mounts,
// processes (the inits by pid and start time, the container processes by
// the run's marker), zombies, veths, leases; then nsnet cleanup must find
// the bridge free and remove it.
func (s *soak) leftovers() []string {
	var veths []string
	for _, id := range s.netIDs {
		veths = append(veths, network.HostVethName(id))
	}
	var paths []string
	for _, id := range s.ids {
		paths = append(paths, filepath.Join(s.root, id))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	left := leftover.Scope{
		Paths:        paths,
		MountsNaming: []string{s.dir},
		Cgroups:      []string{"nsrun/" + s.prefix + "*"},
		Cmdlines:     []string{"nsrun init " + s.prefix, s.marker},
		ZombiesOf:    []int{os.Getpid()},
		Links:        veths,
	}.Wait(ctx)
	// A container's init is the child of the pid namespace's reaper once
	// nsrun create has exited; a zombie is there until that reaper waits
	// for it (this machine's pid 1 does so within seconds).
	var inits []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		inits = inits[:0]
		for _, p := range s.inits {
			if st, err := procfs.ReadStat(p.pid); err == nil && st.StartTime == p.start {
				inits = append(inits, fmt.Sprintf("init %d (state %c, parent %d)", p.pid, st.State, st.PPid))
			}
		}
		if len(inits) == 0 || time.Now().After(deadline) {
			break
		}
	}
	left = append(left, inits...)
	leases, err := os.ReadFile(filepath.Join(s.net[5], s.net[1]+".leases.json"))
	if err == nil {
		var l map[string]string
		if json.Unmarshal(leases, &l) != nil || len(l) > 0 {
			left = append(left, "leases "+string(leases))
		}
	}
	if out, err := exec.Command(nsnetBin, append([]string{"cleanup"}, s.net...)...).CombinedOutput(); err != nil {
		left = append(left, fmt.Sprintf("nsnet cleanup: %v: %s", err, out))
	}
	left = append(left, leftover.Scope{Links: []string{s.net[1]}}.List()...)
	sort.Strings(left)
	return left
}

// TestPeakMemoryIsTheChilds: the peak memory the soak records for a command
// is the command's own, not this test's. Go's vfork lends a child the
// parent's memory until execve, and wait4's ru_maxrss then reports the
// parent's high-water mark: measured that way, a small command run after
// this test touched 64 MiB would peak at 64 MiB or more.
func TestPeakMemoryIsTheChilds(t *testing.T) {
	timeBin, err := gnuTime()
	require.NoError(t, err)
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	text, peak, err := runMeasured(context.Background(), t.TempDir(), timeBin, "/bin/true")
	require.NoError(t, err, text)
	assert.Less(t, peak, int64(16<<10), "peak RSS (KiB) recorded for /bin/true after this test touched 64 MiB")
	assert.Positive(t, peak)
	runtime.KeepAlive(ballast)
}
