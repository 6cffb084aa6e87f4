package cpu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/workload"
)

// Sim is the "cpu" workload: N simulation jobs (nsbench-cpu) started at
// once; the sample is their average wall time, as in seed 000's tables.
type Sim struct {
	// Concurrency lists the jobs run at once; empty: 1…2×cores.
	Concurrency []int `json:"concurrency"`
	Particles   int   `json:"particles"`
	MemMiB      int   `json:"mem_mib"`
	// TargetS calibrates Particles so one native job takes about this long
	// in Metric (Particles is then only the first guess); 0: as given.
	TargetS float64 `json:"target_s,omitempty"`
	// Metric is the sample's value: "wall_s" (the default, the jobs' average
	// wall time as in seed 000) or "cpu_s" (their average user+sys CPU time,
	// from each job's own rusage). On a machine other work keeps busy, wall
	// time is mostly the job's share of the CPUs, CPU time the job's own
	// cost. Both are recorded either way.
	Metric string `json:"metric,omitempty"`
}

// Name implements workload.Workload.
func (Sim) Name() string { return "cpu" }

// Unit implements workload.Workload.
func (s Sim) Unit() string {
	if s.Metric == "cpu_s" {
		return "CPU s"
	}
	return "s"
}

// Axis implements workload.Workload.
func (Sim) Axis() string { return "jobs" }

// Tools implements workload.Workload: the simulation is this module's own
// static nsbench-cpu, passed in Deps.
func (Sim) Tools() []workload.Tool { return nil }

// Validate implements workload.Workload.
func (s Sim) Validate() error {
	if s.Particles < 1 || s.MemMiB < 0 || s.TargetS < 0 {
		return fmt.Errorf("cpu: particles must be >= 1, mem_mib and target_s >= 0")
	}
	if s.Metric != "" && s.Metric != "wall_s" && s.Metric != "cpu_s" {
		return fmt.Errorf("cpu: metric %q: want wall_s or cpu_s", s.Metric)
	}
	return nil
}

// Size implements workload.Sizer.
func (s Sim) Size() (string, int, float64) { return "particles", s.Particles, s.TargetS }

// Resized implements workload.Sizer.
func (s Sim) Resized(n int) workload.Workload { s.Particles = n; return &s }

// CalibrationPoint implements workload.Sizer.
func (Sim) CalibrationPoint() workload.Params { return workload.Params{"jobs": "1"} }

// Seconds implements workload.Sizer.
func (Sim) Seconds(s results.Sample) float64 { return s.Value }

// Points implements workload.Workload.
func (s Sim) Points(cores int) []workload.Params {
	var ps []workload.Params
	for _, n := range workload.Ints(s.Concurrency, cores) {
		ps = append(ps, workload.Params{"jobs": strconv.Itoa(n)})
	}
	return ps
}

