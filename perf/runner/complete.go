package runner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsbench/nsbench/perf/results"
)

// CheckComplete tells whether f holds the whole matrix of cfg, as the
// merge of a sharded run must: every point in every environment that was
// neither skipped nor failed, each with at least cfg.Repetitions samples
// numbered 0, 1, … without gaps or repeats, and no cell outside the matrix.
// The error lists what is missing (a shard that did not run, a lost file).
func CheckComplete(cfg Config, f *results.File) error {
	var problems []string
	want := map[string]bool{}
	for _, p := range cfg.Points(f.Machine.Cores) {
		for _, e := range cfg.Envs {
			if _, skipped := f.Skipped[e]; skipped {
				continue
			}
			key := p.CellKey(e)
			want[key] = true
			i := slices.IndexFunc(f.Cells, func(c results.Cell) bool { return c.Key == key })
			if i < 0 {
				if !unsupported(f, e, p) {
					problems = append(problems, "missing cell "+key)
				}
				continue
			}
			c := f.Cells[i]
			if c.Failed != "" {
				continue
			}
			reps := make([]int, 0, len(c.Samples))
			for _, s := range c.Samples {
				reps = append(reps, s.Rep)
			}
			slices.Sort(reps)
			for j, r := range reps {
				if r != j {
					problems = append(problems, fmt.Sprintf("%s: repetitions %v, want 0…%d without gaps", key, reps, len(reps)-1))
					break
				}
			}
			if len(reps) < cfg.Repetitions && !unsupported(f, e, p) {
				problems = append(problems, fmt.Sprintf("%s: %d samples, want at least %d", key, len(reps), cfg.Repetitions))
			}
		}
	}
	for _, c := range f.Cells {
		if !want[c.Key] {
			problems = append(problems, "cell "+c.Key+" is not in the matrix of "+cfg.Name)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("results of %s are incomplete (%d problems): %s", cfg.Name, len(problems), strings.Join(problems, "; "))
	}
	return nil
}

// unsupported: the environment said it cannot run this kind of point.
func unsupported(f *results.File, e string, p Point) bool {
	_, ok := f.Skipped[SkipName(e, p)]
	return ok
}
