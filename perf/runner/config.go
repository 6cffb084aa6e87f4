// Package runner expands a benchmark matrix config into points, runs them in
// every environment with repetitions interleaved across environments
// (A B A B …, so drift hits all alike), and records every sample in a
// results file it can resume and that shards can be merged from.
package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nsbench/nsbench/perf/workload"
	"github.com/nsbench/nsbench/perf/workload/cpu"
	"github.com/nsbench/nsbench/perf/workload/fs"
	inet "github.com/nsbench/nsbench/perf/workload/net"
)

// Config is a matrix, as in perf/configs/*.json: the run's settings, and
// one section per workload, keyed by the workload's name ("cpu",
// "sysbench", "fs", "net"), each decoded by its workload.
type Config struct {
	Name        string   `json:"name"`
	Repetitions int      `json:"repetitions"`
	Envs        []string `json:"envs"`
	Seed        uint64   `json:"seed"`
	// Kernels, Arch and VM make the kernel a dimension of the run: the
	// matrix runs in VM guests booted with each kernel variant (cmd/nsbench
	// boots them; the runner in the guest ignores these fields).
	Kernels []string  `json:"kernels,omitempty"`
	Arch    string    `json:"arch,omitempty"`
	VM      *VMConfig `json:"vm,omitempty"`
	// Precision makes repetitions adaptive: Repetitions is then the
	// minimum, and rounds go on until every cell's ratio to native is that
	// precise or the budget is spent.
	Precision *PrecisionConfig `json:"precision,omitempty"`
	// Warmups: runs per cell before its first sample, discarded (caches,
	// page tables, CPU frequency).
	Warmups int `json:"warmups,omitempty"`
	// CPUs pins every job, native and in containers alike, to this cpuset
	// ("1", "0-1"); empty: no pinning.
	CPUs string `json:"cpus,omitempty"`
	// NativeCgroup runs every native job in a CPU cgroup of its own, as
	// runc and crun run each container, so that on a busy machine native
	// jobs get the same share of the CPUs as containers (env.Job.OwnCgroup).
	NativeCgroup bool `json:"native_cgroup,omitempty"`
	// Quiet waits, before each round, up to MaxWaitS seconds for the other
	// processes' CPU use to fall under MaxBusy (fraction of all CPUs).
	Quiet *QuietConfig `json:"quiet,omitempty"`
	// Workloads are the sections present, sorted by name.
	Workloads []workload.Workload `json:"-"`
}

// PrecisionConfig is the precision goal and its budget.
type PrecisionConfig struct {
	// HalfWidth of every env/native ratio's 95 % CI (0.02 = ±2 %).
	HalfWidth      float64 `json:"half_width"`
	MaxRepetitions int     `json:"max_repetitions"`
	// MaxMinutes bounds the rounds beyond the minimum (Config.Repetitions),
	// counted once every point has its minimum: the fixed rounds of the
	// workloads the goal leaves out do not eat it.
	MaxMinutes float64 `json:"max_minutes"`
	// Workloads the goal applies to; the others get Repetitions. Empty: all.
	Workloads []string `json:"workloads,omitempty"`
}

// QuietConfig is the quiet-machine check.
type QuietConfig struct {
	MaxBusy  float64 `json:"max_busy"`
	MaxWaitS float64 `json:"max_wait_s"`
}

// VMConfig sets the guests' machine: the same for every kernel of a run.
type VMConfig struct {
	CPUs      int `json:"cpus,omitempty"`       // default: 2 on x86_64, 4 on arm64 (the Pi 4)
	MemoryMiB int `json:"memory_mib,omitempty"` // default 2048
	// DiskMiB is the size of the guest's virtio scratch disk (ext4), where
	// fio's rootfs and bind files live; default 2048.
	DiskMiB int `json:"disk_mib,omitempty"`
	// BlockReps is how many repetitions one boot runs (default 1): kernels
	// alternate between blocks, so drift spreads over all of them.
	BlockReps int `json:"block_reps,omitempty"`
}