// Run implements workload.Workload. Every job must print the same checksum:
// a container that changed the computation is caught, not just timed.
func (s Sim) Run(ctx context.Context, d workload.Deps, p workload.Params) (results.Sample, error) {
	n, err := strconv.Atoi(p["jobs"])
	if err != nil || n < 1 {
		return results.Sample{}, fmt.Errorf("cpu: jobs %q: want a number >= 1", p["jobs"])
	}
	if d.CPUBin == "" {
		return results.Sample{}, fmt.Errorf("cpu: no nsbench-cpu binary given")
	}
	args := []string{d.CPUBin, "-particles", strconv.Itoa(d.ScaleWork(s.Particles)), "-mem", strconv.Itoa(s.MemMiB),
		"-seed", strconv.FormatUint(d.Seed, 10)}
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { outs[i], errs[i] = d.Env.Run(ctx, env.Job{Args: args, CPUs: d.CPUs, OwnCgroup: d.OwnCgroup}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return results.Sample{}, workload.WithOutput(err, bytes.Join(outs, []byte("\n")))
	}
	agg := results.Sample{Metrics: map[string]float64{}}
	var sum float64
	var sum0 string
	for i, out := range outs {
		one, err := s.Parse(out)
		if err != nil {
			return results.Sample{}, err
		}
		var r Report
		_ = json.Unmarshal(out, &r) // Parse decoded it already
		if i == 0 {
			sum0 = r.Checksum
		} else if r.Checksum != sum0 {
			return results.Sample{}, fmt.Errorf("job %d checksum %s differs from job 0's %s: the computation changed", i, r.Checksum, sum0)
		}
		sum += one.Value
		agg.Metrics["wall_max_s"] = max(agg.Metrics["wall_max_s"], one.Value)
		agg.Metrics["user_s"] += one.Metrics["user_s"] / float64(n)
		agg.Metrics["sys_s"] += one.Metrics["sys_s"] / float64(n)
		agg.Metrics["maxrss_mib"] = max(agg.Metrics["maxrss_mib"], one.Metrics["maxrss_mib"])
		agg.Raw = append(agg.Raw, one.Raw...)
	}
	agg.Metrics["wall_s"] = sum / float64(n)
	agg.Metrics["cpu_s"] = agg.Metrics["user_s"] + agg.Metrics["sys_s"]
	agg.Value = agg.Metrics["wall_s"]
	if s.Metric == "cpu_s" {
		agg.Value = agg.Metrics["cpu_s"]
	}
	return agg, nil
}

// Parse implements workload.Workload: one job's JSON report.
func (Sim) Parse(out []byte) (results.Sample, error) {
	var r Report
	if err := json.Unmarshal(out, &r); err != nil {
		return results.Sample{}, fmt.Errorf("parse nsbench-cpu output %.300q: %w", out, err)
	}
	if r.Checksum == "" || r.WallSeconds <= 0 {
		return results.Sample{}, fmt.Errorf("parse nsbench-cpu output %.300q: no checksum or wall time", out)
	}
	return results.Sample{Value: r.WallSeconds, Raw: []json.RawMessage{json.RawMessage(out)}, Metrics: map[string]float64{
		"user_s": r.UserSeconds, "sys_s": r.SysSeconds, "maxrss_mib": float64(r.MaxRSSKiB) / 1024}}, nil
}

// Sysbench is the "sysbench" workload: `sysbench cpu` (the external CPU
// workload) over 1…N threads; the sample is its events per second. In a
// container it runs from the host's /usr.
type Sysbench struct {
	Threads  []int `json:"threads"` // empty: 1…2×cores
	MaxPrime int   `json:"max_prime"`
	Events   int   `json:"events"`
	// TargetS calibrates Events so one native thread takes about this long.
	TargetS float64 `json:"target_s,omitempty"`
}

// Name implements workload.Workload.
func (Sysbench) Name() string { return "sysbench" }

// Unit implements workload.Workload.
func (Sysbench) Unit() string { return "events/s" }

// Axis implements workload.Workload.
func (Sysbench) Axis() string { return "threads" }

// Tools implements workload.Workload.
func (Sysbench) Tools() []workload.Tool {
	return []workload.Tool{{Name: "sysbench", Package: "sysbench", Path: "/usr/bin/sysbench"}}
}

// Validate implements workload.Workload.
func (s Sysbench) Validate() error {
	if s.MaxPrime < 1 || s.Events < 1 || s.TargetS < 0 {
		return fmt.Errorf("sysbench: max_prime and events must be >= 1, target_s >= 0")
	}
	return nil
}

// Size implements workload.Sizer.
func (s Sysbench) Size() (string, int, float64) { return "events", s.Events, s.TargetS }

// Resized implements workload.Sizer.
func (s Sysbench) Resized(n int) workload.Workload { s.Events = n; return &s }

// CalibrationPoint implements workload.Sizer.
func (Sysbench) CalibrationPoint() workload.Params { return workload.Params{"threads": "1"} }

// Seconds implements workload.Sizer.
func (Sysbench) Seconds(s results.Sample) float64 { return s.Metrics["total_s"] }

// Points implements workload.Workload.
func (s Sysbench) Points(cores int) []workload.Params {
	var ps []workload.Params
	for _, n := range workload.Ints(s.Threads, cores) {
		ps = append(ps, workload.Params{"threads": strconv.Itoa(n)})
	}
	return ps
}

// Run implements workload.Workload.
func (s Sysbench) Run(ctx context.Context, d workload.Deps, p workload.Params) (results.Sample, error) {
	n, _ := strconv.Atoi(p["threads"])
	job := SysbenchRun{Threads: n, MaxPrime: s.MaxPrime, Events: d.ScaleWork(s.Events)}
	if err := job.Validate(); err != nil {
		return results.Sample{}, err
	}
	bin, err := s.Tools()[0].Find()
	if err != nil {
		return results.Sample{}, err
	}
	out, err := d.Env.Run(ctx, env.Job{Args: append([]string{bin}, job.Args()...), CPUs: d.CPUs, OwnCgroup: d.OwnCgroup})
	if err != nil {
		return results.Sample{}, workload.WithOutput(err, out)
	}
	smp, err := s.Parse(out)
	if err != nil {
		return results.Sample{}, err
	}
	if ev := int(smp.Metrics["events"]); ev != job.Events {
		return results.Sample{}, fmt.Errorf("sysbench ran %d events, not the %d asked for", ev, job.Events)
	}
	return smp, nil
}

// Parse implements workload.Workload: sysbench 1.0 prints only text, kept
// whole as a JSON string.
func (Sysbench) Parse(out []byte) (results.Sample, error) {
	r, err := ParseSysbench(out)
	if err != nil {
		return results.Sample{}, err
	}
	raw, err := json.Marshal(string(out))
	if err != nil {
		return results.Sample{}, fmt.Errorf("encode sysbench output: %w", err)
	}
	return results.Sample{Value: r.EventsPerSec, Raw: []json.RawMessage{raw}, Metrics: map[string]float64{
		"total_s": r.TotalSeconds, "events": float64(r.Events), "lat_avg_ms": r.LatAvgMs, "lat_p95_ms": r.LatP95Ms,
		"lat_max_ms": r.LatMaxMs, "thread_events_stddev": r.ThreadEventsSD}}, nil
}
