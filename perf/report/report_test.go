package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/perf/results"
)

// testdata/results/tiny.json is a real run on this machine (2 repetitions of a tiny
// matrix: cpu, fio, iperf3 in native, nsrun, runc, crun; docker skipped).
func TestReportOfRealRun(t *testing.T) {
	f, err := results.Load(testutil.Testdata(t, "results", "tiny.json"))
	require.NoError(t, err)
	tables, err := Build(f)
	require.NoError(t, err)
	require.Len(t, tables, 3)
	assert.Equal(t, []string{"cpu", "fs", "net"}, []string{tables[0].Workload, tables[1].Workload, tables[2].Workload})
	for _, tb := range tables {
		assert.Equal(t, "native", tb.Envs[0])
		for _, r := range tb.Rows {
			for e, c := range r.Cells {
				if e == "native" {
					assert.Nil(t, c.VsNat)
				}
				// n=2: some intervals are unbounded and have no comparison
				if c.VsNat != nil {
					assert.Equal(t, !c.VsNat.DiffCI.Contains(0), c.VsNat.Significant)
				}
			}
		}
	}
	assert.Equal(t, []string{"jobs=1", "jobs=2"}, []string{tables[0].Rows[0].Label, tables[0].Rows[1].Label})

	md := Markdown(f, tables)
	assert.Contains(t, md, "| jobs=1 |")
	assert.Contains(t, md, "docker:")
	again, err := Build(f)
	require.NoError(t, err)
	assert.Equal(t, md, Markdown(f, again), "a report must be reproducible")

	dir := t.TempDir()
	stale := filepath.Join(dir, "plots", "net-throughput-99.png")
	require.NoError(t, os.MkdirAll(filepath.Dir(stale), 0o755))
	require.NoError(t, os.WriteFile(stale, []byte("old"), 0o644))
	figs, err := Plots(f, tables, filepath.Join(dir, "plots"))
	require.NoError(t, err)
	require.NotEmpty(t, figs)
	for _, fig := range figs {
		for _, p := range []string{fig.PNG, fig.SVG} {
			st, err := os.Stat(p)
			require.NoError(t, err)
			assert.Positive(t, st.Size())
		}
	}
	assert.NoFileExists(t, stale, "an earlier report's figure is removed")
	html := filepath.Join(dir, "report.html")
	require.NoError(t, HTML(html, f, tables, figs))
	b, err := os.ReadFile(html)
	require.NoError(t, err)
	assert.Equal(t, len(figs), strings.Count(string(b), `src="data:image/svg`))
	assert.NotContains(t, string(b), "ZgotmplZ")
}

func TestComparePoints(t *testing.T) {
	assert.Negative(t, comparePoints("cpu jobs=9", "cpu jobs=10"))
	assert.Positive(t, comparePoints("fs iodepth=16 on=bind", "fs iodepth=2 on=bind"))
	assert.Negative(t, comparePoints("fs on=bind", "fs on=tmpfs"))
}
