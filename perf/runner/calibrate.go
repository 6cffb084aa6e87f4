package runner

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/workload"
)

// calibrate sizes the workloads that ask for a target duration
// (workload.Sizer with a target): one native job (one thread) is run at the
// configured size, the size scaled by target/measured, and run again to
// check; twice more if it is still off by more than 15 %. The sizes are
// kept in the results file, so a resumed run (and every kernel of a VM
// run, whose guests get the file) keeps them. It returns the config with
// the sizes set.
func calibrate(ctx context.Context, cfg Config, deps workload.Deps, f *results.File, nat env.Env) (Config, error) {
	if f.Calibration == nil {
		f.Calibration = map[string]results.Calibration{}
	}
	out := cfg
	out.Workloads = slices.Clone(cfg.Workloads)
	for i, w := range out.Workloads {
		sz, ok := w.(workload.Sizer)
		if !ok {
			continue
		}
		param, n, target := sz.Size()
		if target <= 0 {
			continue
		}
		cal, ok := f.Calibration[w.Name()]
		if !ok {
			var err error
			cal, err = fit(ctx, param, n, target, func(n int) (float64, error) {
				c := cfg
				c.Workloads = []workload.Workload{sz.Resized(n)}
				s, err := runPoint(ctx, c, deps, nat, Point{w.Name(), sz.CalibrationPoint()})
				return sz.Seconds(s), err
			})
			if err != nil {
				return cfg, fmt.Errorf("calibrate %s: %w", w.Name(), err)
			}
			f.Calibration[w.Name()] = cal
		}
		out.Workloads[i] = sz.Resized(cal.Value)
	}
	return out, nil
}

// fit finds the size n at which measure(n) is about target seconds, for a
// measure linear in n.
func fit(ctx context.Context, param string, n int, target float64, measure func(int) (float64, error)) (results.Calibration, error) {
	n = max(n, 1)
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return results.Calibration{}, err
		}
		got, err := measure(n)
		if err != nil {
			return results.Calibration{}, err
		}
		if got <= 0 {
			return results.Calibration{}, fmt.Errorf("%s=%d measured %g s", param, n, got)
		}
		if math.Abs(got/target-1) <= 0.15 || i == 3 {
			return results.Calibration{Param: param, Value: n, TargetS: target, MeasuredS: got}, nil
		}
		// a first run far too short says little: grow at most 100× a step
		n = max(1, int(math.Round(float64(n)*min(target/got, 100))))
	}
}
