package report

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/stats"
)

// Figure is one plot written as PNG and SVG.
type Figure struct {
	Title string
	PNG   string
	SVG   string
}

type series struct {
	env string
	xy  plotter.XYs
}

func lineChart(title, xl, yl string, ss []series, dir, name string) (Figure, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xl
	p.Y.Label.Text = yl
	p.Legend.Top = true
	var args []any
	for _, s := range ss {
		slices.SortFunc(s.xy, func(a, b plotter.XY) int {
			switch {
			case a.X < b.X:
				return -1
			case a.X > b.X:
				return 1
			}
			return 0
		})
		args = append(args, s.env, s.xy)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return Figure{}, fmt.Errorf("plot %s: %w", title, err)
	}
	fig := Figure{Title: title, PNG: filepath.Join(dir, name+".png"), SVG: filepath.Join(dir, name+".svg")}
	for _, path := range []string{fig.PNG, fig.SVG} {
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
			return Figure{}, fmt.Errorf("save plot %s: %w", path, err)
		}
	}
	return fig, nil
}

// Plots writes the figures into dir: CPU runtime vs concurrency, sysbench
// events/s vs threads, fio IOPS
// and p99 latency vs iodepth, iperf3 throughput/RTT/retransmits over time.
func Plots(f *results.File, dir string) ([]Figure, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	// Figures of an earlier report into the same directory (more points,
	// other workloads) would otherwise sit beside this one's as if current.
	for _, pat := range []string{"cpu-runtime", "sysbench-events", "fs-iops-*", "fs-p99-*", "net-*-*"} {
		for _, ext := range []string{".png", ".svg"} {
			old, _ := filepath.Glob(filepath.Join(dir, pat+ext))
			for _, o := range old {
				if err := os.Remove(o); err != nil {
					return nil, fmt.Errorf("remove old figure %s: %w", o, err)
				}
			}
		}
	}
	var figs []Figure
	add := func(fig Figure, err error) error {
		if err == nil {
			figs = append(figs, fig)
		}
		return err
	}
	// group cells: (workload, params without the x parameter) -> env -> points
	type group struct {
		workload, label string
		byEnv           map[string]plotter.XYs
		byEnvP99        map[string]plotter.XYs
	}
	groups := map[string]*group{}
	var keys []string
	xParam := map[string]string{"cpu": "jobs", "sysbench": "threads", "fs": "iodepth"}
	for _, c := range f.Cells {
		xp, ok := xParam[c.Workload]
		if !ok || len(c.Samples) == 0 {
			continue
		}
		x, err := strconv.ParseFloat(c.Params[xp], 64)
		if err != nil {
			continue
		}
		var rest []string
		for k, v := range c.Params {
			if k != xp {
				rest = append(rest, k+"="+v)
			}
		}
		slices.Sort(rest)
		gk := c.Workload + " " + strings.Join(rest, " ")
		g := groups[gk]
		if g == nil {
			g = &group{workload: c.Workload, label: strings.Join(rest, " "), byEnv: map[string]plotter.XYs{}, byEnvP99: map[string]plotter.XYs{}}
			groups[gk] = g
			keys = append(keys, gk)
		}
		g.byEnv[c.Env] = append(g.byEnv[c.Env], plotter.XY{X: x, Y: stats.Mean(c.Values())})
		var p99 []float64
		for _, s := range c.Samples {
			p99 = append(p99, s.Metrics["lat_p99_us"])
		}
		g.byEnvP99[c.Env] = append(g.byEnvP99[c.Env], plotter.XY{X: x, Y: stats.Mean(p99)})
	}
	slices.Sort(keys)
	for i, gk := range keys {
		g := groups[gk]
		envs := sortedEnvs(g.byEnv)
		var ss, lat []series
		for _, e := range envs {
			ss = append(ss, series{e, g.byEnv[e]})
			lat = append(lat, series{e, g.byEnvP99[e]})
		}
		switch g.workload {
		case "cpu":
			if err := add(lineChart("CPU simulation: average runtime per job", "concurrent jobs", "seconds", ss, dir, "cpu-runtime")); err != nil {
				return nil, err
			}
		case "sysbench":
			if err := add(lineChart("sysbench cpu: events per second", "threads", "events/s", ss, dir, "sysbench-events")); err != nil {
				return nil, err
			}
		case "fs":
			// a line needs two iodepths; single-depth groups are in the tables
			if len(ss) == 0 || len(ss[0].xy) < 2 {
				continue
			}
			if err := add(lineChart("fio IOPS: "+g.label, "iodepth", "IOPS", ss, dir, fmt.Sprintf("fs-iops-%d", i))); err != nil {
				return nil, err
			}
			if err := add(lineChart("fio p99 latency: "+g.label, "iodepth", "µs", lat, dir, fmt.Sprintf("fs-p99-%d", i))); err != nil {
				return nil, err
			}
		}
	}
	// net: the first repetition's intervals of each point, one line per env
	points := map[string]map[string]results.Sample{}
	var pk []string
	for _, c := range f.Cells {
		if c.Workload != "net" || len(c.Samples) == 0 {
			continue
		}
		if points[c.Point] == nil {
			points[c.Point] = map[string]results.Sample{}
			pk = append(pk, c.Point)
		}
		points[c.Point][c.Env] = c.Samples[0]
	}
	slices.Sort(pk)
	for i, p := range pk {
		for _, m := range []struct{ key, unit, name string }{{"gbps", "Gbit/s", "throughput"}, {"rtt_us", "µs", "rtt"}, {"retransmits", "count", "retransmits"}} {
			var ss []series
			for _, e := range sortedEnvs(points[p]) {
				var xy plotter.XYs
				for _, pt := range points[p][e].Series {
					xy = append(xy, plotter.XY{X: pt.T, Y: pt.Values[m.key]})
				}
				if len(xy) > 0 {
					ss = append(ss, series{e, xy})
				}
			}
			if len(ss) == 0 || (m.key != "gbps" && strings.Contains(p, "proto=udp")) {
				continue
			}
			if err := add(lineChart("iperf3 "+m.name+": "+strings.TrimPrefix(p, "net "), "time (s)", m.unit, ss, dir, fmt.Sprintf("net-%s-%d", m.name, i))); err != nil {
				return nil, err
			}
		}
	}
	return figs, nil
}

func sortedEnvs[V any](m map[string]V) []string {
	var envs []string
	for e := range m {
		envs = append(envs, e)
	}
	slices.SortFunc(envs, func(a, b string) int { return envRank(a) - envRank(b) })
	return envs
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>nsbench report: {{.Config}}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}pre{white-space:pre-wrap}</style>
</head><body>
<h1>nsbench report: {{.Config}}</h1>
<pre>{{.Tables}}</pre>
{{range .Figures}}<h3>{{.Title}}</h3><img alt="{{.Title}}" src="{{.Data}}">
{{end}}</body></html>
`))

// HTML writes one self-contained page: the tables and the PNGs inlined.
func HTML(path string, f *results.File, tables string, figs []Figure) error {
	type img struct {
		Title string
		Data  template.URL
	}
	var imgs []img
	for _, fig := range figs {
		b, err := os.ReadFile(fig.PNG)
		if err != nil {
			return fmt.Errorf("inline %s: %w", fig.PNG, err)
		}
		// a data: URL of our own PNG bytes, safe to mark as a URL
		imgs = append(imgs, img{fig.Title, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))})
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer out.Close()
	if err := page.Execute(out, map[string]any{"Config": f.Config, "Tables": tables, "Figures": imgs}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return out.Close()
}
