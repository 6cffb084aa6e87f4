package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// MedianCI is the distribution-free confidence interval of the median: the
// order statistics x(j) and x(k) around the middle such that, whatever the
// distribution, the median lies between them with probability at least
// level (from the Binomial(n, ½) count of samples below it). Start-up times
// on a loaded machine have long right tails that make a mean's t interval
// wide and a median's CI the honest summary; it needs no assumption of
// normality. The interval is the narrowest symmetric one in ranks with
// coverage >= level; with too few samples for that (n < 6 at 95 %) it is
// the whole range, and Level says the coverage actually reached.
func MedianCI(xs []float64, level float64) (Interval, error) {
	if len(xs) == 0 {
		return Interval{}, ErrEmpty
	}
	if level <= 0 || level >= 1 {
		level = 0.95
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 1 {
		return Interval{Lo: s[0], Hi: s[0], Level: 0}, nil
	}
	b := distuv.Binomial{N: float64(n), P: 0.5}
	// Ranks j (1-based) and n+1-j: coverage is P(j <= B < n+1-j) =
	// 1 - 2·P(B <= j-1). Take the largest j that still covers level.
	j := 1
	for c := j + 1; c <= n/2; c++ {
		if 1-2*b.CDF(float64(c-1)) < level {
			break
		}
		j = c
	}
	cover := 1 - 2*b.CDF(float64(j-1))
	return Interval{Lo: s[j-1], Hi: s[n-j], Level: math.Round(cover*1e4) / 1e4}, nil
}
