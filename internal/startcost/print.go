package startcost

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Print writes the tables people read: per row the median wall and CPU
// time with their 95 % intervals, nsrun against each other runtime round
// by round, the wrapper's own cost and nsrun's phases.
func Print(w io.Writer, r *Result) {
	fmt.Fprintf(w, "`run` of /bin/true from one busybox bundle, %d rounds, runtimes interleaved (balanced order)\n", r.Rounds)
	if r.Setup != "" {
		fmt.Fprintf(w, "conditions: %s\n", r.Setup)
	}
	if r.GapMS > 0 {
		fmt.Fprintf(w, "every run started after a %.0f ms pause (a quiet host; -gap 0: back to back)\n", r.GapMS)
	} else {
		fmt.Fprintln(w, "runs back to back (no pause between them)")
	}
	fmt.Fprintf(w, "load average before %s, after %s\n\n", r.Load[0], r.Load[1])
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\truns\twall median\t95% CI\tp10\tp90\tCPU median\t95% CI\tctx sw\tversion\t")
	for _, row := range r.Rows {
		s := row.Stat
		if s.Wall == nil {
			fmt.Fprintf(tw, "%s\t0\t-\t-\t-\t-\t-\t-\t-\t%s\t\n", row.Name, row.Version)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t\n", row.Name, s.N, ms(s.Wall.Median), ci(*s.Wall), ms(s.Wall.P10), ms(s.Wall.P90),
			ms(s.CPU.Median), ci(*s.CPU), s.CSW, row.Version)
	}
	tw.Flush()
	for _, row := range r.Rows {
		if row.Err != "" {
			fmt.Fprintf(w, "%s stopped: %s\n", row.Name, row.Err)
		}
	}
	if len(r.Diffs) > 0 {
		fmt.Fprintln(w, "\npaired by round (median of the per-round differences, 95 % CI; negative: nsrun is faster):")
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tpairs\twall\t95% CI\tCPU\t95% CI\t")
		for _, d := range r.Diffs {
			fmt.Fprintf(tw, "%s - %s\t%d\t%s\t%s\t%s\t%s\t\n", d.A, d.B, d.N, ms(d.Wall.Median), ci(d.Wall), ms(d.CPU.Median), ci(d.CPU))
		}
		tw.Flush()
	}
	if len(r.Steps) > 0 {
		fmt.Fprintln(w, "\nwhat each build of nsrun changed, against the one before it (paired by round; negative: faster):")
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tpairs\twall\t95% CI\tCPU\t95% CI\t")
		for _, d := range r.Steps {
			fmt.Fprintf(tw, "%s - %s\t%d\t%s\t%s\t%s\t%s\t\n", d.A, d.B, d.N, ms(d.Wall.Median), ci(d.Wall), ms(d.CPU.Median), ci(d.CPU))
		}
		tw.Flush()
	}
	if d := r.Wrapper; d != nil {
		fmt.Fprintf(w, "\nthe per-call wrapper's own cost (unshare, sh, mount, umount, exec; paired with /bin/true alone): wall %s %s, CPU %s %s\n",
			ms(d.Wall.Median), ci(d.Wall), ms(d.CPU.Median), ci(d.CPU))
	}
	if len(r.Phases) > 0 {
		fmt.Fprintf(w, "\nwhere nsrun's time goes (traced runs; the time until each point, nsrun and its init on one clock; total median %s; CPU: of the process that passed the point, since its previous one):\n", ms(r.TracedTotal))
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "phase\twall median\tp10\tp90\tCPU median\t")
		for _, p := range r.Phases {
			c := "-"
			if p.CPU != nil {
				c = ms(p.CPU.Median)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", p.Label, ms(p.MS.Median), ms(p.MS.P10), ms(p.MS.P90), c)
		}
		tw.Flush()
	}
}

func ms(v float64) string { return fmt.Sprintf("%.2f ms", v) }

func ci(e Estimate) string {
	return fmt.Sprintf("[%.2f, %.2f]", e.CI.Lo, e.CI.Hi)
}
