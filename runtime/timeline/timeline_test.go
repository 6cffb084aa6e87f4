package timeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNilRecorderRecordsNothing(t *testing.T) {
	var r *Recorder
	r.Mark(Main)
	r.MarkAt(Main, 1)
	r.Flush()
	r.Close()
	assert.Nil(t, r.File())
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	a, err := Open(path)
	require.NoError(t, err)
	b, err := Open(path)
	require.NoError(t, err)
	b.pid = a.pid + 1 // as another process
	a.MarkAt(Main, 100)
	b.MarkAt(InitMain, 150)
	a.MarkAt(Validated, 120)
	a.Mark(Created) // now: after the others
	// Two processes flush in any order; Read orders by time.
	b.Close()
	assert.Empty(t, b.events, "flushed")
	a.Close()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	evs, err := Read(f)
	require.NoError(t, err)
	var points []string
	for _, e := range evs {
		points = append(points, e.Point)
	}
	assert.Equal(t, []string{Main, Validated, InitMain, Created}, points)
	ph := Phases(evs)
	require.Len(t, ph, 3)
	assert.Equal(t, Validated, ph[0].Point)
	assert.EqualValues(t, 20, ph[0].NS)
	assert.Equal(t, InitMain, ph[1].Point)
	assert.EqualValues(t, 30, ph[1].NS)
	// Each process's CPU time only grows.
	for _, p := range ph {
		assert.GreaterOrEqual(t, p.CPU, int64(0), "%s", p.Point)
	}
	var sum int64
	for _, p := range ph {
		sum += p.NS
	}
	assert.Equal(t, evs[len(evs)-1].NS-evs[0].NS, sum, "the phases add up to the total")
}

func TestReadRejectsGarbage(t *testing.T) {
	_, err := Read(strings.NewReader("{\"point\":\"main\",\"ns\":1}\nnot json\n"))
	assert.ErrorContains(t, err, "trace line 2")
}

func TestEveryPointHasALabel(t *testing.T) {
	for _, p := range Order()[1:] {
		assert.NotEqual(t, p, Label(p), "point %s has no label", p)
	}
}
