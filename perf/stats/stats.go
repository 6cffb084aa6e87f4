package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// ErrEmpty is returned when a statistic is asked of no samples.
var ErrEmpty = errors.New("stats: no samples")

// ErrTooFew is returned by Compare for fewer than two samples on a side: one
// sample has no spread, so its bootstrap interval is a point and any
// difference would look significant.
var ErrTooFew = errors.New("stats: fewer than two samples, no interval")

// Mean is the arithmetic mean; NaN for no samples.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Median is the middle sample, or the mean of the two middle samples; NaN for
// no samples. The input is not reordered.
func Median(xs []float64) float64 {
	return Quantile(xs, 0.5)
}

// Quantile is the q-quantile by linear interpolation between order statistics
// (type 7 of Hyndman & Fan, the default of R and NumPy). The input is not
// reordered.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 || q < 0 || q > 1 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedQuantile(s, q)
}

func sortedQuantile(s []float64, q float64) float64 {
	h := q * float64(len(s)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-lo)*(s[i+1]-s[i])
}

// StdDev is the sample standard deviation (n-1 in the denominator); 0 for one
// sample, NaN for none.
func StdDev(xs []float64) float64 {
	switch len(xs) {
	case 0:
		return math.NaN()
	case 1:
		return 0
	}
	m := Mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// Estimator reduces a sample to one number (Mean or Median).
type Estimator func([]float64) float64

// Interval is a confidence interval at Level (0.95 for 95 %).
type Interval struct {
	Lo, Hi float64
	Level  float64
}

// Contains reports whether v lies inside the interval, ends included.
func (iv Interval) Contains(v float64) bool { return iv.Lo <= v && v <= iv.Hi }

// Options tune the bootstrap. Zero values take the defaults.
type Options struct {
	Resamples int     // default 10000
	Level     float64 // default 0.95
}

func (o Options) withDefaults() Options {
	if o.Resamples <= 0 {
		o.Resamples = 10000
	}
	if o.Level <= 0 || o.Level >= 1 {
		o.Level = 0.95
	}
	return o
}

func resample(rng *rand.Rand, xs, buf []float64) []float64 {
	buf = buf[:len(xs)]
	for i := range buf {
		buf[i] = xs[rng.IntN(len(xs))]
	}
	return buf
}

func percentileInterval(boot []float64, level float64) Interval {
	slices.Sort(boot)
	a := (1 - level) / 2
	return Interval{Lo: sortedQuantile(boot, a), Hi: sortedQuantile(boot, 1-a), Level: level}
}

// BootstrapCI is the percentile-bootstrap confidence interval of est over xs.
func BootstrapCI(rng *rand.Rand, xs []float64, est Estimator, opt Options) (Interval, error) {
	if len(xs) == 0 {
		return Interval{}, ErrEmpty
	}
	opt = opt.withDefaults()
	boot := make([]float64, opt.Resamples)
	buf := make([]float64, len(xs))
	for i := range boot {
		boot[i] = est(resample(rng, xs, buf))
	}
	return percentileInterval(boot, opt.Level), nil
}

// Summary describes one cell's samples.
type Summary struct {
	N      int      `json:"n"`
	Mean   float64  `json:"mean"`
	Median float64  `json:"median"`
	StdDev float64  `json:"stddev"`
	Min    float64  `json:"min"`
	Max    float64  `json:"max"`
	CI     Interval `json:"ci"` // bootstrap CI of the mean
}

// Summarize computes a Summary; the CI is of the mean.
func Summarize(rng *rand.Rand, xs []float64, opt Options) (Summary, error) {
	ci, err := BootstrapCI(rng, xs, Mean, opt)
	if err != nil {
		return Summary{}, err
	}
	return Summary{
		N: len(xs), Mean: Mean(xs), Median: Median(xs), StdDev: StdDev(xs),
		Min: slices.Min(xs), Max: slices.Max(xs), CI: ci,
	}, nil
}

// Comparison is an environment's samples against native's.
type Comparison struct {
	// Ratio is est(env)/est(native): 1.03 means 3 % slower for a runtime.
	Ratio   float64  `json:"ratio"`
	RatioCI Interval `json:"ratio_ci"`
	// Diff is est(env)-est(native) in the samples' unit.
	Diff   float64  `json:"diff"`
	DiffCI Interval `json:"diff_ci"`
	// Significant is false when DiffCI spans zero (equivalently RatioCI
	// spans one): the data cannot tell the two apart.
	Significant bool `json:"significant"`
}

// PercentDiff is the difference vs native in percent, as the seed's tables
// print it (positive: env has the larger value).
func (c Comparison) PercentDiff() float64 { return (c.Ratio - 1) * 100 }

// Verdict is the human reading of the comparison.
func (c Comparison) Verdict() string {
	if !c.Significant {
		return "no significant difference"
	}
	return fmt.Sprintf("%+.2f%% [%+.2f%%, %+.2f%%]", c.PercentDiff(), (c.RatioCI.Lo-1)*100, (c.RatioCI.Hi-1)*100)
}

// Compare bootstraps the two samples independently (each resample draws from
// env and native with replacement) and reads the ratio and difference of est
// from the same resamples, so the two intervals agree on significance.
func Compare(rng *rand.Rand, env, native []float64, est Estimator, opt Options) (Comparison, error) {
	if len(env) == 0 || len(native) == 0 {
		return Comparison{}, ErrEmpty
	}
	if len(env) < 2 || len(native) < 2 {
		return Comparison{}, ErrTooFew
	}
	opt = opt.withDefaults()
	ratios := make([]float64, opt.Resamples)
	diffs := make([]float64, opt.Resamples)
	be := make([]float64, len(env))
	bn := make([]float64, len(native))
	for i := range ratios {
		e := est(resample(rng, env, be))
		n := est(resample(rng, native, bn))
		ratios[i] = e / n
		diffs[i] = e - n
	}
	e, n := est(env), est(native)
	c := Comparison{
		Ratio:   e / n,
		RatioCI: percentileInterval(ratios, opt.Level),
		Diff:    e - n,
		DiffCI:  percentileInterval(diffs, opt.Level),
	}
	c.Significant = !c.DiffCI.Contains(0)
	return c, nil
}
