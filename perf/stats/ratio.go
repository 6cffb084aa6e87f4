package stats

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Ratio is an environment's mean against native's mean, from repetitions
// that were interleaved: repetition i of the environment and repetition i of
// native ran in the same round, minutes apart at most, so whatever else
// loaded the machine then hit both. Fieller's interval uses that pairing
// (the covariance of the two means); see docs/perf-statistics.md for why
// this method and not a bootstrap.
type Ratio struct {
	// N is the number of pairs (Paired) or the smaller sample size.
	N      int  `json:"n"`
	Paired bool `json:"paired"`
	// Ratio is mean(env)/mean(native): 1.03 is 3 % more than native.
	Ratio float64  `json:"ratio"`
	CI    Interval `json:"ci"`
	// Diff is mean(env)-mean(native) in the samples' unit, with the paired
	// (or Welch) t interval; it excludes 0 exactly when CI excludes 1.
	Diff   float64  `json:"diff"`
	DiffCI Interval `json:"diff_ci"`
	// HalfWidth is half the CI's width in ratio units (0.02 = ±2 %): the
	// precision the runner's adaptive repetitions aim at.
	HalfWidth float64 `json:"half_width"`
	// MDE is the smallest relative effect (0.03 = 3 %) this many samples
	// with this spread would detect with 80 % power at the CI's level.
	MDE float64 `json:"mde"`
	// Significant: the CI excludes 1 (no difference).
	Significant bool `json:"significant"`
}

// PercentDiff is (Ratio-1) in percent.
func (r Ratio) PercentDiff() float64 { return (r.Ratio - 1) * 100 }

// ErrUnbounded: the ratio's interval has no finite ends (native's own
// interval includes zero: too few samples for their spread).
var ErrUnbounded = errors.New("stats: the ratio's confidence interval is unbounded")

// tQuantile is the p-quantile of Student's t with df degrees of freedom.
func tQuantile(p, df float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// meanCov returns the means of x and y, their sample variances and (when
// paired) covariance, with n-1 in the denominator.
func meanCov(x, y []float64, paired bool) (mx, my, vx, vy, cxy float64) {
	mx, my = Mean(x), Mean(y)
	for _, v := range x {
		vx += (v - mx) * (v - mx)
	}
	for _, v := range y {
		vy += (v - my) * (v - my)
	}
	vx /= float64(len(x) - 1)
	vy /= float64(len(y) - 1)
	if paired {
		for i := range x {
			cxy += (x[i] - mx) * (y[i] - my)
		}
		cxy /= float64(len(x) - 1)
	}
	return
}

// FiellerRatio is the confidence interval of mean(x)/mean(y) by Fieller's
// theorem. When paired, x[i] and y[i] are one round's repetitions and the
// interval uses their covariance, with n-1 degrees of freedom (it is the
// set of R for which the paired t test of x - R·y does not reject). Unpaired
// (len(x) may differ from len(y)), the covariance is zero and the degrees of
// freedom are Welch-Satterthwaite's. level is 0.95 for 95 %.
//
// The interval is exact when the pairs are bivariate normal. It is
// unbounded when native's mean is not itself significantly different from
// zero; that is returned as an error, as is fewer than two samples a side.
func FiellerRatio(x, y []float64, paired bool, level float64) (Ratio, error) {
	if len(x) < 2 || len(y) < 2 {
		return Ratio{}, ErrTooFew
	}
	if paired && len(x) != len(y) {
		return Ratio{}, fmt.Errorf("stats: paired samples of different lengths %d and %d", len(x), len(y))
	}
	if level <= 0 || level >= 1 {
		level = 0.95
	}
	mx, my, vx, vy, cxy := meanCov(x, y, paired)
	nx, ny := float64(len(x)), float64(len(y))
	// variances of the means
	v11, v22, v12 := vx/nx, vy/ny, cxy/nx
	var df float64
	if paired {
		df = nx - 1
	} else {
		df = welchDF(vx, nx, vy, ny)
	}
	r := Ratio{N: min(len(x), len(y)), Paired: paired, Ratio: mx / my, Diff: mx - my}
	t := tQuantile(1-(1-level)/2, df)
	a := my*my - t*t*v22
	b := -2 * (mx*my - t*t*v12)
	c := mx*mx - t*t*v11
	if a <= 0 || my == 0 {
		return r, fmt.Errorf("%w: the native mean %g is not distinguishable from zero at this spread", ErrUnbounded, my)
	}
	disc := math.Max(b*b-4*a*c, 0)
	r.CI = Interval{Lo: (-b - math.Sqrt(disc)) / (2 * a), Hi: (-b + math.Sqrt(disc)) / (2 * a), Level: level}
	// the difference's t interval, on the same pairs and degrees of freedom
	vd := v11 + v22 - 2*v12
	hd := t * math.Sqrt(math.Max(vd, 0))
	r.DiffCI = Interval{Lo: r.Diff - hd, Hi: r.Diff + hd, Level: level}
	r.HalfWidth = (r.CI.Hi - r.CI.Lo) / 2
	r.Significant = !r.CI.Contains(1)
	// the ratio's standard error by the delta method, for the detectable effect
	se := math.Sqrt(math.Max(v11-2*r.Ratio*v12+r.Ratio*r.Ratio*v22, 0)) / math.Abs(my)
	r.MDE = (t + tQuantile(0.8, df)) * se
	return r, nil
}

func welchDF(vx, nx, vy, ny float64) float64 {
	a, b := vx/nx, vy/ny
	if a+b == 0 {
		return nx + ny - 2
	}
	return (a + b) * (a + b) / (a*a/(nx-1) + b*b/(ny-1))
}

// MeanCI is the t interval of the mean (level 0.95 for 95 %); a point for
// one sample.
func MeanCI(xs []float64, level float64) (Interval, error) {
	if len(xs) == 0 {
		return Interval{}, ErrEmpty
	}
	if level <= 0 || level >= 1 {
		level = 0.95
	}
	m := Mean(xs)
	if len(xs) == 1 {
		return Interval{Lo: m, Hi: m, Level: level}, nil
	}
	h := tQuantile(1-(1-level)/2, float64(len(xs)-1)) * StdDev(xs) / math.Sqrt(float64(len(xs)))
	return Interval{Lo: m - h, Hi: m + h, Level: level}, nil
}

// PlanRepetitions is how many repetitions a cell should have in all for its
// ratio's half-width, now halfWidth after n, to reach target: the width
// shrinks as 1/√n, so n·(halfWidth/target)², 20 % more for the spread's own
// error, at least one more and at most twice n (a spread from few samples is
// itself uncertain), capped at limit. Planning a batch from the estimate,
// rather than checking after every repetition and stopping the first time a
// lucky small spread dips under the target, keeps the interval's coverage
// near nominal (TestAdaptiveStoppingCoverage). n when target is reached.
func PlanRepetitions(n int, halfWidth, target float64, limit int) int {
	if halfWidth <= target || n >= limit {
		return n
	}
	q := halfWidth / target
	want := int(math.Ceil(float64(n) * q * q * 1.2))
	return min(max(want, n+1), 2*n, limit)
}
