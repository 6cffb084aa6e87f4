package stats

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

func TestSummarize(t *testing.T) {
	s, err := Summarize([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	require.NoError(t, err)
	assert.Equal(t, 8, s.N)
	assert.Equal(t, 2.0, s.Min)
	assert.Equal(t, 9.0, s.Max)
	// 5 ± t_{.975,7}·sd/√8 = 5 ± 2.364624·0.755929 = [3.212512, 6.787488]
	assert.InDelta(t, 3.212512, s.CI.Lo, 1e-5)
	assert.InDelta(t, 6.787488, s.CI.Hi, 1e-5)
	_, err = Summarize(nil)
	assert.ErrorIs(t, err, ErrEmpty)
}