// knownWorkloads lists every workload a config may name: adding a
// workload adds its line here.
func knownWorkloads() []workload.Workload {
	return []workload.Workload{&cpu.Sim{}, &cpu.Sysbench{}, &fs.Fio{}, &inet.Iperf{}}
}

// configFields are the config's own keys; every other key names a workload.
func configFields() []string {
	return []string{"name", "repetitions", "envs", "seed", "kernels", "arch", "vm", "precision", "warmups", "cpus", "native_cgroup", "quiet"}
}

// UnmarshalJSON decodes the run's fields and each workload's section,
// refusing unknown keys and unknown fields inside a section.
func (c *Config) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	base := map[string]json.RawMessage{}
	*c = Config{}
	var known []string
	for _, w := range knownWorkloads() {
		known = append(known, w.Name())
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.Contains(configFields(), k) {
			base[k] = raw[k]
			continue
		}
		i := slices.Index(known, k)
		if i < 0 {
			return fmt.Errorf("unknown key %q: want one of %s or a workload (%s)", k, strings.Join(configFields(), ", "), strings.Join(known, ", "))
		}
		w := knownWorkloads()[i]
		if err := strictDecode(raw[k], w); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		c.Workloads = append(c.Workloads, w)
	}
	b, err := json.Marshal(base)
	if err != nil {
		return err
	}
	type plain Config // without the methods: no recursion
	var p plain
	if err := strictDecode(b, &p); err != nil {
		return err
	}
	p.Workloads = c.Workloads
	*c = Config(p)
	return nil
}

