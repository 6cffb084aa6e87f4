package report

// This file is over 500 lines because every figure goes through one chart
// type (error bars, integer ticks, PNG and SVG) and the grouping that turns
// a table's rows into series; split, the two would have to share their
// private types.

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/stats"
)

// Figure is one plot written as PNG and SVG.
type Figure struct {
	Title string
	PNG   string
	SVG   string
	// Table is the Title of the table the figure belongs with.
	Table string
}

// pt is one point of a series with its 95 % CI.
type pt struct {
	x, y, lo, hi float64
	sig          bool // a ratio point whose CI excludes no difference
}

type series struct {
	env string
	pts []pt
}

// chart is a plot with CI error bars, the legend beside it rather than on
// the data, and an axis of integer ticks where the x values are counts.
type chart struct {
	title, xl, yl string
	ss            []series
	// xticks labels categorical positions 0..n-1 (fio-plot's bar groups);
	// nil: x is numeric, ticked at the integers present.
	xticks []string
	bars   bool // grouped bars instead of lines
	ratio  bool // y is a percent difference: a zero line, at least ±5 %
}

func (ch chart) plot() (*plot.Plot, *plot.Legend, error) {
	p := plot.New()
	p.Title.Text = ch.title
	p.X.Label.Text = ch.xl
	p.Y.Label.Text = ch.yl
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	var xs []float64
	lo, hi := math.Inf(1), math.Inf(-1)
	nb := len(ch.ss)
	for i, s := range ch.ss {
		slices.SortFunc(s.pts, func(a, b pt) int { return int(math.Copysign(1, a.x-b.x)) })
		xy := make(plotter.XYs, len(s.pts))
		errs := make(plotter.YErrors, len(s.pts))
		for j, q := range s.pts {
			x := q.x
			switch {
			case ch.bars:
				// bars of one group side by side around the category
				x += (float64(i) - float64(nb-1)/2) * 0.8 / float64(nb)
			case len(ch.xticks) > 0 || ch.ratio:
				// dodge: the environments' error bars must not hide each other
				x += (float64(i) - float64(nb-1)/2) * 0.25 / float64(nb)
			}
			xy[j] = plotter.XY{X: x, Y: q.y}
			errs[j] = struct{ Low, High float64 }{q.y - q.lo, q.hi - q.y}
			xs = append(xs, q.x)
			lo, hi = min(lo, q.lo), max(hi, q.hi)
		}
		col := plotutil.Color(i)
		if ch.bars {
			vals := make(plotter.Values, len(s.pts))
			for j, q := range s.pts {
				vals[j] = q.y
			}
			b, err := plotter.NewBarChart(vals, vg.Points(math.Max(2, 150/float64(nb*max(len(s.pts), 1)))))
			if err != nil {
				return nil, nil, fmt.Errorf("plot %s: %w", ch.title, err)
			}
			b.Color, b.LineStyle.Width = col, 0
			// a bar chart places its bars at XMin+0..n-1: this series' slot
			b.XMin = (float64(i) - float64(nb-1)/2) * 0.8 / float64(nb)
			p.Add(b)
			leg.Add(s.env, b)
		} else {
			l, sc, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, nil, fmt.Errorf("plot %s: %w", ch.title, err)
			}
			l.Color, sc.Color, sc.Shape = col, col, plotutil.Shape(i)
			l.Width = vg.Points(1.5)
			if len(ch.xticks) > 0 {
				// categories (topologies, fio locations): no line between them
				p.Add(sc)
				leg.Add(s.env, sc)
			} else {
				p.Add(l, sc)
				leg.Add(s.env, l, sc)
			}
			// large filled dots mark the significant points of a ratio plot
			if ch.ratio {
				var sigXY plotter.XYs
				for j, q := range s.pts {
					if q.sig {
						sigXY = append(sigXY, xy[j])
					}
				}
				if len(sigXY) > 0 {
					big, err := plotter.NewScatter(sigXY)
					if err == nil {
						big.Color, big.Shape, big.Radius = col, draw.CircleGlyph{}, vg.Points(4)
						p.Add(big)
					}
				}
			}
		}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xy, errs})
		if err != nil {
			return nil, nil, fmt.Errorf("plot %s: %w", ch.title, err)
		}
		eb.Color = col
		if ch.bars {
			eb.Color = color.Black
		}
		eb.Width = vg.Points(1.2)
		p.Add(eb)
	}
	if ch.ratio {
		zero := plotter.NewFunction(func(float64) float64 { return 0 })
		zero.Color, zero.Dashes = color.Gray{Y: 100}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(zero)
		// a few-percent "≈" must not look like the picture's main feature
		p.Y.Min, p.Y.Max = math.Min(lo, -5), math.Max(hi, 5)
	} else {
		// absolute values (times, rates): from zero, no truncated axis
		p.Y.Min, p.Y.Max = 0, hi*1.05
	}
	if len(ch.xticks) > 0 {
		p.X.Tick.Marker = labels(ch.xticks)
		p.X.Min, p.X.Max = -0.6, float64(len(ch.xticks))-0.4
	} else if ints(xs) {
		p.X.Tick.Marker = integerTicks(xs)
		p.X.Min, p.X.Max = slices.Min(xs)-0.3, slices.Max(xs)+0.3
	}
	return p, &leg, nil
}

