// Package results is nsbench's versioned results file: the machine, the
// runtime versions, the environments skipped and why, and every raw sample of
// every cell, so that a report can be recomputed and shards can be merged.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/atomicfile"
)

// Version of the file format; bumped when a field changes meaning.
const Version = 1

// File is one results file.
type File struct {
	Version  int               `json:"version"`
	Config   string            `json:"config"`
	Shard    string            `json:"shard,omitempty"`
	Created  time.Time         `json:"created"`
	Machine  Machine           `json:"machine"`
	Runtimes map[string]string `json:"runtimes"`
	Skipped  map[string]string `json:"skipped,omitempty"` // env -> reason
	// Failed: environments that failed mid-run (env -> the failure); their
	// cells are marked Failed and the rest of the matrix went on.
	Failed map[string]Failure `json:"failed,omitempty"`
	// Calibration: the workload sizes chosen for the target duration, by
	// workload.
	Calibration map[string]Calibration `json:"calibration,omitempty"`
	// Precision: what the run was asked for and how it ended.
	Precision *Precision `json:"precision,omitempty"`
	// Conditions: how the samples were taken (pinning, quiet-machine check).
	Conditions *Conditions `json:"conditions,omitempty"`
	// VM describes a run whose samples were taken in VM guests, one kernel
	// variant per boot (nil for a run on this machine).
	VM *VMRun `json:"vm,omitempty"`
	// Kernels describes each kernel variant of a VM run, by variant.
	Kernels map[string]Kernel `json:"kernels,omitempty"`
	Cells   []Cell            `json:"cells"`
}

// Failure is an environment's failed sample: the full error (stderr of the
// runtime or engine included) and the job's output.
type Failure struct {
	Cell   string    `json:"cell"`
	Rep    int       `json:"rep"`
	Time   time.Time `json:"time"`
	Error  string    `json:"error"`
	Output string    `json:"output,omitempty"`
}

// Calibration is one workload's size, chosen so that one native job takes
// about TargetS seconds.
type Calibration struct {
	Param     string  `json:"param"` // e.g. "particles", "events"
	Value     int     `json:"value"`
	TargetS   float64 `json:"target_s"`
	MeasuredS float64 `json:"measured_s"` // one native job at Value
}

// Precision is the run's precision goal and outcome.
type Precision struct {
	// HalfWidth: the wanted 95 % CI half-width of every env/native ratio
	// (0.02 = ±2 %).
	HalfWidth      float64 `json:"half_width"`
	MinRepetitions int     `json:"min_repetitions"`
	MaxRepetitions int     `json:"max_repetitions"`
	// MaxMinutes bounds the rounds beyond MinRepetitions, counted from
	// the end of the fixed rounds.
	MaxMinutes float64  `json:"max_minutes"`
	Workloads  []string `json:"workloads,omitempty"` // adaptive ones; empty: all
	Warmups    int      `json:"warmups"`             // discarded runs per cell before the first sample
	// Stop says how the run ended: "reached", "max_repetitions",
	// "time budget" (then the cells' Stopped says which).
	Stop     string  `json:"stop"`
	ElapsedS float64 `json:"elapsed_s"`
	// AdaptiveS: the part of ElapsedS after the minimum repetitions, which
	// MaxMinutes bounds.
	AdaptiveS float64 `json:"adaptive_s,omitempty"`
}

// Conditions are the noise-reducing options in force.
type Conditions struct {
	CPUs string `json:"cpus,omitempty"` // every job pinned to this cpuset
	// NativeCgroup: native jobs each ran in a CPU cgroup of their own.
	NativeCgroup bool    `json:"native_cgroup,omitempty"`
	Quiet        float64 `json:"quiet,omitempty"` // busy fraction of other processes waited for before a round
	// QuietWaitS: time spent waiting for a quiet machine; QuietMissed:
	// rounds that started after the longest wait without it.
	QuietWaitS  float64 `json:"quiet_wait_s,omitempty"`
	QuietMissed int     `json:"quiet_missed,omitempty"`
	QuietRounds int     `json:"quiet_rounds,omitempty"`
}

// VMRun is how the guests of a kernel run were set up and booted.
type VMRun struct {
	Arch string `json:"arch"`
	// Accel is the accelerator every guest ran under (kvm or tcg);
	// AccelNote why, when it was not the first choice.
	Accel     string `json:"accel"`
	AccelNote string `json:"accel_note,omitempty"`
	CPUs      int    `json:"cpus"`
	MemoryMiB int    `json:"memory_mib"`
	// Disk is the guests' scratch disk, where fio's files live.
	Disk string `json:"disk"`
	// Design says how kernels were ordered against drift.
	Design string `json:"design"`
	// Kernels in the order of the first round; the first is the baseline
	// of the kernel comparison.
	Kernels []string `json:"kernels"`
	Blocks  []Block  `json:"blocks"`
	// GuestMachine is what the guests report of themselves (CPU model,
	// cores, kernel of the first boot).
	GuestMachine *Machine `json:"guest_machine,omitempty"`
}

