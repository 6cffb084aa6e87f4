package stats

import (
	"errors"
	"math"
	"slices"
)

// ErrEmpty is returned when a statistic is asked of no samples.
var ErrEmpty = errors.New("stats: no samples")

// ErrTooFew is returned for fewer than two samples on a side: one sample
// has no spread, so no interval can be given.
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

// Interval is a confidence interval at Level (0.95 for 95 %).
type Interval struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Level float64 `json:"level"`
}

// Contains reports whether v lies inside the interval, ends included.
func (iv Interval) Contains(v float64) bool { return iv.Lo <= v && v <= iv.Hi }

// Summary describes one cell's samples.
type Summary struct {
	N      int      `json:"n"`
	Mean   float64  `json:"mean"`
	Median float64  `json:"median"`
	StdDev float64  `json:"stddev"`
	Min    float64  `json:"min"`
	Max    float64  `json:"max"`
	CI     Interval `json:"ci"` // t interval of the mean
}

// Summarize computes a Summary with the 95 % t interval of the mean.
func Summarize(xs []float64) (Summary, error) {
	ci, err := MeanCI(xs, 0.95)
	if err != nil {
		return Summary{}, err
	}
	return Summary{
		N: len(xs), Mean: Mean(xs), Median: Median(xs), StdDev: StdDev(xs),
		Min: slices.Min(xs), Max: slices.Max(xs), CI: ci,
	}, nil
}