// labels ticks categorical positions.
type labels []string

// Ticks implements plot.Ticker.
func (l labels) Ticks(_, _ float64) []plot.Tick {
	t := make([]plot.Tick, len(l))
	for i, s := range l {
		// one parameter a line: long categories must not run into each other
		t[i] = plot.Tick{Value: float64(i), Label: strings.ReplaceAll(s, " ", "\n")}
	}
	return t
}

// integerTicks ticks a count axis at its values only: no "1.5 jobs".
type integerTicks []float64

// Ticks implements plot.Ticker.
func (xs integerTicks) Ticks(_, _ float64) []plot.Tick {
	u := slices.Clone([]float64(xs))
	slices.Sort(u)
	u = slices.Compact(u)
	t := make([]plot.Tick, len(u))
	for i, x := range u {
		t[i] = plot.Tick{Value: x, Label: strconv.Itoa(int(x))}
	}
	return t
}

func ints(xs []float64) bool {
	if len(xs) == 0 {
		return false
	}
	for _, x := range xs {
		if x != math.Trunc(x) {
			return false
		}
	}
	return true
}

const legendW = 1.5 * vg.Inch

// save draws the plot with the legend in a strip to its right.
func (ch chart) save(dir, name string) (Figure, error) {
	p, leg, err := ch.plot()
	if err != nil {
		return Figure{}, err
	}
	fig := Figure{Title: ch.title, PNG: filepath.Join(dir, name+".png"), SVG: filepath.Join(dir, name+".svg")}
	w, h := 7.5*vg.Inch, 4.2*vg.Inch
	draw1 := func(c vg.CanvasSizer) {
		dc := draw.New(c)
		p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
		leg.Draw(draw.Crop(dc, w-legendW+vg.Points(8), 0, 0, -vg.Points(24)))
	}
	png := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	draw1(png)
	svg := vgsvg.New(w, h)
	draw1(svg)
	if err := writeTo(fig.PNG, vgimg.PngCanvas{Canvas: png}); err != nil {
		return Figure{}, err
	}
	if err := writeTo(fig.SVG, svg); err != nil {
		return Figure{}, err
	}
	return fig, nil
}

func writeTo(path string, c interface {
	WriteTo(w io.Writer) (int64, error)
}) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save plot %s: %w", path, err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("save plot %s: %w", path, err)
	}
	return f.Close()
}

// xParams are the count parameters plotted along x, per workload.
var xParams = map[string][]string{"cpu": {"jobs"}, "sysbench": {"threads"}, "fs": {"iodepth", "numjobs"}}

