package report

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/stats"
)

// KernelTable compares, for one workload, every environment on kernel
// Other with the same environment on kernel Base (the run's first kernel):
// seed 000's Figures 5, 7 and 8, hardened vs stock.
type KernelTable struct {
	Workload, Unit string
	Base, Other    string
	Emulated       bool
	Envs           []string
	Rows           []KernelRow
}

// KernelRow is one point: per environment the ratio Other/Base with its
// CI (nil when a side has too few samples) and each side's summary.
type KernelRow struct {
	Point, Label string
	Ratio        map[string]*stats.Ratio
	Base, Other  map[string]stats.Summary
}

// Title names the table.
func (t KernelTable) Title() string {
	s := fmt.Sprintf("%s: %s vs %s kernel", t.Workload, t.Other, t.Base)
	if t.Emulated {
		s += " " + EmulatedNote
	}
	return s
}

// KernelTables computes, for a kernel run, every kernel against the first,
// per workload, point and environment. Repetition r of two kernels ran in
// the same round of boots, so the comparison is paired by repetition.
func KernelTables(f *results.File) ([]KernelTable, error) {
	if f.VM == nil || len(f.VM.Kernels) < 2 {
		return nil, nil
	}
	base := f.VM.Kernels[0]
	var out []KernelTable
	for _, other := range f.VM.Kernels[1:] {
		byW := map[string]*KernelTable{}
		var order []string
		for i := range f.Cells {
			c := &f.Cells[i]
			if c.Kernel != other || len(c.Samples) == 0 {
				continue
			}
			b := findCell(f, c.Point, c.Env, base)
			if b == nil || len(b.Samples) == 0 {
				continue
			}
			t := byW[c.Workload]
			if t == nil {
				t = &KernelTable{Workload: c.Workload, Unit: c.Unit, Base: base, Other: other, Emulated: emulated(f)}
				byW[c.Workload] = t
				order = append(order, c.Workload)
			}
			if !slices.Contains(t.Envs, c.Env) {
				t.Envs = append(t.Envs, c.Env)
			}
			ri := slices.IndexFunc(t.Rows, func(r KernelRow) bool { return r.Point == c.Point })
			if ri < 0 {
				t.Rows = append(t.Rows, KernelRow{Point: c.Point, Label: strings.TrimPrefix(c.Point, c.Workload+" "),
					Ratio: map[string]*stats.Ratio{}, Base: map[string]stats.Summary{}, Other: map[string]stats.Summary{}})
				ri = len(t.Rows) - 1
			}
			r := &t.Rows[ri]
			var err error
			if r.Base[c.Env], err = stats.Summarize(b.Values()); err != nil {
				return nil, fmt.Errorf("summarise %s: %w", b.Key, err)
			}
			if r.Other[c.Env], err = stats.Summarize(c.Values()); err != nil {
				return nil, fmt.Errorf("summarise %s: %w", c.Key, err)
			}
			rt, err := compare(c, b)
			switch {
			case errors.Is(err, stats.ErrTooFew) || errors.Is(err, stats.ErrUnbounded):
				r.Ratio[c.Env] = nil
			case err != nil:
				return nil, fmt.Errorf("%s %s: %s vs %s: %w", c.Point, c.Env, other, base, err)
			default:
				r.Ratio[c.Env] = &rt
			}
		}
		slices.Sort(order)
		for _, w := range order {
			t := byW[w]
			slices.SortStableFunc(t.Envs, func(a, b string) int { return envRank(a) - envRank(b) })
			slices.SortFunc(t.Rows, func(a, b KernelRow) int { return comparePoints(a.Point, b.Point) })
			out = append(out, *t)
		}
	}
	return out, nil
}

// OptionDiff is one kernel configuration option whose value differs
// between the kernels of a run.
type OptionDiff struct {
	Option string
	Values []string // in the order of f.VM.Kernels
}

// KernelDifferences lists the configuration options, boot parameters and
// sysctls in which the run's kernels differ.
func KernelDifferences(f *results.File) (opts []OptionDiff, cmdline, sysctls []OptionDiff) {
	if f.VM == nil {
		return nil, nil, nil
	}
	ks := f.VM.Kernels
	diff := func(get func(results.Kernel) map[string]string) []OptionDiff {
		keys := map[string]bool{}
		for _, k := range ks {
			for o := range get(f.Kernels[k]) {
				keys[o] = true
			}
		}
		var out []OptionDiff
		for _, o := range sortedKeys(keys) {
			d := OptionDiff{Option: o}
			same := true
			for i, k := range ks {
				v, ok := get(f.Kernels[k])[o]
				if !ok {
					v = "–"
				}
				d.Values = append(d.Values, v)
				if i > 0 && v != d.Values[0] {
					same = false
				}
			}
			if !same {
				out = append(out, d)
			}
		}
		return out
	}
	opts = diff(func(k results.Kernel) map[string]string { return k.Options })
	cmdline = diff(func(k results.Kernel) map[string]string {
		m := map[string]string{}
		for _, p := range k.Cmdline {
			name, v, ok := strings.Cut(p, "=")
			if !ok {
				v = "(set)"
			}
			m[name] = v
		}
		return m
	})
	sysctls = diff(func(k results.Kernel) map[string]string { return k.Sysctls })
	return opts, cmdline, sysctls
}

