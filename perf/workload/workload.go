// Package workload says what a benchmark workload is to nsbench: a config
// section that expands into points (parameter sets), a way to run one point
// in an execution environment and turn the tool's output into a sample, and
// the external tools it needs. The workloads themselves live in the
// packages below (cpu, fs, net); adding one means a new package here and one
// line in the runner's list of them, nothing else: the runner, the results
// file, the report and the VM guest image take name, unit, axis and tools
// from the interface.
package workload

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strings"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
)

// Params is one point of a workload: parameter name to value.
type Params map[string]string

// Key names the point: the workload and its sorted parameters, e.g.
// "fs bs=4k iodepth=8 ...".
func (p Params) Key(workload string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(workload)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, p[k])
	}
	return b.String()
}

// Workload is one kind of benchmark. The value is also its config section
// (perf/configs/*.json decode into it), so it marshals back to the section.
type Workload interface {
	// Name is the config key and the results' workload name.
	Name() string
	// Unit is the unit of a sample's Value.
	Unit() string
	// Axis is the parameter a plot puts on its x axis.
	Axis() string
	// Validate checks the config section.
	Validate() error
	// Points expands the section into the points to run, given the cores
	// of the machine the run is on (sweeps up to 2× cores default to it).
	Points(cores int) []Params
	// Tools are the external programs Run starts (none for a workload
	// that ships as one of this module's commands).
	Tools() []Tool
	// Run runs one point in d.Env and returns its sample. A point the
	// environment cannot run returns an error wrapping env.ErrUnsupported.
	Run(ctx context.Context, d Deps, p Params) (results.Sample, error)
	// Parse turns one output of the workload's tool into a sample: the
	// headline Value, the other metrics, a time series where the tool
	// gives one, and the raw output. The tool's quirks (text-only reports,
	// errors reported with exit status 0, warnings before the JSON) are
	// dealt with here and in Run, nowhere else.
	Parse(out []byte) (results.Sample, error)
}

// Tool is an external program a workload runs.
type Tool struct {
	// Name is the program's name on PATH.
	Name string
	// Package is the Debian package that carries it (apt-get install, and
	// the VM guest image, which takes it for the guest's arch).
	Package string
	// Path is where the package installs it.
	Path string
}

// Find returns the tool's path on PATH, or an error saying how to install it.
func (t Tool) Find() (string, error) {
	p, err := exec.LookPath(t.Name)
	if err != nil {
		return "", fmt.Errorf("%s not installed (apt-get install %s): %w", t.Name, t.Package, err)
	}
	return p, nil
}

// Deps is what a run gives every sample: the environment to run in and the
// run's shared resources.
type Deps struct {
	Env  env.Env
	Seed uint64
	// CPUBin is the static nsbench-cpu (the simulation).
	CPUBin string
	// Scratch is the directory data files on a disk go under (the bind and
	// rootfs locations natively; in a VM guest, its virtio disk). Empty
	// means /var/tmp.
	Scratch string
	// Network is the run's bridge, nil when no point needs one or it could
	// not be made; NetworkErr then says why.
	Network    *env.Network
	NetworkErr error
	// CPUs pins every job to this cpuset ("1", "0-1"); empty: no pinning.
	CPUs string
	// OwnCgroup runs native jobs each in a CPU cgroup of their own
	// (env.Job.OwnCgroup), as runc and crun run containers.
	OwnCgroup bool
}

// ScaleWork is a job's size n in d.Env: n, or for a known-answer
// environment with extra work ("native:work=f", env.Injected) n·(1+f).
func (d Deps) ScaleWork(n int) int {
	if w, ok := d.Env.(interface{ ExtraWork() float64 }); ok && w.ExtraWork() > 0 {
		return int(math.Round(float64(n) * (1 + w.ExtraWork())))
	}
	return n
}

// Sizer is a workload whose size can be calibrated so that one native job
// takes a target time (the runner's calibration).
type Sizer interface {
	Workload
	// Size is the size parameter's name, its configured value (the first
	// guess) and the target in seconds (0: no calibration).
	Size() (param string, n int, targetS float64)
	// Resized is the workload with the size set to n.
	Resized(n int) Workload
	// CalibrationPoint is the point calibration measures (one job, one
	// thread), and Seconds reads its duration from the sample.
	CalibrationPoint() Params
	Seconds(s results.Sample) float64
}

// OutputError is a failed job's error with what the job printed on its
// standard output (iperf3 -J and fio report their errors there), kept for
// the results file's record of the failure.
type OutputError struct {
	Err    error
	Output []byte
}

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// WithOutput attaches out to err (nothing when out is blank).
func WithOutput(err error, out []byte) error {
	if err == nil || len(bytes.TrimSpace(out)) == 0 {
		return err
	}
	return &OutputError{err, out}
}

// ScratchDir returns Scratch or its default.
func (d Deps) ScratchDir() string {
	if d.Scratch == "" {
		return "/var/tmp"
	}
	return d.Scratch
}

// Ints expands a sweep: the values given, or 1…2×cores when none are.
func Ints(given []int, cores int) []int {
	if len(given) > 0 {
		return given
	}
	out := make([]int, 0, 2*cores)
	for i := 1; i <= 2*cores; i++ {
		out = append(out, i)
	}
	return out
}