// Plots writes the figures into dir: for cpu and sysbench the mean against
// concurrency and the ratio to native, both with 95 % CIs; for fio, as
// fio-plot draws them, IOPS bars and p99 latency by iodepth and by numjobs
// with CIs, and the IOPS ratio to native; for iperf3 the ratio to native
// per point and the throughput over the test's time, the mean of the
// repetitions per interval with its CI.
func Plots(f *results.File, tables []Table, dir string) ([]Figure, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// Figures of an earlier report into the same directory (more points,
	// other workloads) would otherwise sit beside this one's as if current.
	for _, ext := range []string{"*.png", "*.svg"} {
		old, _ := filepath.Glob(filepath.Join(dir, ext))
		for _, o := range old {
			if err := os.Remove(o); err != nil {
				return nil, fmt.Errorf("remove old figure %s: %w", o, err)
			}
		}
	}
	var figs []Figure
	var table string // the Title of the table being plotted
	add := func(ch chart, name string) error {
		if len(ch.ss) == 0 {
			return nil
		}
		fig, err := ch.save(dir, name)
		if err == nil {
			fig.Table = table
			figs = append(figs, fig)
		}
		return err
	}
	for _, t := range tables {
		table = t.Title()
		prefix := t.Workload
		if t.Kernel != "" {
			prefix += "-" + t.Kernel
		}
		groups, order := groupRows(t)
		for gi, gk := range order {
			g := groups[gk]
			name := fmt.Sprintf("%s-%d", prefix, gi)
			title := t.Title()
			if g.rest != "" {
				title += ": " + g.rest
			}
			var abs, rat []series
			for _, e := range t.Envs {
				var a, r []pt
				for i, row := range g.rows {
					c, ok := row.Cells[e]
					if !ok {
						continue
					}
					x := g.xs[i]
					if g.categorical {
						x = float64(i)
					}
					// a mean of times or rates is not negative, whatever a t interval of
					// two samples says
					a = append(a, pt{x: x, y: c.Summary.Mean, lo: max(c.Summary.CI.Lo, 0), hi: c.Summary.CI.Hi})
					if v := c.VsNat; v != nil {
						r = append(r, pt{x: x, y: v.PercentDiff(), lo: (v.CI.Lo - 1) * 100, hi: (v.CI.Hi - 1) * 100, sig: v.Significant})
					}
				}
				if len(a) > 0 {
					abs = append(abs, series{e, a})
				}
				if len(r) > 0 {
					rat = append(rat, series{e, r})
				}
			}
			var ticks []string
			if g.categorical {
				ticks = g.labels
			}
			xl := g.x
			if xl == "" {
				xl = "point"
			}
			if err := add(chart{title: title + " — mean, 95 % CI", xl: xl, yl: t.Unit, ss: abs, xticks: ticks, bars: t.Workload == "fs"}, name+"-abs"); err != nil {
				return nil, err
			}
			if err := add(chart{title: title + " — vs native (● significant)", xl: xl, yl: "% difference to native", ss: rat, xticks: ticks, ratio: true}, name+"-ratio"); err != nil {
				return nil, err
			}
			if t.Workload == "fs" {
				if err := add(latencyChart(f, t, g, title), name+"-p99"); err != nil {
					return nil, err
				}
			}
		}
		if t.Workload == "net" {
			for i, row := range t.Rows {
				if err := add(netSeries(f, t, row), fmt.Sprintf("%s-time-%d", prefix, i)); err != nil {
					return nil, err
				}
			}
		}
	}
	kfigs, err := kernelPlots(f, dir)
	if err != nil {
		return nil, err
	}
	return append(figs, kfigs...), nil
}

// group is the rows of a table that differ only in the x parameter.
type group struct {
	x           string // the parameter along x; "" for none (one category per row)
	rest        string // the other parameters
	rows        []Row
	xs          []float64
	labels      []string
	categorical bool // bars at 0..n-1 labelled by labels
}

// groupRows groups a table's rows for plotting: by every parameter but the
// workload's x parameter; fio's rows once by iodepth and once by numjobs.
// A workload without an x parameter (net) is one group of categories.
func groupRows(t Table) (map[string]*group, []string) {
	groups := map[string]*group{}
	var order []string
	for _, xp := range append(xParams[t.Workload], "") {
		for _, r := range t.Rows {
			params := map[string]string{}
			for _, f := range strings.Fields(r.Label) {
				k, v, _ := strings.Cut(f, "=")
				params[k] = v
			}
			var rest []string
			var x float64
			label := r.Label
			if xp != "" {
				v, ok := params[xp]
				if !ok {
					continue
				}
				xv, err := strconv.ParseFloat(v, 64)
				if err != nil {
					continue
				}
				x, label = xv, v
				for k, v := range params {
					if k != xp {
						rest = append(rest, k+"="+v)
					}
				}
				slices.Sort(rest)
			} else if len(xParams[t.Workload]) > 0 {
				continue
			}
			gk := xp + "|" + strings.Join(rest, " ")
			g := groups[gk]
			if g == nil {
				g = &group{x: xp, rest: strings.Join(rest, " "), categorical: t.Workload == "fs" || xp == ""}
				groups[gk] = g
				order = append(order, gk)
			}
			g.rows = append(g.rows, r)
			g.xs = append(g.xs, x)
			g.labels = append(g.labels, label)
		}
	}
	// categories without an x parameter are told apart by what differs
	for _, g := range groups {
		if g.x == "" && len(g.rows) > 1 {
			g.labels = distinctLabels(g.rows)
		}
	}
	// fio: a group of one iodepth (or numjobs) says nothing a bar in the other
	// group does not. When no sweep has two values, every row is one bar group,
	// labelled by what differs between the rows.
	if t.Workload == "fs" {
		var keep []string
		for _, k := range order {
			if len(groups[k].rows) > 1 {
				keep = append(keep, k)
			}
		}
		if len(keep) == 0 {
			g := &group{categorical: true, rows: t.Rows}
			for _, l := range distinctLabels(t.Rows) {
				g.labels = append(g.labels, l)
				g.xs = append(g.xs, 0)
			}
			groups = map[string]*group{"all": g}
			keep = []string{"all"}
		}
		order = keep
	}
	return groups, order
}

