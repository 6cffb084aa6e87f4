// Package stats summarises benchmark samples honestly enough to say "no
// measurable difference" when that is the truth: median, mean, sample
// standard deviation, percentile-bootstrap 95 % confidence intervals, and the
// overhead of an environment against native as a ratio with its own CI.
//
// Randomness is always passed in (a *rand.Rand built from a seed) so that a
// report computed twice from the same samples prints the same intervals.
package stats
