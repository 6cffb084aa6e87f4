// Package stats summarises benchmark samples honestly enough to say "no
// measurable difference" when that is the truth: median, mean, sample
// standard deviation, t intervals of a mean, and an environment's mean
// against native's as a ratio with Fieller's confidence interval from
// interleaved (paired) repetitions, the half-width the runner's adaptive
// repetitions aim at, and the smallest effect the samples could detect.
// docs/perf-statistics.md explains the choice and how it was checked.
package stats
