package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/stats"
)

// Finding is one significant difference, said in a sentence.
type Finding struct {
	Workload, Point, Env string
	Percent              float64 // (ratio-1)·100
	Worse                bool    // in the direction that costs
	Sentence             string
}

// Findings lists the significant differences, the largest first, in
// sentences with their CIs.
func Findings(tables []Table) []Finding {
	var out []Finding
	for _, t := range tables {
		for _, r := range t.Rows {
			for _, e := range t.Envs {
				c, ok := r.Cells[e]
				if !ok || c.VsNat == nil || !c.VsNat.Significant {
					continue
				}
				v := c.VsNat
				pct := v.PercentDiff()
				worse := (pct > 0) != HigherIsBetter(t.Unit)
				var what string
				switch {
				case t.Unit == "CPU s" && pct > 0:
					what = "uses %.1f %% more CPU time than"
				case t.Unit == "CPU s":
					what = "uses %.1f %% less CPU time than"
				case t.Unit == "s" && pct > 0:
					what = "takes %.1f %% longer than"
				case t.Unit == "s":
					what = "takes %.1f %% less time than"
				case pct > 0:
					what = "reaches %.1f %% more " + t.Unit + " than"
				default:
					what = "reaches %.1f %% less " + t.Unit + " than"
				}
				who := e
				if t.Kernel != "" {
					who += " on " + t.Kernel
				}
				sent := fmt.Sprintf("%s, %s: %s %s native (95 %% CI %+.1f %% to %+.1f %%, n=%d).", who, strings.TrimPrefix(r.Point, t.Workload+" "),
					t.Workload, fmt.Sprintf(what, math.Abs(pct)), (v.CI.Lo-1)*100, (v.CI.Hi-1)*100, v.N)
				out = append(out, Finding{Workload: t.Workload, Point: r.Point, Env: e, Percent: pct, Worse: worse, Sentence: sent})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return cmp.Compare(math.Abs(b.Percent), math.Abs(a.Percent)) })
	return out
}

// Conditions is how the run went, for the reader to judge its numbers.
type Conditions struct {
	Machine  string
	Runtimes []string // "nsrun: nsrun version 0.1.0"
	Samples  int
	Span     string // first to last sample
	// Load1, Busy, Others, Steal, PSI: median and max over the samples.
	Load1, Busy, OthersShare, Steal, PSI [2]float64
	TopOthers                            []string // processes that ran beside the run most often
	Precision                            string   // asked and reached
	Missed                               []string // cells that did not reach it, and why
	Pinning, Quiet                       string
	Calibration                          []string
	// MDE: the median and largest smallest-detectable effect over the cells
	// compared with native, in percent.
	MDE [2]float64
}

func medMax(xs []float64) [2]float64 {
	if len(xs) == 0 {
		return [2]float64{}
	}
	return [2]float64{stats.Median(xs), slices.Max(xs)}
}

// RunConditions reads the conditions from the file and the tables.
func RunConditions(f *results.File, tables []Table) Conditions {
	c := Conditions{Machine: fmt.Sprintf("%s, %d cores, kernel %s, %s, host %s", f.Machine.CPU, f.Machine.Cores, f.Machine.Kernel, f.Machine.GoVersion, f.Machine.Hostname)}
	for _, e := range sortedEnvs(f.Runtimes) {
		if v := f.Runtimes[e]; v != "" {
			c.Runtimes = append(c.Runtimes, e+": "+v)
		}
	}
	var load, busy, others, steal, psi []float64
	var first, last time.Time
	names := map[string]int{}
	for _, cell := range f.Cells {
		for _, s := range cell.Samples {
			c.Samples++
			if !s.Start.IsZero() {
				if first.IsZero() || s.Start.Before(first) {
					first = s.Start
				}
				if s.Start.After(last) {
					last = s.Start
				}
			}
			n := s.Noise
			if n == nil {
				continue
			}
			load = append(load, n.Load1)
			busy = append(busy, n.Busy*100)
			steal = append(steal, n.Steal*100)
			psi = append(psi, n.PSICPUSome10)
			if n.WallS > 0 && f.Machine.Cores > 0 {
				others = append(others, n.OthersCPUS/n.WallS/float64(f.Machine.Cores)*100)
			}
			for _, o := range n.Others {
				name, _, _ := strings.Cut(o, "[")
				names[name]++
			}
		}
	}
	if !first.IsZero() {
		c.Span = fmt.Sprintf("%s to %s UTC", first.Format("2006-01-02 15:04"), last.Format("15:04"))
	}
	c.Load1, c.Busy, c.OthersShare, c.Steal, c.PSI = medMax(load), medMax(busy), medMax(others), medMax(steal), medMax(psi)
	type kv struct {
		k string
		v int
	}
	var top []kv
	for k, v := range names {
		top = append(top, kv{k, v})
	}
	slices.SortFunc(top, func(a, b kv) int { return cmp.Or(cmp.Compare(b.v, a.v), strings.Compare(a.k, b.k)) })
	for _, t := range top[:min(6, len(top))] {
		c.TopOthers = append(c.TopOthers, fmt.Sprintf("%s (%d samples)", t.k, t.v))
	}
	if p := f.Precision; p != nil {
		scope := "every workload"
		if len(p.Workloads) > 0 {
			scope = strings.Join(p.Workloads, ", ")
		}
		c.Precision = fmt.Sprintf("asked: 95 %% CI half-width of every env/native ratio ≤ ±%.1f %% (%s), %d to %d repetitions, %g min budget beyond the minimum, %d warm-up run(s) per cell discarded; outcome: %s after %s (%s of it beyond the minimum)",
			p.HalfWidth*100, scope, p.MinRepetitions, p.MaxRepetitions, p.MaxMinutes, p.Warmups, p.Stop, (time.Duration(p.ElapsedS) * time.Second).String(), (time.Duration(p.AdaptiveS) * time.Second).String())
	}
	for _, cell := range f.Cells {
		if cell.Stopped != "" {
			c.Missed = append(c.Missed, cell.Key+": "+cell.Stopped)
		}
	}
	slices.Sort(c.Missed)
	c.Pinning = "none (jobs float over all CPUs)"
	c.Quiet = "off"
	if k := f.Conditions; k != nil {
		if k.CPUs != "" {
			c.Pinning = "every job pinned to CPUs " + k.CPUs + " (native by affinity, containers by cpuset)"
		}
		if k.NativeCgroup {
			c.Pinning += "; native jobs each in a CPU cgroup of their own, as runc and crun run containers"
		}
		if k.Quiet > 0 {
			c.Quiet = fmt.Sprintf("waited before each round for others' CPU use ≤ %.0f %%: %d rounds, %.0f s waited, %d started without it", k.Quiet*100, k.QuietRounds, k.QuietWaitS, k.QuietMissed)
		}
	}
	for _, w := range sortedKeys(f.Calibration) {
		cal := f.Calibration[w]
		c.Calibration = append(c.Calibration, fmt.Sprintf("%s: %s=%d for a %.2g s native job (measured %.2f s)", w, cal.Param, cal.Value, cal.TargetS, cal.MeasuredS))
	}
	var mdes []float64
	for _, t := range tables {
		for _, r := range t.Rows {
			for _, cell := range r.Cells {
				if cell.VsNat != nil {
					mdes = append(mdes, cell.VsNat.MDE*100)
				}
			}
		}
	}
	c.MDE = medMax(mdes)
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
