package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/perf/results"
)

// kernelRun is a kernel run's results: cpu jobs=1 in native and nsrun on
// stock and hardened, 6 repetitions; hardened is 20 % slower for both,
// nsrun 0 % vs native on either kernel, with a little noise.
func kernelRun(accel string) *results.File {
	f := &results.File{Version: results.Version, Config: "k", Runtimes: map[string]string{}, Skipped: map[string]string{},
		VM: &results.VMRun{Arch: "x86_64", Accel: accel, CPUs: 2, MemoryMiB: 2048, Kernels: []string{"stock", "hardened"}, Design: "alternating"},
		Kernels: map[string]results.Kernel{
			"stock": {Variant: "stock", Version: "6.1.192", ConfigHash: "aa", Options: map[string]string{"CONFIG_INIT_ON_FREE_DEFAULT_ON": "n", "CONFIG_VMAP_STACK": "y"}},
			"hardened": {Variant: "hardened", Version: "6.1.192", ConfigHash: "bb", Options: map[string]string{"CONFIG_INIT_ON_FREE_DEFAULT_ON": "y", "CONFIG_VMAP_STACK": "y"},
				Cmdline: []string{"init_on_free=1"}, Sysctls: map[string]string{"user.max_user_namespaces": "0"}},
		}}
	noise := []float64{1.00, 1.02, 0.99, 1.01, 0.98, 1.00}
	for _, k := range []string{"stock", "hardened"} {
		for _, e := range []string{"native", "nsrun"} {
			c := f.Cell(results.KernelKey("cpu jobs=1 env="+e, k))
			c.Point, c.Workload, c.Env, c.Kernel, c.Unit, c.Params = "cpu jobs=1", "cpu", e, k, "s", map[string]string{"jobs": "1"}
			for r, n := range noise {
				v := n
				if k == "hardened" {
					v *= 1.2
				}
				if e == "nsrun" {
					v *= 1 + 0.001*float64(r%2)
				}
				c.Samples = append(c.Samples, results.Sample{Rep: r, Value: v, Guest: &results.Guest{Kernel: k}})
			}
		}
	}
	return f
}

func TestKernelTables(t *testing.T) {
	f := kernelRun("tcg")
	tables, err := Build(f)
	require.NoError(t, err)
	require.Len(t, tables, 2, "one table per kernel: samples of two kernels are never one cell")
	assert.Equal(t, "stock", tables[0].Kernel)
	assert.Equal(t, "hardened", tables[1].Kernel)
	for _, tb := range tables {
		v := tb.Rows[0].Cells["nsrun"].VsNat
		require.NotNil(t, v)
		assert.False(t, v.Significant, "nsrun equals native on %s", tb.Kernel)
		assert.Equal(t, 6, tb.Rows[0].Cells["native"].Summary.N, "only the kernel's own samples")
	}

	kt, err := KernelTables(f)
	require.NoError(t, err)
	require.Len(t, kt, 1)
	assert.Equal(t, "stock", kt[0].Base)
	assert.Equal(t, "hardened", kt[0].Other)
	for _, e := range []string{"native", "nsrun"} {
		r := kt[0].Rows[0].Ratio[e]
		require.NotNil(t, r, e)
		assert.True(t, r.Significant, e)
		assert.InDelta(t, 1.2, r.Ratio, 0.01, e)
	}

	md := Markdown(f, tables)
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "### ") && !strings.Contains(l, "How the kernels differ") {
			assert.Contains(t, l, EmulatedNote, "every table of a TCG run is flagged: %s", l)
		}
	}
	assert.Contains(t, md, "| CONFIG_INIT_ON_FREE_DEFAULT_ON | n | y |")
	assert.NotContains(t, md, "CONFIG_VMAP_STACK", "options equal on both kernels are not listed")
	assert.Contains(t, md, "| init_on_free | – | 1 |")
	assert.Contains(t, md, "| user.max_user_namespaces | – | 0 |")
	assert.Equal(t, 1, strings.Count(md, "### How the kernels differ"), "listed once")
	assert.Contains(t, md, "### cpu: hardened vs stock kernel")
	assert.Contains(t, md, "+20.0%")

	fk := kernelRun("kvm")
	tk, err := Build(fk)
	require.NoError(t, err)
	kvm := Markdown(fk, tk)
	assert.NotContains(t, kvm, "TCG", "a KVM run is not flagged")
}

// TestKernelTableNoCI: a comparison without a CI says why: too few
// samples, or a base so spread that Fieller's set is unbounded.
func TestKernelTableNoCI(t *testing.T) {
	f := kernelRun("tcg")
	for i := range f.Cells {
		c := &f.Cells[i]
		switch {
		case c.Kernel == "stock" && c.Env == "native":
			// The base's mean cannot be told from zero.
			for i := range c.Samples {
				c.Samples[i].Value = []float64{0.1, 5, 0.2, 6, 0.1, 4}[i]
			}
		case c.Kernel == "hardened" && c.Env == "nsrun":
			c.Samples = c.Samples[:1]
		}
	}
	tables, err := Build(f)
	require.NoError(t, err)
	md := Markdown(f, tables)
	i := strings.Index(md, "### cpu: hardened vs stock kernel")
	require.GreaterOrEqual(t, i, 0, md)
	assert.Contains(t, md[i:], "| jobs=1 | no CI (spread) | n<2 |")
}

func TestKernelPlots(t *testing.T) {
	f := kernelRun("tcg")
	tables, err := Build(f)
	require.NoError(t, err)
	figs, err := Plots(f, tables, t.TempDir())
	require.NoError(t, err)
	var kernelFigs, perKernel int
	for _, fig := range figs {
		if strings.Contains(fig.Title, "hardened vs stock") {
			kernelFigs++
		}
		if strings.HasPrefix(fig.Title, "cpu on the hardened kernel") {
			perKernel++
		}
	}
	assert.Equal(t, 1, kernelFigs, "the kernels side by side")
	assert.Positive(t, perKernel)
}
