package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pairedT is the paired t statistic of x - r·y: Fieller's paired interval is
// the set of r where |pairedT| <= t, so at its ends |pairedT| == t.
func pairedT(x, y []float64, r float64) float64 {
	d := make([]float64, len(x))
	for i := range x {
		d[i] = x[i] - r*y[i]
	}
	return Mean(d) / (StdDev(d) / math.Sqrt(float64(len(d))))
}

func TestFiellerRatio(t *testing.T) {
	native := []float64{100, 101, 99, 100.5, 99.5}
	tests := []struct {
		name        string
		env         []float64
		ratio       float64
		significant bool
	}{
		// the same values in another order: nothing to tell apart
		{"identical values", []float64{99.5, 100, 101, 100.5, 99}, 1, false},
		{"noise", []float64{101, 100, 102, 99, 100.5}, 1.005, false},
		// 1 % slower in every round: tiny against the spread between rounds,
		// but the pairs see it
		{"paired 1 %", []float64{101, 102.01, 99.99, 101.505, 100.495}, 1.01, true},
		{"faster", []float64{50, 50.5, 49.5, 50.25, 49.75}, 0.5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := FiellerRatio(tt.env, native, true, 0.95)
			require.NoError(t, err)
			assert.InDelta(t, tt.ratio, r.Ratio, 1e-9)
			assert.InDelta(t, Mean(tt.env)-Mean(native), r.Diff, 1e-9)
			assert.Equal(t, tt.significant, r.Significant, "%+v", r)
			assert.True(t, r.CI.Contains(r.Ratio), "%+v", r)
			assert.Equal(t, r.DiffCI.Contains(0), r.CI.Contains(1), "ratio and difference must agree: %+v", r)
			assert.InDelta(t, (r.CI.Hi-r.CI.Lo)/2, r.HalfWidth, 1e-12)
			if r.CI.Hi > r.CI.Lo {
				// the ends invert the paired t test (t_{0.975,4} = 2.776445)
				assert.InDelta(t, 2.776445, math.Abs(pairedT(tt.env, native, r.CI.Lo)), 1e-4)
				assert.InDelta(t, 2.776445, math.Abs(pairedT(tt.env, native, r.CI.Hi)), 1e-4)
			}
		})
	}
	t.Run("pairing narrows the interval when rounds drift", func(t *testing.T) {
		env := []float64{101, 102.01, 99.99, 101.505, 100.495}
		p, err := FiellerRatio(env, native, true, 0.95)
		require.NoError(t, err)
		u, err := FiellerRatio(env, native, false, 0.95)
		require.NoError(t, err)
		assert.Less(t, p.HalfWidth*5, u.HalfWidth, "paired %+v unpaired %+v", p, u)
		assert.False(t, u.Significant)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := FiellerRatio([]float64{1}, native, false, 0.95)
		assert.ErrorIs(t, err, ErrTooFew)
		_, err = FiellerRatio([]float64{1, 2, 3}, native, true, 0.95)
		assert.ErrorContains(t, err, "different lengths")
		_, err = FiellerRatio([]float64{1, 2}, []float64{-1, 1.2}, false, 0.95)
		assert.ErrorContains(t, err, "unbounded")
	})
}

// scenario draws n interleaved pairs (env, native) whose true ratio of
// means is known.
type scenario struct {
	name  string
	ratio float64
	draw  func(rng *rand.Rand, n int) (env, native []float64)
}

// The scenarios are what the runner sees: a job's time with a per-round
// factor shared by every environment of the round (the machine's load then),
// and each run's own jitter.
var scenarios = []scenario{
	{"bivariate normal, correlated", 1.05, func(rng *rand.Rand, n int) (x, y []float64) {
		for range n {
			z := rng.NormFloat64()
			x = append(x, 10.5+0.8*z+0.6*rng.NormFloat64())
			y = append(y, 10+0.8*z+0.6*rng.NormFloat64())
		}
		return
	}},
	{"independent normal", 0.97, func(rng *rand.Rand, n int) (x, y []float64) {
		for range n {
			x = append(x, 9.7+rng.NormFloat64())
			y = append(y, 10+rng.NormFloat64())
		}
		return
	}},
	// lognormal: round factor sd 10 %, run jitter sd 2 %; both sides share the
	// round factor, so E[x]/E[y] is the ratio of the medians
	{"lognormal with shared round drift", 1.05, func(rng *rand.Rand, n int) (x, y []float64) {
		for range n {
			u := 0.1 * rng.NormFloat64()
			x = append(x, 1.05*math.Exp(u+0.02*rng.NormFloat64()))
			y = append(y, math.Exp(u+0.02*rng.NormFloat64()))
		}
		return
	}},
}

// coverage is the fraction of sims intervals that contain the true ratio.
func coverage(sims int, seed uint64, sc scenario, n int, ci func(x, y []float64) (Interval, bool)) float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	hit, ok := 0, 0
	for range sims {
		x, y := sc.draw(rng, n)
		iv, good := ci(x, y)
		if !good {
			continue
		}
		ok++
		if iv.Contains(sc.ratio) {
			hit++
		}
	}
	return float64(hit) / float64(ok)
}

