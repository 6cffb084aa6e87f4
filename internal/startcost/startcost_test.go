package startcost

import (
	"bytes"
	"context"
	"math"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/timeline"
)

func TestPairDiffUsesRoundsBothHave(t *testing.T) {
	a := &Row{Name: "nsrun", Wall: []float64{10, 20, math.NaN(), 40}, CPU: []float64{1, 2, math.NaN(), 4}}
	b := &Row{Name: "crun", Wall: []float64{12, 21, 30, math.NaN()}, CPU: []float64{2, 2, 3, math.NaN()}}
	d, ok := pairDiff(a, b)
	require.True(t, ok)
	assert.Equal(t, 2, d.N, "only rounds 0 and 1 have both")
	assert.InDelta(t, -1.5, d.Wall.Median, 1e-9)
	assert.InDelta(t, -0.5, d.CPU.Median, 1e-9)
	_, ok = pairDiff(a, &Row{Name: "x", Wall: []float64{math.NaN()}, CPU: []float64{math.NaN()}})
	assert.False(t, ok, "no pair, no interval")
}

func TestStepsCompareConsecutiveBuilds(t *testing.T) {
	rows := []*Row{
		{Name: "nsrun@a", Wall: []float64{10, 10}, CPU: []float64{5, 5}},
		{Name: "crun", Wall: []float64{1, 1}, CPU: []float64{1, 1}},
		{Name: "nsrun@b", Wall: []float64{8, 6}, CPU: []float64{4, 4}},
		{Name: "nsrun@c", Wall: []float64{7, 5}, CPU: []float64{4, 2}},
	}
	st := steps(rows)
	require.Len(t, st, 2, "crun is no build of nsrun")
	assert.Equal(t, "nsrun@b", st[0].A)
	assert.Equal(t, "nsrun@a", st[0].B)
	assert.InDelta(t, -3, st[0].Wall.Median, 1e-9)
	assert.InDelta(t, -1, st[1].Wall.Median, 1e-9)
	assert.InDelta(t, -1, st[1].CPU.Median, 1e-9)
}

func TestPhaseStatsFollowTimelineOrder(t *testing.T) {
	runs := [][]timeline.Phase{
		{{Point: timeline.Main, NS: 2e6}, {Point: timeline.Validated, NS: 1e6}, {Point: timeline.Reaped, NS: 1e6}},
		{{Point: timeline.Validated, NS: 3e6}, {Point: timeline.Main, NS: 4e6}, {Point: timeline.Reaped, NS: 1e6}},
		{{Point: timeline.Main, NS: 3e6}, {Point: timeline.Validated, NS: 2e6}, {Point: timeline.Reaped, NS: 1e6}},
	}
	ph, total := phaseStats(runs)
	require.Len(t, ph, 3)
	assert.Equal(t, []string{timeline.Main, timeline.Validated, timeline.Reaped}, []string{ph[0].Point, ph[1].Point, ph[2].Point})
	assert.InDelta(t, 3, ph[0].MS.Median, 1e-9)
	assert.InDelta(t, 2, ph[1].MS.Median, 1e-9)
	assert.Equal(t, timeline.Label(timeline.Main), ph[0].Label)
	assert.InDelta(t, 6, total, 1e-9, "median of the runs' totals 4, 8, 6")
}

func TestPrint(t *testing.T) {
	rows := []*Row{
		{Name: "nsrun", Version: "nsrun 1", Wall: []float64{3, 4, 5}, CPU: []float64{1, 1, 2}},
		{Name: "crun", Version: "crun 1", Wall: []float64{4, 6, 5}, CPU: []float64{1, 2, 2}},
		{Name: "runc", Err: "boom"},
	}
	for _, r := range rows {
		for k := range r.Wall {
			r.Samples = append(r.Samples, Sample{Round: k, Wall: r.Wall[k], CPU: r.CPU[k]})
		}
		r.Stat = rowStats(r)
	}
	var b bytes.Buffer
	Print(&b, &Result{Rounds: 3, Setup: "same", Rows: rows, Diffs: diffs(rows)})
	out := b.String()
	assert.Contains(t, out, "4.00 ms")
	assert.Contains(t, out, "runc stopped: boom")
	assert.Contains(t, out, "nsrun - crun")
	assert.Contains(t, out, "-1.00 ms", "median of -1, -2, 0")
	assert.Contains(t, out, "conditions: same")
	assert.Contains(t, out, "runs back to back")
	b.Reset()
	Print(&b, &Result{Rounds: 3, Rows: rows, GapMS: 100})
	assert.Contains(t, b.String(), "every run started after a 100 ms pause")
}

// TestRunGapHonoursContext: the pause before a run ends with the context,
// and no run starts.
func TestRunGapHonoursContext(t *testing.T) {
	testutil.NeedRoot(t, "the bundle's rootfs belongs to root")
	tr, err := exec.LookPath("true")
	require.NoError(t, err)
	dir := t.TempDir()
	r, err := oci.New(tr, dir+"/state")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = Run(ctx, Options{Runtimes: []*oci.Runtime{r}, Rounds: 2, Dir: dir, Gap: time.Hour})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
