package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6e73)) }

func TestDescriptive(t *testing.T) {
	// Textbook values: {2,4,4,4,5,5,7,9} has mean 5, population sd 2,
	// so sample sd sqrt(32/7).
	tests := []struct {
		name                 string
		xs                   []float64
		mean, median, stddev float64
	}{
		{"textbook", []float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, 4.5, math.Sqrt(32.0 / 7)},
		{"odd unsorted", []float64{9, 1, 5}, 5, 5, 4},
		{"one", []float64{3.5}, 3.5, 3.5, 0},
		// seed 000's un-containered runtimes at 1 job would be summarised like this
		{"pair", []float64{10, 12}, 11, 11, math.Sqrt2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.xs...)
			assert.InDelta(t, tt.mean, Mean(tt.xs), 1e-12)
			assert.InDelta(t, tt.median, Median(tt.xs), 1e-12)
			assert.InDelta(t, tt.stddev, StdDev(tt.xs), 1e-12)
			assert.Equal(t, in, tt.xs, "input must not be reordered")
		})
	}
	assert.True(t, math.IsNaN(Mean(nil)))
	assert.True(t, math.IsNaN(Median(nil)))
	assert.True(t, math.IsNaN(StdDev(nil)))
}

func TestQuantileType7(t *testing.T) {
	xs := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	// R: quantile(1:10, c(0, .25, .5, .9, 1)) = 1, 3.25, 5.5, 9.1, 10
	for q, want := range map[float64]float64{0: 1, 0.25: 3.25, 0.5: 5.5, 0.9: 9.1, 1: 10} {
		assert.InDelta(t, want, Quantile(xs, q), 1e-12, "q=%v", q)
	}
	assert.True(t, math.IsNaN(Quantile(xs, 1.5)))
}

func TestBootstrapCI(t *testing.T) {
	t.Run("constant sample has a point interval", func(t *testing.T) {
		ci, err := BootstrapCI(rng(1), []float64{7, 7, 7, 7}, Mean, Options{Resamples: 500})
		require.NoError(t, err)
		assert.Equal(t, Interval{Lo: 7, Hi: 7, Level: 0.95}, ci)
	})
	t.Run("matches the normal approximation for 1..100", func(t *testing.T) {
		xs := make([]float64, 100)
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		// plug-in standard error sqrt(var_pop/n) = sqrt(833.25/100) = 2.8866;
		// 50.5 ± 1.96·2.8866 = [44.84, 56.16]
		ci, err := BootstrapCI(rng(2), xs, Mean, Options{Resamples: 20000})
		require.NoError(t, err)
		assert.InDelta(t, 44.84, ci.Lo, 0.4)
		assert.InDelta(t, 56.16, ci.Hi, 0.4)
	})
	t.Run("same seed, same interval", func(t *testing.T) {
		xs := []float64{1, 5, 2, 8, 3}
		a, err := BootstrapCI(rng(3), xs, Median, Options{})
		require.NoError(t, err)
		b, err := BootstrapCI(rng(3), xs, Median, Options{})
		require.NoError(t, err)
		assert.Equal(t, a, b)
	})
	_, err := BootstrapCI(rng(1), nil, Mean, Options{})
	assert.ErrorIs(t, err, ErrEmpty)
}

func TestCompare(t *testing.T) {
	native := []float64{100, 101, 99, 100.5, 99.5}
	tests := []struct {
		name        string
		env         []float64
		ratio       float64
		significant bool
	}{
		// same values in another order: the CI of the difference spans zero
		{"identical", []float64{99.5, 100, 101, 100.5, 99}, 1, false},
		// seed-000-like ±1 % wobble at n=5 is noise
		{"noise", []float64{101, 100, 102, 99, 100.5}, 1.005, false},
		// 10 % slower with no overlap at all
		{"slower", []float64{110, 111, 109, 110.5, 109.5}, 1.10, true},
		{"faster", []float64{50, 50.5, 49.5, 50.25, 49.75}, 0.5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compare(rng(4), tt.env, native, Mean, Options{})
			require.NoError(t, err)
			assert.InDelta(t, tt.ratio, c.Ratio, 1e-9)
			assert.InDelta(t, Mean(tt.env)-Mean(native), c.Diff, 1e-9)
			assert.Equal(t, tt.significant, c.Significant, "%+v", c)
			assert.True(t, c.RatioCI.Contains(c.Ratio), "%+v", c)
			assert.Equal(t, c.DiffCI.Contains(0), c.RatioCI.Contains(1), "ratio and difference must agree: %+v", c)
			if !tt.significant {
				assert.Equal(t, "no significant difference", c.Verdict())
			}
		})
	}
	c, err := Compare(rng(5), []float64{110, 111, 109}, native, Median, Options{})
	require.NoError(t, err)
	assert.InDelta(t, 10.0, c.PercentDiff(), 1e-9)
	assert.Contains(t, c.Verdict(), "+10.00%")
	_, err = Compare(rng(5), nil, native, Mean, Options{})
	assert.ErrorIs(t, err, ErrEmpty)
	_, err = Compare(rng(5), []float64{200}, native, Mean, Options{})
	assert.ErrorIs(t, err, ErrTooFew)
}

func TestSummarize(t *testing.T) {
	s, err := Summarize(rng(6), []float64{2, 4, 4, 4, 5, 5, 7, 9}, Options{Resamples: 2000})
	require.NoError(t, err)
	assert.Equal(t, 8, s.N)
	assert.Equal(t, 2.0, s.Min)
	assert.Equal(t, 9.0, s.Max)
	assert.True(t, s.CI.Contains(5) && s.CI.Lo > 2 && s.CI.Hi < 9, "%+v", s.CI)
}
