// Package report turns results files into the seed-style tables (average
// per point and environment; ratio to native with its Fieller CI, the
// smallest effect each cell could detect, and a significance verdict), a
// findings summary in sentences, the run's conditions (machine, load, noise,
// precision reached, failures), plots with CIs (PNG and SVG) and one
// self-contained HTML page.
package report

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/stats"
)

// Table is one workload's comparison (on one kernel, in a kernel run).
type Table struct {
	Workload string
	Unit     string
	// Kernel is the kernel variant the samples ran on (a kernel run; ""
	// otherwise); Emulated marks samples taken in a guest under TCG.
	Kernel   string
	Emulated bool
	Envs     []string // native first
	Rows     []Row
}

// Title names the table: the workload, its kernel, and the TCG warning.
func (t Table) Title() string {
	s := t.Workload
	if t.Kernel != "" {
		s += " on the " + t.Kernel + " kernel"
	}
	if t.Emulated {
		s += " " + EmulatedNote
	}
	return s
}

// EmulatedNote flags every number measured in a guest under TCG: QEMU
// emulated the CPU, so only ratios between environments and kernels of the
// same run mean something.
const EmulatedNote = "(TCG: emulated, relative only)"

// emulated tells whether f's samples ran in guests under TCG.
func emulated(f *results.File) bool { return f.VM != nil && f.VM.Accel != "kvm" }

// Row is one point of the matrix.
type Row struct {
	Point string
	Label string
	Cells map[string]Cell // by env
}

// Cell is one environment at one point.
type Cell struct {
	Summary stats.Summary
	VsNat   *stats.Ratio // nil for native or when native is missing
	Stopped string       // the precision goal missed, and why
	Failed  string       // the environment failed during the run
}

// HigherIsBetter tells how to read a unit: events/s, IOPS and Gbit/s are
// better higher, seconds (wall or CPU) lower.
func HigherIsBetter(unit string) bool { return unit != "s" && unit != "CPU s" }

// Build computes the tables: one per workload, and per kernel in a kernel
// run (samples of two kernels are never compared with native together).
func Build(f *results.File) ([]Table, error) {
	byWorkload := map[string]*Table{}
	var order []string
	for _, c := range f.Cells {
		if len(c.Samples) == 0 {
			continue
		}
		tk := c.Workload + "\x00" + c.Kernel
		t := byWorkload[tk]
		if t == nil {
			t = &Table{Workload: c.Workload, Unit: c.Unit, Kernel: c.Kernel, Emulated: emulated(f)}
			byWorkload[tk] = t
			order = append(order, tk)
		}
		if !slices.Contains(t.Envs, c.Env) {
			t.Envs = append(t.Envs, c.Env)
		}
		i := slices.IndexFunc(t.Rows, func(r Row) bool { return r.Point == c.Point })
		if i < 0 {
			t.Rows = append(t.Rows, Row{Point: c.Point, Label: strings.TrimPrefix(c.Point, c.Workload+" "), Cells: map[string]Cell{}})
			i = len(t.Rows) - 1
		}
		s, err := stats.Summarize(c.Values())
		if err != nil {
			return nil, fmt.Errorf("summarise %s: %w", c.Key, err)
		}
		t.Rows[i].Cells[c.Env] = Cell{Summary: s, Stopped: c.Stopped, Failed: c.Failed}
	}
	var out []Table
	slices.SortFunc(order, func(a, b string) int { return compareTableKeys(f, a, b) })
	for _, w := range order {
		t := byWorkload[w]
		slices.SortStableFunc(t.Envs, func(a, b string) int { return envRank(a) - envRank(b) })
		slices.SortFunc(t.Rows, func(a, b Row) int { return comparePoints(a.Point, b.Point) })
		for ri := range t.Rows {
			r := &t.Rows[ri]
			for _, e := range t.Envs {
				if e == "native" {
					continue
				}
				c, ok := r.Cells[e]
				_, okn := r.Cells["native"]
				if !ok || !okn {
					continue
				}
				cmp, err := compare(findCell(f, r.Point, e, t.Kernel), findCell(f, r.Point, "native", t.Kernel))
				if errors.Is(err, stats.ErrTooFew) || errors.Is(err, stats.ErrUnbounded) {
					continue // printed as "n<2" or "no CI"
				}
				if err != nil {
					return nil, fmt.Errorf("%s %s vs native: %w", r.Point, e, err)
				}
				c.VsNat = &cmp
				r.Cells[e] = c
			}
		}
		out = append(out, *t)
	}
	return out, nil
}

// compare is env's cell against native's: paired by repetition (the
// samples of one round) when at least two repetitions are in both, else
// unpaired.
func compare(env, native *results.Cell) (stats.Ratio, error) {
	x, y := results.Paired(env, native)
	if len(x) >= 2 {
		return stats.FiellerRatio(x, y, true, 0.95)
	}
	return stats.FiellerRatio(env.Values(), native.Values(), false, 0.95)
}

// compareTableKeys orders tables by workload, then by the kernel run's
// order of kernels.
func compareTableKeys(f *results.File, a, b string) int {
	wa, ka, _ := strings.Cut(a, "\x00")
	wb, kb, _ := strings.Cut(b, "\x00")
	if wa != wb {
		return strings.Compare(wa, wb)
	}
	return kernelRank(f, ka) - kernelRank(f, kb)
}

