package report

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"os"

	"github.com/nsbench/nsbench/perf/results"
)

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nsbench report: {{.Config}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.92em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.point,th.point{text-align:left;font-family:monospace}
td.worse{background:#fde0dc;font-weight:bold}td.better{background:#dcf5e0;font-weight:bold}
td.same{color:#888}td.na{color:#aaa}td.failed{background:#eee;color:#a00}
small{color:#666;font-weight:normal}
.findings li{margin:.25em 0}.quiet{color:#666}
dl.cond{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.cond dt{font-weight:bold}dl.cond dd{margin:0}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em;font-size:.85em;max-height:30em;overflow:auto}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#444}
</style>
</head><body>
<h1>nsbench report: {{.Config}}</h1>
<p>{{.Created}}{{if .Shard}}, shard {{.Shard}}{{end}}.</p>

<h2 id="findings">Findings</h2>
{{if .Findings}}<ul class="findings">{{range .Findings}}<li>{{.Sentence}}</li>{{end}}</ul>
{{else}}<p class="quiet">No environment differs significantly from native in any cell.</p>{{end}}
<p>The smallest effect a cell could detect (80 % power, 95 % level) is {{printf "%.1f" (index .Cond.MDE 0)}} % in the median cell, {{printf "%.1f" (index .Cond.MDE 1)}} % in the least precise one: a "≈" means no difference of that size, not no difference at all.</p>
{{range .Failed}}<p><b>{{.Env}} failed</b> at {{.Cell}}, repetition {{.Rep}}; its cells are marked failed and the run went on without it.</p>
<details><summary>full error</summary><pre>{{.Error}}{{if .Output}}

job output:
{{.Output}}{{end}}</pre></details>{{end}}

<h2 id="conditions">Conditions</h2>
<dl class="cond">
<dt>Machine</dt><dd>{{.Cond.Machine}}</dd>
<dt>Runtimes</dt><dd>{{range $i, $r := .Cond.Runtimes}}{{if $i}}; {{end}}{{$r}}{{end}}</dd>
<dt>Samples</dt><dd>{{.Cond.Samples}}{{if .Cond.Span}}, {{.Cond.Span}}{{end}}</dd>
{{if .Cond.Precision}}<dt>Precision</dt><dd>{{.Cond.Precision}}</dd>{{end}}
<dt>Load average (1 min)</dt><dd>median {{printf "%.2f" (index .Cond.Load1 0)}}, max {{printf "%.2f" (index .Cond.Load1 1)}}</dd>
<dt>Machine busy</dt><dd>median {{printf "%.0f" (index .Cond.Busy 0)}} %, max {{printf "%.0f" (index .Cond.Busy 1)}} % of all CPUs during a sample</dd>
<dt>Other processes</dt><dd>median {{printf "%.0f" (index .Cond.OthersShare 0)}} %, max {{printf "%.0f" (index .Cond.OthersShare 1)}} % of all CPUs{{if .Cond.TopOthers}}; most often: {{range $i, $o := .Cond.TopOthers}}{{if $i}}, {{end}}{{$o}}{{end}}{{end}}</dd>
<dt>CPU pressure (PSI some avg10)</dt><dd>median {{printf "%.0f" (index .Cond.PSI 0)}} %, max {{printf "%.0f" (index .Cond.PSI 1)}} %</dd>
<dt>Steal</dt><dd>median {{printf "%.1f" (index .Cond.Steal 0)}} %, max {{printf "%.1f" (index .Cond.Steal 1)}} %</dd>
<dt>Pinning</dt><dd>{{.Cond.Pinning}}</dd>
<dt>Quiet-machine check</dt><dd>{{.Cond.Quiet}}</dd>
{{if .Cond.Calibration}}<dt>Calibration</dt><dd>{{range $i, $c := .Cond.Calibration}}{{if $i}}; {{end}}{{$c}}{{end}}</dd>{{end}}
</dl>
{{if .Cond.Missed}}<p>Cells short of the precision goal:</p><ul>{{range .Cond.Missed}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Skipped}}<p>Skipped:</p><ul>{{range .Skipped}}<li>{{.}}</li>{{end}}</ul>{{end}}

{{range .Tables}}
<h2 id="{{.Workload}}">{{.Workload}}</h2>
<table class="abs"><caption>mean {{.Unit}} with 95 % CI, n repetitions</caption>
<tr><th class="point">point</th>{{range .Envs}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td class="point">{{.Label}}</td>{{range .Abs}}<td class="{{.Class}}">{{.Text}}<br><small>{{.Note}}</small></td>{{end}}</tr>
{{end}}</table>
{{if .Others}}<table class="ratio"><caption>difference to native, 95 % Fieller CI paired by repetition; shaded: significant (red costs, green gains); grey "≈": not significant; "≥x %": the smallest effect the cell could detect</caption>
<tr><th class="point">point</th>{{range .Others}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><td class="point">{{.Label}}</td>{{range .Rel}}<td class="{{.Class}}">{{.Text}}<br><small>{{.Note}}</small></td>{{end}}</tr>
{{end}}</table>{{end}}
{{range .Figures}}<figure><img alt="{{.Title}}" src="{{.Data}}"><figcaption>{{.Title}}</figcaption></figure>
{{end}}{{end}}
</body></html>
`))

type htmlCell struct{ Text, Note, Class string }

type htmlRow struct {
	Label    string
	Abs, Rel []htmlCell
}

type htmlTable struct {
	Workload, Unit string
	Envs, Others   []string
	Rows           []htmlRow
	Figures        []htmlFig
}

type htmlFig struct {
	Title string
	Data  template.URL
}

type htmlFailure struct {
	Env string
	results.Failure
}

// HTML writes one self-contained page: findings, conditions, the tables as
// tables, and the figures (SVG) inlined.
func HTML(path string, f *results.File, tables []Table, figs []Figure) error {
	var ts []htmlTable
	for _, t := range tables {
		ht := htmlTable{Workload: t.Title(), Unit: t.Unit, Envs: t.Envs}
		if len(t.Envs) > 0 && t.Envs[0] == "native" {
			ht.Others = t.Envs[1:]
		}
		for _, r := range t.Rows {
			hr := htmlRow{Label: r.Label}
			for _, e := range t.Envs {
				c, ok := r.Cells[e]
				switch {
				case !ok:
					hr.Abs = append(hr.Abs, htmlCell{Text: "–", Class: "na"})
				default:
					s := c.Summary
					cl, note := "", fmt.Sprintf("[%s, %s] n=%d", num(s.CI.Lo), num(s.CI.Hi), s.N)
					if c.Failed != "" {
						cl, note = "failed", note+" — environment failed"
					}
					hr.Abs = append(hr.Abs, htmlCell{Text: num(s.Mean), Note: note, Class: cl})
				}
			}
			for _, e := range ht.Others {
				c, ok := r.Cells[e]
				switch {
				case !ok:
					hr.Rel = append(hr.Rel, htmlCell{Text: "–", Class: "na"})
				case c.VsNat == nil:
					note := "too few samples"
					if c.Summary.N >= 2 {
						note = "native's spread too wide for a ratio"
					}
					hr.Rel = append(hr.Rel, htmlCell{Text: "no interval", Note: note, Class: "na"})
				default:
					v := c.VsNat
					cl, mark := "same", " ≈"
					if v.Significant {
						mark = ""
						cl = "better"
						if (v.Ratio > 1) != HigherIsBetter(t.Unit) {
							cl = "worse"
						}
					}
					note := fmt.Sprintf("[%+.1f, %+.1f] n=%d, ≥%.1f %%", (v.CI.Lo-1)*100, (v.CI.Hi-1)*100, v.N, v.MDE*100)
					if c.Stopped != "" {
						note += " — short of the goal"
					}
					if c.Failed != "" {
						cl, note = "failed", note+" — environment failed"
					}
					hr.Rel = append(hr.Rel, htmlCell{Text: fmt.Sprintf("%+.1f %%%s", v.PercentDiff(), mark), Note: note, Class: cl})
				}
			}
			ht.Rows = append(ht.Rows, hr)
		}
		for _, fig := range figs {
			if fig.Table != t.Title() {
				continue
			}
			b, err := os.ReadFile(fig.SVG)
			if err != nil {
				return fmt.Errorf("inline %s: %w", fig.SVG, err)
			}
			// a data: URL of our own SVG bytes, safe to mark as a URL
			ht.Figures = append(ht.Figures, htmlFig{fig.Title, template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b))})
		}
		ts = append(ts, ht)
	}
	var failed []htmlFailure
	for _, e := range sortedKeys(f.Failed) {
		failed = append(failed, htmlFailure{e, f.Failed[e]})
	}
	var skipped []string
	for _, k := range sortedKeys(f.Skipped) {
		skipped = append(skipped, k+": "+f.Skipped[k])
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer out.Close()
	data := map[string]any{"Config": f.Config, "Created": f.Created.Format("2006-01-02 15:04 MST"), "Shard": f.Shard,
		"Findings": Findings(tables), "Cond": RunConditions(f, tables), "Failed": failed, "Skipped": skipped, "Tables": ts}
	if err := page.Execute(out, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return out.Close()
}
