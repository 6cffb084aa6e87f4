package stats

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMedianCI(t *testing.T) {
	ranks := func(n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(n - i) // reversed: the input order must not matter
		}
		return xs
	}
	tests := []struct {
		n      int
		lo, hi float64 // 1-based ranks of the bounds
		level  float64
	}{
		// Tables of the sign-test interval (e.g. Conover, Practical
		// Nonparametric Statistics, table A3): n=10 -> x(2), x(9) at
		// 97.85 %; n=20 -> x(6), x(15) at 95.86 %; n=30 -> x(10), x(21)
		// at 95.72 %; n=50 -> x(18), x(33) at 96.72 %.
		{10, 2, 9, 0.9785},
		{20, 6, 15, 0.9586},
		{30, 10, 21, 0.9572},
		{50, 18, 33, 0.9672},
		// Too few for 95 %: the range, with the coverage it has.
		{5, 1, 5, 0.9375},
	}
	for _, tt := range tests {
		iv, err := MedianCI(ranks(tt.n), 0.95)
		require.NoError(t, err)
		assert.Equal(t, tt.lo, iv.Lo, "n=%d", tt.n)
		assert.Equal(t, tt.hi, iv.Hi, "n=%d", tt.n)
		assert.InDelta(t, tt.level, iv.Level, 1e-4, "n=%d", tt.n)
	}
	_, err := MedianCI(nil, 0.95)
	assert.ErrorIs(t, err, ErrEmpty)
}

// TestMedianCICoverage draws skewed (log-normal, like start-up times)
// samples whose median is known and checks the interval holds it at least
// as often as promised.
func TestMedianCICoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 17))
	const sims, n = 4000, 30
	hit := 0
	for range sims {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = rng.ExpFloat64() // median ln 2
		}
		iv, err := MedianCI(xs, 0.95)
		require.NoError(t, err)
		if iv.Contains(0.6931471805599453) {
			hit++
		}
	}
	cover := float64(hit) / sims
	assert.GreaterOrEqual(t, cover, 0.945, "coverage %.3f", cover)
	assert.LessOrEqual(t, cover, 0.97, "coverage %.3f", cover)
}