// TestFiellerCoverage: of 4000 nominal 95 % intervals, 95 % must contain the
// true ratio (binomial standard error 0.34 %, so [93.5, 96.5] is ±4.4 SE).
// The same check fails on the percentile bootstrap of independent resamples
// this package used before: at n=5 it covers far less than it claims.
func TestFiellerCoverage(t *testing.T) {
	const sims = 4000
	fieller := func(x, y []float64) (Interval, bool) {
		r, err := FiellerRatio(x, y, true, 0.95)
		return r.CI, err == nil
	}
	for i, sc := range scenarios {
		for _, n := range []int{3, 5, 10, 30} {
			c := coverage(sims, uint64(10*i+n), sc, n, fieller)
			assert.InDelta(t, 0.95, c, 0.015, "%s n=%d: coverage %.3f", sc.name, n, c)
		}
	}
	t.Run("naive bootstrap undercovers", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 3))
		naive := func(x, y []float64) (Interval, bool) { return independentBootstrap(rng, x, y, 1000), true }
		c := coverage(1000, 99, scenarios[1], 5, naive)
		assert.Less(t, c, 0.92, "the check must be able to fail: naive bootstrap coverage %.3f", c)
	})
}

// independentBootstrap is the percentile bootstrap of mean(x)/mean(y) with x
// and y resampled independently: the method this package had, kept here as
// the variant the coverage test must catch.
func independentBootstrap(rng *rand.Rand, x, y []float64, b int) Interval {
	rs := make([]float64, b)
	bx, by := make([]float64, len(x)), make([]float64, len(y))
	for i := range rs {
		for j := range bx {
			bx[j] = x[rng.IntN(len(x))]
		}
		for j := range by {
			by[j] = y[rng.IntN(len(y))]
		}
		rs[i] = Mean(bx) / Mean(by)
	}
	slices.Sort(rs)
	return Interval{Lo: sortedQuantile(rs, 0.025), Hi: sortedQuantile(rs, 0.975), Level: 0.95}
}

// TestAdaptiveStoppingCoverage: the runner adds repetitions by
// PlanRepetitions until the half-width reaches the target. Any rule that
// stops on the data's own spread lets lucky small spreads stop early, so the
// coverage is a little under nominal; with the runner's minimum of 5
// repetitions and batches planned from the estimate it stays within 2 % of
// 95 % in every scenario (a check after every single repetition from n=3
// gave 90.8 %).
func TestAdaptiveStoppingCoverage(t *testing.T) {
	const sims = 2000
	for i, sc := range scenarios {
		for _, target := range []float64{0.01, 0.02, 0.05} {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			hit := 0
			for range sims {
				x, y := sc.draw(rng, 5)
				var r Ratio
				for {
					var err error
					r, err = FiellerRatio(x, y, true, 0.95)
					require.NoError(t, err)
					next := PlanRepetitions(len(x), r.HalfWidth, target, 100)
					if next == len(x) {
						break
					}
					a, b := sc.draw(rng, next-len(x))
					x, y = append(x, a...), append(y, b...)
				}
				if r.CI.Contains(sc.ratio) {
					hit++
				}
			}
			c := float64(hit) / sims
			assert.InDelta(t, 0.945, c, 0.025, "%s target %.2f: coverage after adaptive stopping %.3f", sc.name, target, c)
		}
	}
}

func TestPlanRepetitions(t *testing.T) {
	for _, tt := range []struct {
		n         int
		hw, tgt   float64
		limit, to int
	}{
		{5, 0.01, 0.02, 50, 5},    // reached
		{5, 0.04, 0.02, 50, 10},   // 4× more wanted, at most doubled
		{10, 0.021, 0.02, 50, 14}, // 10·1.1025·1.2 = 13.2
		{40, 0.04, 0.02, 50, 50},  // capped
		{50, 0.04, 0.02, 50, 50},  // budget spent
	} {
		assert.Equal(t, tt.to, PlanRepetitions(tt.n, tt.hw, tt.tgt, tt.limit), "%+v", tt)
	}
}

// TestMDE: an effect of the reported detectable size is found about 80 %
// of the time (power), one of a fifth of it rarely.
func TestMDE(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	// round factor sd 10 %, run jitter 2 %: the pairs' difference has sd
	// 2.83 %, so at n=10 the detectable effect is
	// (t_{.975,9}+t_{.8,9})·0.0283/√10 = (2.262+0.883)·0.00894 = 2.81 %
	draw := func(ratio float64, n int) (x, y []float64) {
		for range n {
			u := 0.1 * rng.NormFloat64()
			x = append(x, ratio*(1+u+0.02*rng.NormFloat64()))
			y = append(y, 1+u+0.02*rng.NormFloat64())
		}
		return
	}
	var mdes []float64
	for range 400 {
		x, y := draw(1, 10)
		r, err := FiellerRatio(x, y, true, 0.95)
		require.NoError(t, err)
		mdes = append(mdes, r.MDE)
	}
	assert.InDelta(t, 0.0281, Median(mdes), 0.003)
	sig := 0
	for range 2000 {
		x, y := draw(1.0281, 10)
		r, err := FiellerRatio(x, y, true, 0.95)
		require.NoError(t, err)
		if r.Significant && r.Ratio > 1 {
			sig++
		}
	}
	// the t quantiles approximate the noncentral t's power
	assert.InDelta(t, 0.8, float64(sig)/2000, 0.05)
}