// Block is one boot: a kernel and the repetitions it ran.
type Block struct {
	Boot   int    `json:"boot"`
	Kernel string `json:"kernel"`
	Reps   []int  `json:"reps"`
	Done   bool   `json:"done"`
	// Error is why the guest did not finish this block (crash, hang);
	// the samples it saved before are kept and -resume runs the rest.
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	BootS   float64 `json:"boot_s,omitempty"` // to the guest's /init
}

// Kernel is one kernel variant of a VM run.
type Kernel struct {
	Variant string `json:"variant"`
	Version string `json:"version"`
	// ConfigHash is the SHA-256 of the kernel's final .config (first 16
	// hex digits); BuildKey the cache key of its build inputs.
	ConfigHash string            `json:"config_hash"`
	BuildKey   string            `json:"build_key,omitempty"`
	Cmdline    []string          `json:"cmdline,omitempty"`
	Sysctls    map[string]string `json:"sysctls,omitempty"`
	// Options are the final values of the configuration options some
	// variant asks for on top of the common base ("n" when unset), so the
	// report can list the options that differ between the kernels.
	Options map[string]string `json:"options,omitempty"`
}

// Guest is where a sample taken in a VM guest ran: on every such sample,
// so a sample carries its kernel wherever it is copied.
type Guest struct {
	Kernel        string `json:"kernel"` // variant: stock, hardened, ...
	KernelVersion string `json:"kernel_version"`
	ConfigHash    string `json:"config_hash"`
	Arch          string `json:"arch"`
	Accel         string `json:"accel"`
	CPUs          int    `json:"cpus"`
	MemoryMiB     int    `json:"memory_mib"`
	Boot          int    `json:"boot"` // the Block it came from
}

// Machine describes where the samples were taken.
type Machine struct {
	Hostname string `json:"hostname"`
	// OS is the host's distribution (os-release PRETTY_NAME): results of
	// a Debian 12 and a Debian 13 host differ in runtime versions too.
	OS        string `json:"os,omitempty"`
	Kernel    string `json:"kernel"`
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go"`
}

// Cell is one point of the matrix in one environment (and, in a VM run,
// on one kernel: samples of two kernels are never one cell).
type Cell struct {
	Key      string            `json:"key"`
	Point    string            `json:"point"` // the key without the environment and kernel
	Workload string            `json:"workload"`
	Env      string            `json:"env"`
	Kernel   string            `json:"kernel,omitempty"` // variant, in a VM run
	Params   map[string]string `json:"params"`
	Unit     string            `json:"unit"`           // of Sample.Value
	Axis     string            `json:"axis,omitempty"` // the parameter plots put on x
	Samples  []Sample          `json:"samples"`
	// Stopped says, for an adaptive cell that did not reach the precision
	// goal, why not (budget spent at which half-width).
	Stopped string `json:"stopped,omitempty"`
	// Failed: the environment failed during the run (File.Failed has the
	// error); the samples before are kept.
	Failed string `json:"failed,omitempty"`
}

// Sample is one repetition.
type Sample struct {
	Rep     int                `json:"rep"`
	Guest   *Guest             `json:"guest,omitempty"` // set when taken in a VM guest
	Value   float64            `json:"value"`           // the cell's headline metric
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Series  []TimePoint        `json:"series,omitempty"` // e.g. throughput per interval
	Raw     []json.RawMessage  `json:"raw,omitempty"`    // workload output as printed
	Start   time.Time          `json:"start,omitzero"`
	Noise   *Noise             `json:"noise,omitempty"`
}

// Noise is what could explain a sample's deviation: the job's own CPU
// time, what the machine did meanwhile and what else ran.
type Noise struct {
	WallS float64 `json:"wall_s"` // the whole sample, container start included
	// JobUserS, JobSysS: CPU time of everything the sample ran (runtime and
	// container included), from rusage of the waited children, or from the
	// engine's cgroup for docker/podman (JobSource says which).
	JobUserS  float64 `json:"job_user_s"`
	JobSysS   float64 `json:"job_sys_s"`
	JobSource string  `json:"job_source"`
	// JobCtxSwVol, JobCtxSwInvol: the children's context switches
	// (involuntary ones are preemption: someone else wanted the CPU).
	JobCtxSwVol   float64 `json:"job_ctxsw_vol"`
	JobCtxSwInvol float64 `json:"job_ctxsw_invol"`
	// Machine-wide over the sample, from /proc/stat: fraction of all CPUs
	// busy, stolen by the hypervisor and waiting for I/O; context switches.
	Busy        float64 `json:"busy"`
	Steal       float64 `json:"steal"`
	IOWait      float64 `json:"iowait"`
	CtxSwitches float64 `json:"ctxsw"`
	Load1       float64 `json:"load1"`
	// PSICPUSome10: /proc/pressure/cpu "some avg10" at the end (percent of
	// time some task waited for a CPU), when the kernel has PSI.
	PSICPUSome10 float64 `json:"psi_cpu_some10,omitempty"`
	// OthersCPUS: CPU seconds the rest of the machine used meanwhile (busy
	// time less this run's own); Others the biggest of them by name.
	OthersCPUS float64  `json:"others_cpu_s"`
	Others     []string `json:"others,omitempty"`
}