// vmHeader says where and how a kernel run's samples were taken.
func vmHeader(f *results.File) string {
	v := f.VM
	var b strings.Builder
	accel := v.Accel
	if v.AccelNote != "" {
		accel += " (" + v.AccelNote + ")"
	}
	fmt.Fprintf(&b, "Samples taken in QEMU guests (%s, %d CPUs, %d MiB, accelerator %s", v.Arch, v.CPUs, v.MemoryMiB, accel)
	if v.GuestMachine != nil {
		fmt.Fprintf(&b, ", guest CPU %q", v.GuestMachine.CPU)
	}
	fmt.Fprintf(&b, "); scratch disk: %s.\n\n", v.Disk)
	if emulated(f) {
		b.WriteString("**Emulated (TCG): every number below is relative only.** QEMU translated the guest's instructions, so absolute times, IOPS and bandwidths say nothing about hardware; ratios between environments and kernels of this run are what the tables are for.\n\n")
	}
	b.WriteString("Kernels: ")
	for i, kv := range v.Kernels {
		k := f.Kernels[kv]
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %s (config %s)", kv, k.Version, k.ConfigHash)
	}
	fmt.Fprintf(&b, ". Design: %s.\n\n", v.Design)
	done, failed := 0, 0
	for _, bl := range v.Blocks {
		if bl.Done {
			done++
		} else {
			failed++
		}
	}
	fmt.Fprintf(&b, "Boots: %d finished", done)
	if failed > 0 {
		fmt.Fprintf(&b, ", %d did not finish (their samples up to the failure are kept)", failed)
	}
	b.WriteString(".\n\n")
	return b.String()
}

// KernelMarkdown renders the kernel comparison: how the kernels differ
// (listed once), then per workload each environment on every other kernel
// against the first.
func KernelMarkdown(f *results.File, tables []KernelTable) string {
	if f.VM == nil || len(f.VM.Kernels) < 2 {
		return ""
	}
	var b strings.Builder
	ks := f.VM.Kernels
	opts, cmdline, sysctls := KernelDifferences(f)
	fmt.Fprintf(&b, "### How the kernels differ\n\n")
	for _, part := range []struct {
		what string
		rows []OptionDiff
	}{{"configuration option", opts}, {"boot parameter", cmdline}, {"sysctl", sysctls}} {
		if len(part.rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |\n|---|%s\n", part.what, strings.Join(ks, " | "), strings.Repeat("---|", len(ks)))
		for _, r := range part.rows {
			fmt.Fprintf(&b, "| %s | %s |\n", r.Option, strings.Join(r.Values, " | "))
		}
		b.WriteString("\n")
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "### %s (difference to %s, 95 %% Fieller CI paired by repetition; \"≈\" = no significant difference)\n\n| point |", t.Title(), t.Base)
		for _, e := range t.Envs {
			fmt.Fprintf(&b, " %s |", e)
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(t.Envs)) + "\n")
		for _, r := range t.Rows {
			fmt.Fprintf(&b, "| %s |", r.Label)
			for _, e := range t.Envs {
				v, ok := r.Ratio[e]
				switch {
				case !ok:
					b.WriteString(" – |")
				case v == nil && min(r.Base[e].N, r.Other[e].N) < 2:
					b.WriteString(" n<2 |")
				case v == nil:
					// Fieller's set is unbounded: the base kernel's spread is
					// too wide for its mean to be told from zero.
					b.WriteString(" no CI (spread) |")
				default:
					mark := ""
					if !v.Significant {
						mark = " ≈"
					}
					fmt.Fprintf(&b, " %+.1f%% [%+.1f, %+.1f]%s n=%d |", v.PercentDiff(), (v.CI.Lo-1)*100, (v.CI.Hi-1)*100, mark, v.N)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// kernelPlots draws, per kernel table, each environment's difference on
// the other kernel to the base kernel side by side, point by point.
func kernelPlots(f *results.File, dir string) ([]Figure, error) {
	tables, err := KernelTables(f)
	if err != nil {
		return nil, err
	}
	var figs []Figure
	for i, t := range tables {
		ch := chart{title: t.Title() + " — % difference per environment (● significant)", xl: "point",
			yl: "% difference to " + t.Base, ratio: true}
		for _, r := range t.Rows {
			ch.xticks = append(ch.xticks, r.Label)
		}
		for _, e := range t.Envs {
			var ps []pt
			for x, r := range t.Rows {
				if v := r.Ratio[e]; v != nil {
					ps = append(ps, pt{x: float64(x), y: v.PercentDiff(), lo: (v.CI.Lo - 1) * 100, hi: (v.CI.Hi - 1) * 100, sig: v.Significant})
				}
			}
			if len(ps) > 0 {
				ch.ss = append(ch.ss, series{e, ps})
			}
		}
		if len(ch.ss) == 0 {
			continue
		}
		fig, err := ch.save(dir, fmt.Sprintf("kernel-%s-%s-%d", t.Workload, t.Other, i))
		if err != nil {
			return nil, err
		}
		fig.Table = t.Title()
		figs = append(figs, fig)
	}
	return figs, nil
}