// distinctLabels are the rows' labels without the parameters every row
// shares ("on=bind rw=write" rather than the whole point).
func distinctLabels(rows []Row) []string {
	count := map[string]int{}
	for _, r := range rows {
		for _, f := range strings.Fields(r.Label) {
			count[f]++
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		var keep []string
		for _, f := range strings.Fields(r.Label) {
			if count[f] < len(rows) {
				keep = append(keep, f)
			}
		}
		out[i] = strings.Join(keep, " ")
	}
	return out
}

// latencyChart is fio's p99 completion latency per group, mean of the
// repetitions with its CI.
func latencyChart(f *results.File, t Table, g *group, title string) chart {
	ch := chart{title: title + " — p99 latency, 95 % CI", xl: g.x, yl: "µs", xticks: g.labels}
	for _, e := range t.Envs {
		var ps []pt
		for i, row := range g.rows {
			c := findCell(f, row.Point, e, t.Kernel)
			if c == nil {
				continue
			}
			var v []float64
			for _, s := range c.Samples {
				v = append(v, s.Metrics["lat_p99_us"])
			}
			ci, err := stats.MeanCI(v, 0.95)
			if err != nil {
				continue
			}
			ps = append(ps, pt{x: float64(i), y: stats.Mean(v), lo: ci.Lo, hi: ci.Hi})
		}
		if len(ps) > 0 {
			ch.ss = append(ch.ss, series{e, ps})
		}
	}
	return ch
}

// netSeries is iperf3's throughput over the test, per interval the mean
// over the repetitions with its CI.
func netSeries(f *results.File, t Table, row Row) chart {
	title := "iperf3 throughput over time: " + row.Label
	if t.Kernel != "" || t.Emulated {
		title += " — " + strings.TrimPrefix(t.Title(), t.Workload+" ")
	}
	ch := chart{title: title, xl: "time (s)", yl: "Gbit/s"}
	for _, e := range t.Envs {
		c := findCell(f, row.Point, e, t.Kernel)
		if c == nil {
			continue
		}
		byT := map[float64][]float64{}
		for _, s := range c.Samples {
			for _, tp := range s.Series {
				byT[tp.T] = append(byT[tp.T], tp.Values["gbps"])
			}
		}
		var ps []pt
		for tt, v := range byT {
			m := stats.Mean(v)
			ci, err := stats.MeanCI(v, 0.95)
			if err != nil {
				continue
			}
			ps = append(ps, pt{x: tt, y: m, lo: ci.Lo, hi: ci.Hi})
		}
		if len(ps) > 0 {
			ch.ss = append(ch.ss, series{e, ps})
		}
	}
	return ch
}

func findCell(f *results.File, point, env, kernel string) *results.Cell {
	for i := range f.Cells {
		if f.Cells[i].Point == point && f.Cells[i].Env == env && f.Cells[i].Kernel == kernel {
			return &f.Cells[i]
		}
	}
	return nil
}

func sortedEnvs[V any](m map[string]V) []string {
	var envs []string
	for e := range m {
		envs = append(envs, e)
	}
	slices.SortFunc(envs, func(a, b string) int {
		if d := envRank(a) - envRank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return envs
}