// MarshalJSON writes the config back in the file's shape: what a VM guest
// gets, after any -set overrides.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	b, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, w := range c.Workloads {
		wb, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("encode %s section: %w", w.Name(), err)
		}
		m[w.Name()] = wb
	}
	return json.Marshal(m)
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// LoadConfig reads and checks a config file; sets are overrides of single
// fields by dotted path ("repetitions=2", "fs.runtime_s=5",
// "vm.cpus=4", `kernels=["stock"]`), applied before the check.
func LoadConfig(path string, sets ...string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(sets) > 0 {
		if data, err = applySets(data, sets); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// applySets sets each "a.b.c=value" in the JSON document; value is JSON
// (a number, true, ["x"], {"k":1}) or else taken as a string.
func applySets(data []byte, sets []string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	for _, s := range sets {
		path, val, ok := strings.Cut(s, "=")
		if !ok || path == "" {
			return nil, fmt.Errorf("-set %q: want path=value, e.g. fs.runtime_s=5", s)
		}
		var v any
		if err := json.Unmarshal([]byte(val), &v); err != nil {
			v = val
		}
		keys := strings.Split(path, ".")
		m := doc
		for i, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				if m[k] != nil {
					return nil, fmt.Errorf("-set %q: %s is not an object", s, strings.Join(keys[:i+1], "."))
				}
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = v
	}
	return json.Marshal(doc)
}

// Validate checks the fields the runner relies on.
func (c Config) Validate() error {
	if c.Name == "" || c.Repetitions < 1 || len(c.Envs) == 0 {
		return fmt.Errorf("name, repetitions >= 1 and envs are required")
	}
	if !slices.Contains(c.Envs, "native") {
		return fmt.Errorf("envs must include native: every difference is against it")
	}
	if len(c.Workloads) == 0 {
		return fmt.Errorf("no workload: give at least one section of %s", strings.Join(workloadNames(), ", "))
	}
	for _, w := range c.Workloads {
		if err := w.Validate(); err != nil {
			return err
		}
	}
	if c.Arch != "" && c.Arch != "x86_64" && c.Arch != "arm64" {
		return fmt.Errorf("arch %q: want x86_64 or arm64", c.Arch)
	}
	if v := c.VM; v != nil && (v.CPUs < 0 || v.MemoryMiB < 0 || v.DiskMiB < 0 || v.BlockReps < 0) {
		return fmt.Errorf("vm: cpus, memory_mib, disk_mib and block_reps must be >= 0")
	}
	if c.Warmups < 0 {
		return fmt.Errorf("warmups must be >= 0")
	}
	if p := c.Precision; p != nil {
		if p.HalfWidth <= 0 || p.HalfWidth >= 1 {
			return fmt.Errorf("precision.half_width %g: want a fraction in (0, 1), e.g. 0.02 for ±2 %%", p.HalfWidth)
		}
		if c.Repetitions < 2 || p.MaxRepetitions < c.Repetitions || p.MaxMinutes <= 0 {
			return fmt.Errorf("precision: repetitions (the minimum) must be >= 2, max_repetitions >= repetitions and max_minutes > 0")
		}
		for _, w := range p.Workloads {
			if !slices.Contains(workloadNames(), w) {
				return fmt.Errorf("precision.workloads: %q: want one of %s", w, strings.Join(workloadNames(), ", "))
			}
		}
	}
	if q := c.Quiet; q != nil && (q.MaxBusy <= 0 || q.MaxBusy > 1 || q.MaxWaitS <= 0) {
		return fmt.Errorf("quiet: max_busy in (0, 1] and max_wait_s > 0 are required")
	}
	if c.CPUs != "" && strings.Trim(c.CPUs, "0123456789,-") != "" {
		return fmt.Errorf("cpus %q: want a cpuset list such as 1 or 0-1", c.CPUs)
	}
	return nil
}

func workloadNames() []string {
	var out []string
	for _, w := range knownWorkloads() {
		out = append(out, w.Name())
	}
	return out
}

// Workload returns the config's workload of that name, or nil.
func (c Config) Workload(name string) workload.Workload {
	for _, w := range c.Workloads {
		if w.Name() == name {
			return w
		}
	}
	return nil
}

// Tools lists the external tools of the config's workloads.
func (c Config) Tools() []workload.Tool {
	var out []workload.Tool
	for _, w := range c.Workloads {
		out = append(out, w.Tools()...)
	}
	return out
}

// Point is a point of the matrix: one parameter set of one workload, run in
// every environment (each point × environment is a results.Cell). Not a
// results.TimePoint, which is one interval of a sample's time series.
type Point struct {
	Workload string
	Params   map[string]string
}

// Key names the point: workload and sorted parameters.
func (p Point) Key() string { return workload.Params(p.Params).Key(p.Workload) }

// CellKey names the point in one environment.
func (p Point) CellKey(env string) string { return p.Key() + " env=" + env }

// Points expands the matrix, sorted by key so every machine sees the same
// order (sharding depends on it).
func (c Config) Points(cores int) []Point {
	var ps []Point
	for _, w := range c.Workloads {
		for _, p := range w.Points(cores) {
			ps = append(ps, Point{w.Name(), p})
		}
	}
	slices.SortStableFunc(ps, func(a, b Point) int { return strings.Compare(a.Key(), b.Key()) })
	return ps
}

// Shard is "i/n": the i-th of n slices (1-based).
type Shard struct{ I, N int }

// ParseShard reads "i/n".
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{1, 1}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("shard %q: want i/n with 1 <= i <= n, e.g. 2/8", s)
	}
	return Shard{i, n}, nil
}

// String is "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Select keeps the shard's points: round robin over the sorted points, so
// shards are disjoint, cover the matrix, and differ in size by at most one.
// A point stays whole (all its environments on one machine) so that its
// environments are still compared on the same hardware.
func (s Shard) Select(ps []Point) []Point {
	if s.N < 1 { // the zero Shard is the whole matrix
		s = Shard{1, 1}
	}
	var out []Point
	for i, p := range ps {
		if i%s.N == s.I-1 {
			out = append(out, p)
		}
	}
	return out
}