func kernelRank(f *results.File, k string) int {
	if f.VM != nil {
		if i := slices.Index(f.VM.Kernels, k); i >= 0 {
			return i
		}
	}
	return 1 << 20
}

var envOrder = []string{"native", "nsrun", "runc", "crun", "docker", "podman"}

func envRank(e string) int {
	if i := slices.Index(envOrder, e); i >= 0 {
		return i
	}
	return len(envOrder)
}

// comparePoints orders numbers numerically ("jobs=10" after "jobs=9").
func comparePoints(a, b string) int {
	fa, fb := strings.Fields(a), strings.Fields(b)
	for i := 0; i < len(fa) && i < len(fb); i++ {
		if fa[i] == fb[i] {
			continue
		}
		ka, va, _ := strings.Cut(fa[i], "=")
		kb, vb, _ := strings.Cut(fb[i], "=")
		var na, nb int
		if ka == kb {
			if _, err := fmt.Sscan(va, &na); err == nil {
				if _, err := fmt.Sscan(vb, &nb); err == nil && na != nb {
					return na - nb
				}
			}
		}
		return strings.Compare(fa[i], fb[i])
	}
	return len(fa) - len(fb)
}

// Markdown renders the tables as the seed prints them: one table of
// averages (mean ± stddev) and one of differences vs native.
func Markdown(f *results.File, tables []Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s, %d cores, kernel %s; config %s.\n\n", f.Machine.CPU, f.Machine.Cores, f.Machine.Kernel, f.Config)
	if f.VM != nil {
		b.WriteString(vmHeader(f))
	}
	cond := RunConditions(f, tables)
	if cond.Precision != "" {
		fmt.Fprintf(&b, "Precision %s.\n\n", cond.Precision)
	}
	if fs := Findings(tables); len(fs) > 0 {
		b.WriteString("Significant differences:\n\n")
		for _, x := range fs {
			fmt.Fprintf(&b, "- %s\n", x.Sentence)
		}
		b.WriteString("\n")
	} else {
		b.WriteString("No significant difference between any environment and native.\n\n")
	}
	for _, t := range tables {
		n := 0
		for _, r := range t.Rows {
			for _, c := range r.Cells {
				n = max(n, c.Summary.N)
			}
		}
		fmt.Fprintf(&b, "### %s: mean %s (± stddev), n=%d per cell\n\n", t.Title(), t.Unit, n)
		b.WriteString("| point |")
		for _, e := range t.Envs {
			fmt.Fprintf(&b, " %s |", e)
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(t.Envs)) + "\n")
		for _, r := range t.Rows {
			fmt.Fprintf(&b, "| %s |", r.Label)
			for _, e := range t.Envs {
				if c, ok := r.Cells[e]; ok {
					fmt.Fprintf(&b, " %s ± %s |", num(c.Summary.Mean), num(c.Summary.StdDev))
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
		others := t.Envs[1:]
		if len(t.Envs) == 0 || t.Envs[0] != "native" || len(others) == 0 {
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "\n### %s: difference vs native (95 %% Fieller CI, paired by repetition; \"≈\" = no significant difference; ≥x%% = the smallest effect this cell could detect)\n\n| point |", t.Title())
		for _, e := range others {
			fmt.Fprintf(&b, " %s |", e)
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(others)) + "\n")
		for _, r := range t.Rows {
			fmt.Fprintf(&b, "| %s |", r.Label)
			for _, e := range others {
				c, ok := r.Cells[e]
				if !ok {
					b.WriteString(" – |")
					continue
				}
				if c.VsNat == nil {
					if c.Summary.N < 2 {
						b.WriteString(" n<2 |")
					} else {
						// Fieller's set is unbounded: native's own spread is too
						// wide for its mean to be told from zero
						b.WriteString(" no CI (spread) |")
					}
					continue
				}
				v := c.VsNat
				mark := ""
				if !v.Significant {
					mark = " ≈"
				}
				fmt.Fprintf(&b, " %+.1f%% [%+.1f, %+.1f]%s n=%d, ≥%.1f%% |", v.PercentDiff(), (v.CI.Lo-1)*100, (v.CI.Hi-1)*100, mark, v.N, v.MDE*100)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if f.VM != nil {
		kt, err := KernelTables(f)
		if err == nil {
			b.WriteString(KernelMarkdown(f, kt))
		} else {
			fmt.Fprintf(&b, "Kernel comparison: %v\n\n", err)
		}
	}
	for _, e := range sortedKeys(f.Failed) {
		fl := f.Failed[e]
		fmt.Fprintf(&b, "FAILED %s at %s repetition %d (%s): %s\n\n", e, fl.Cell, fl.Rep, fl.Time.Format("15:04:05"), fl.Error)
	}
	if len(cond.Missed) > 0 {
		b.WriteString("Cells short of the precision goal:\n\n")
		for _, m := range cond.Missed {
			fmt.Fprintf(&b, "- %s\n", m)
		}
		b.WriteString("\n")
	}
	if len(f.Skipped) > 0 {
		b.WriteString("Skipped environments:\n\n")
		keys := make([]string, 0, len(f.Skipped))
		for k := range f.Skipped {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "- %s: %s\n", k, f.Skipped[k])
		}
	}
	return b.String()
}

func num(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
