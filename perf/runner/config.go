// Package runner expands a benchmark matrix config into points, runs them in
// every environment with repetitions interleaved across environments
// (A B A B …, so drift hits all alike), and records every sample in a
// results file it can resume and that shards can be merged from.
package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Config is a matrix, as in perf/configs/*.json.
type Config struct {
	Name        string          `json:"name"`
	Repetitions int             `json:"repetitions"`
	Envs        []string        `json:"envs"`
	Seed        uint64          `json:"seed"`
	CPU         *CPUConfig      `json:"cpu,omitempty"`
	Sysbench    *SysbenchConfig `json:"sysbench,omitempty"`
	FS          *FSConfig       `json:"fs,omitempty"`
	Net         *NetConfig      `json:"net,omitempty"`
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
	// Quiet waits, before each round, up to MaxWaitS seconds for the other
	// processes' CPU use to fall under MaxBusy (fraction of all CPUs).
	Quiet *QuietConfig `json:"quiet,omitempty"`
}

// PrecisionConfig is the precision goal and its budget.
type PrecisionConfig struct {
	// HalfWidth of every env/native ratio's 95 % CI (0.02 = ±2 %).
	HalfWidth      float64 `json:"half_width"`
	MaxRepetitions int     `json:"max_repetitions"`
	MaxMinutes     float64 `json:"max_minutes"`
	// Workloads the goal applies to; the others get Repetitions. Empty: all.
	Workloads []string `json:"workloads,omitempty"`
}

// QuietConfig is the quiet-machine check.
type QuietConfig struct {
	MaxBusy  float64 `json:"max_busy"`
	MaxWaitS float64 `json:"max_wait_s"`
}

// CPUConfig is the concurrency sweep of the simulation.
type CPUConfig struct {
	Concurrency []int `json:"concurrency"` // jobs at once; empty: 1…2×cores
	Particles   int   `json:"particles"`
	MemMiB      int   `json:"mem_mib"`
	// TargetS calibrates Particles so one native job takes about this long
	// (Particles is then only the first guess); 0: Particles as given.
	TargetS float64 `json:"target_s,omitempty"`
}

// SysbenchConfig is the `sysbench cpu` sweep: the external CPU workload,
// a fixed number of events (prime sieves up to max_prime) over N threads.
type SysbenchConfig struct {
	Threads  []int `json:"threads"` // empty: 1…2×cores
	MaxPrime int   `json:"max_prime"`
	Events   int   `json:"events"`
	// TargetS calibrates Events so one native thread takes about this long.
	TargetS float64 `json:"target_s,omitempty"`
}

// FSConfig is the fio sweep.
type FSConfig struct {
	RW        []string `json:"rw"`
	BS        []string `json:"bs"`
	Engines   []string `json:"engines"`
	NumJobs   []int    `json:"numjobs"`
	IODepth   []int    `json:"iodepth"`
	Locations []string `json:"locations"` // rootfs, bind, tmpfs
	Size      string   `json:"size"`
	RuntimeS  int      `json:"runtime_s"`
	Direct    bool     `json:"direct"`
	// RampS: seconds fio runs before it starts counting (ramp_time).
	RampS int `json:"ramp_s,omitempty"`
}

// NetConfig is the iperf3 sweep.
type NetConfig struct {
	Protocols []string `json:"protocols"` // tcp, udp
	Parallel  []int    `json:"parallel"`
	Lengths   []string `json:"lengths"` // "" = iperf3's default
	DurationS int      `json:"duration_s"`
	// OmitS: seconds iperf3 leaves out at the start (-O: TCP slow start).
	OmitS      int    `json:"omit_s,omitempty"`
	UDPBitrate string `json:"udp_bitrate"`
	// Topologies: host (server on the host's loopback, client sharing the
	// host's network namespace), bridge (server and client in two
	// containers on the nsnet bridge), mixed (server on the host at the
	// bridge's address, client in a container on the bridge). Empty: host.
	Topologies []string `json:"topologies,omitempty"`
}

// LoadConfig reads and checks a config file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", path, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks the fields the runner relies on.
func (c Config) Validate() error {
	if c.Name == "" || c.Repetitions < 1 || len(c.Envs) == 0 {
		return fmt.Errorf("name, repetitions >= 1 and envs are required")
	}
	if !slices.Contains(c.Envs, "native") {
		return fmt.Errorf("envs must include native: every difference is against it")
	}
	if c.CPU != nil && (c.CPU.Particles < 1 || c.CPU.MemMiB < 0) {
		return fmt.Errorf("cpu: particles must be >= 1 and mem_mib >= 0")
	}
	if c.Sysbench != nil && (c.Sysbench.MaxPrime < 1 || c.Sysbench.Events < 1) {
		return fmt.Errorf("sysbench: max_prime and events must be >= 1")
	}
	if c.FS != nil && (c.FS.RuntimeS < 1 || c.FS.Size == "") {
		return fmt.Errorf("fs: runtime_s >= 1 and size are required")
	}
	if c.Net != nil && (c.Net.DurationS < 1 || c.Net.OmitS < 0) {
		return fmt.Errorf("net: duration_s must be >= 1 and omit_s >= 0")
	}
	if c.CPU != nil && c.CPU.TargetS < 0 || c.Sysbench != nil && c.Sysbench.TargetS < 0 || c.FS != nil && c.FS.RampS < 0 {
		return fmt.Errorf("target_s and ramp_s must be >= 0")
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
			if !slices.Contains([]string{"cpu", "sysbench", "fs", "net"}, w) {
				return fmt.Errorf("precision.workloads: %q: want cpu, sysbench, fs or net", w)
			}
		}
	}
	if q := c.Quiet; q != nil && (q.MaxBusy <= 0 || q.MaxBusy > 1 || q.MaxWaitS <= 0) {
		return fmt.Errorf("quiet: max_busy in (0, 1] and max_wait_s > 0 are required")
	}
	if c.CPUs != "" && strings.Trim(c.CPUs, "0123456789,-") != "" {
		return fmt.Errorf("cpus %q: want a cpuset list such as 1 or 0-1", c.CPUs)
	}
	if c.Net != nil {
		for _, t := range c.Net.Topologies {
			if !slices.Contains([]string{"host", "bridge", "mixed"}, t) {
				return fmt.Errorf("net: topology %q: want host, bridge or mixed", t)
			}
		}
	}
	return nil
}

// Point is a point of the matrix: one parameter set of one workload, run in
// every environment (each point × environment is a results.Cell). Not a
// results.TimePoint, which is one interval of a sample's time series.
type Point struct {
	Workload string
	Params   map[string]string
}

// Key names the point: workload and sorted parameters.
func (p Point) Key() string {
	keys := make([]string, 0, len(p.Params))
	for k := range p.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(p.Workload)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, p.Params[k])
	}
	return b.String()
}

// CellKey names the point in one environment.
func (p Point) CellKey(env string) string { return p.Key() + " env=" + env }

// Points expands the matrix, sorted by key so every machine sees the same
// order (sharding depends on it).
func (c Config) Points(cores int) []Point {
	var ps []Point
	if c.CPU != nil {
		conc := c.CPU.Concurrency
		if len(conc) == 0 {
			for i := 1; i <= 2*cores; i++ {
				conc = append(conc, i)
			}
		}
		for _, n := range conc {
			ps = append(ps, Point{"cpu", map[string]string{"jobs": strconv.Itoa(n)}})
		}
	}
	if sb := c.Sysbench; sb != nil {
		threads := sb.Threads
		if len(threads) == 0 {
			for i := 1; i <= 2*cores; i++ {
				threads = append(threads, i)
			}
		}
		for _, n := range threads {
			ps = append(ps, Point{"sysbench", map[string]string{"threads": strconv.Itoa(n)}})
		}
	}
	if f := c.FS; f != nil {
		for _, rw := range f.RW {
			for _, bs := range f.BS {
				for _, eng := range f.Engines {
					for _, nj := range f.NumJobs {
						for _, qd := range f.IODepth {
							if eng == "sync" && qd > 1 {
								continue // a sync engine has one I/O in flight whatever iodepth says
							}
							for _, loc := range f.Locations {
								ps = append(ps, Point{"fs", map[string]string{"rw": rw, "bs": bs, "engine": eng,
									"numjobs": strconv.Itoa(nj), "iodepth": strconv.Itoa(qd), "on": loc}})
							}
						}
					}
				}
			}
		}
	}
	if n := c.Net; n != nil {
		topos := n.Topologies
		if len(topos) == 0 {
			topos = []string{""} // host, as before topologies existed
		}
		for _, proto := range n.Protocols {
			for _, par := range n.Parallel {
				for _, l := range n.Lengths {
					for _, topo := range topos {
						p := Point{"net", map[string]string{"proto": proto, "parallel": strconv.Itoa(par)}}
						if l != "" {
							p.Params["len"] = l
						}
						if topo != "" {
							p.Params["topo"] = topo
						}
						ps = append(ps, p)
					}
				}
			}
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
