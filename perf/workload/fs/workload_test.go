package fs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
)

func TestFioPointsSweeps(t *testing.T) {
	base := Fio{RW: []string{"read"}, BS: []string{"4k"}, Engines: []string{"libaio"}, NumJobs: []int{1, 2, 4},
		IODepth: []int{1, 8}, Locations: []string{"bind"}, Size: "1M", RuntimeS: 1}
	keys := func(f Fio) []string {
		var out []string
		for _, p := range f.Points(2) {
			out = append(out, p["numjobs"]+"x"+p["iodepth"])
		}
		return out
	}
	require.NoError(t, base.Validate())
	assert.Equal(t, []string{"1x1", "1x8", "2x1", "2x8", "4x1", "4x8"}, keys(base), "cross: every pair")
	each := base
	each.Sweep = "each"
	require.NoError(t, each.Validate())
	assert.Equal(t, []string{"1x1", "2x1", "4x1", "1x8"}, keys(each), "each: numjobs at iodepth 1, iodepth at numjobs 1")
	sync := base
	sync.Engines = []string{"sync"}
	assert.Equal(t, []string{"1x1", "2x1", "4x1"}, keys(sync), "a sync engine has one I/O in flight")

	for name, f := range map[string]func(*Fio){
		"sweep":    func(f *Fio) { f.Sweep = "diagonal" },
		"location": func(f *Fio) { f.Locations = []string{"nfs"} },
		"rw":       func(f *Fio) { f.RW = []string{"trim"} },
		"engine":   func(f *Fio) { f.Engines = []string{"spdk"} },
		"runtime":  func(f *Fio) { f.RuntimeS = 0 },
		"empty":    func(f *Fio) { f.NumJobs = nil },
	} {
		bad := base
		f(&bad)
		assert.Error(t, bad.Validate(), name)
	}
}

// Parse cuts fio's JSON out of output that has warnings before it (a
// guest's stdout and stderr share a file).
func TestFioParseWithNoise(t *testing.T) {
	data := testutil.ReadFile(t, testutil.Testdata(t, "fio", "randread-libaio.json"))
	clean, err := Fio{}.Parse(data)
	require.NoError(t, err)
	noisy, err := Fio{}.Parse(append([]byte("fio: io_u error on file /x: Invalid argument\nnote: both iodepth >= 1 and synchronous I/O engine are selected\n"), data...))
	require.NoError(t, err)
	assert.Equal(t, clean.Value, noisy.Value)
	assert.Positive(t, clean.Value)
	assert.Contains(t, clean.Metrics, "lat_p99_us")
	_, err = Fio{}.Parse([]byte("fio: pid=0, err=22/file:filesetup.c:240, func=open, error=Invalid argument\n"))
	assert.Error(t, err)
}