// TimePoint is one element of a time series within a sample (not a point of
// the matrix: that is a Cell's Point, runner.Point).
type TimePoint struct {
	T      float64            `json:"t"`
	Values map[string]float64 `json:"v"`
}

// Values of all samples of the cell.
func (c Cell) Values() []float64 {
	v := make([]float64, len(c.Samples))
	for i, s := range c.Samples {
		v[i] = s.Value
	}
	return v
}

// Paired returns the values of the repetitions a and b both have, in
// repetition order: the samples of one round, for a paired comparison.
func Paired(a, b *Cell) (x, y []float64) {
	byRep := map[int]float64{}
	for _, s := range b.Samples {
		byRep[s.Rep] = s.Value
	}
	var reps []int
	for _, s := range a.Samples {
		if _, ok := byRep[s.Rep]; ok {
			reps = append(reps, s.Rep)
		}
	}
	slices.Sort(reps)
	va := map[int]float64{}
	for _, s := range a.Samples {
		va[s.Rep] = s.Value
	}
	for _, r := range reps {
		x = append(x, va[r])
		y = append(y, byRep[r])
	}
	return x, y
}

// KernelKey is the key of the cell of cellKey (a point in an environment)
// on kernel variant k.
func KernelKey(cellKey, k string) string {
	if k == "" {
		return cellKey
	}
	return cellKey + " kernel=" + k
}

// HasRep reports whether repetition rep is recorded.
func (c Cell) HasRep(rep int) bool {
	return slices.ContainsFunc(c.Samples, func(s Sample) bool { return s.Rep == rep })
}

// Cell returns the cell of that key, adding it when missing.
func (f *File) Cell(key string) *Cell {
	for i := range f.Cells {
		if f.Cells[i].Key == key {
			return &f.Cells[i]
		}
	}
	f.Cells = append(f.Cells, Cell{Key: key})
	return &f.Cells[len(f.Cells)-1]
}

// DescribeMachine reads this machine's identity.
func DescribeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"'`)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// Load reads a results file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse results %s: %w", path, err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("results %s: format version %d, this nsbench reads %d", path, f.Version, Version)
	}
	return &f, nil
}

// Save writes the file atomically (rename), so an interrupted run leaves the
// last complete state for --resume.
func (f *File) Save(path string) error {
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.Write(path, data, 0o644)
}

// addPerShard copies src into *dst (made if nil), each key followed by
// " (shard S)" when src is a shard's.
func addPerShard[V any](dst *map[string]V, src map[string]V, shard string) {
	for k, v := range src {
		if *dst == nil {
			*dst = map[string]V{}
		}
		if shard != "" {
			k += " (shard " + shard + ")"
		}
		(*dst)[k] = v
	}
}

// Merge joins shards: cells by key (samples of the same repetition from two
// files are an error: the shards overlapped), runtimes and skips united.
func Merge(files ...*File) (*File, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("merge: no results files")
	}
	out := &File{Version: Version, Config: files[0].Config, Created: time.Now().UTC(), Machine: files[0].Machine,
		Runtimes: map[string]string{}, Skipped: map[string]string{}, VM: files[0].VM}
	for _, f := range files {
		if f.Config != out.Config {
			return nil, fmt.Errorf("merge: config %q and %q differ", out.Config, f.Config)
		}
		for k, v := range f.Runtimes {
			out.Runtimes[k] = v
		}
		for k, v := range f.Skipped {
			out.Skipped[k] = v
		}
		// Failures and calibrations are each shard's own (shards calibrate
		// on their own machines): kept apart, named by their shard.
		addPerShard(&out.Failed, f.Failed, f.Shard)
		addPerShard(&out.Calibration, f.Calibration, f.Shard)
		if out.Precision == nil {
			out.Precision = f.Precision
		}
		if out.Conditions == nil {
			out.Conditions = f.Conditions
		}
		for k, v := range f.Kernels {
			if out.Kernels == nil {
				out.Kernels = map[string]Kernel{}
			}
			if old, ok := out.Kernels[k]; ok && old.ConfigHash != v.ConfigHash {
				return nil, fmt.Errorf("merge: kernel %s has config %s in one file and %s in another: not the same kernel", k, old.ConfigHash, v.ConfigHash)
			}
			out.Kernels[k] = v
		}
		for _, c := range f.Cells {
			dst := out.Cell(c.Key)
			if dst.Workload == "" {
				samples := dst.Samples
				*dst = c
				dst.Samples = samples
			}
			for _, s := range c.Samples {
				if dst.HasRep(s.Rep) {
					return nil, fmt.Errorf("merge: cell %s repetition %d is in two files (overlapping shards?)", c.Key, s.Rep)
				}
				dst.Samples = append(dst.Samples, s)
			}
		}
	}
	slices.SortFunc(out.Cells, func(a, b Cell) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
