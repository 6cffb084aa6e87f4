package runner

import (
	"context"
	"fmt"
	"math"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
)

// calibrate sizes the CPU workloads that ask for a target duration: one
// native job (one thread) is run at the configured size, the size scaled
// by target/measured, and run again to check; twice more if it is still
// off by more than 15 %. The sizes are kept in the results file, so a
// resumed run keeps them. It returns the config with the sizes set.
func calibrate(ctx context.Context, o Options, f *results.File, nat env.Env) (Config, error) {
	cfg := o.Config
	if f.Calibration == nil {
		f.Calibration = map[string]results.Calibration{}
	}
	if c := cfg.CPU; c != nil && c.TargetS > 0 {
		cal, ok := f.Calibration["cpu"]
		if !ok {
			var err error
			cal, err = fit(ctx, "particles", c.Particles, c.TargetS, func(n int) (float64, error) {
				cc := *c
				cc.Particles = n
				o := o
				o.Config.CPU = &cc
				s, err := runCPU(ctx, o, nat, Point{"cpu", map[string]string{"jobs": "1"}})
				return s.Value, err
			})
			if err != nil {
				return cfg, fmt.Errorf("calibrate cpu: %w", err)
			}
			f.Calibration["cpu"] = cal
		}
		cc := *c
		cc.Particles = cal.Value
		cfg.CPU = &cc
	}
	if c := cfg.Sysbench; c != nil && c.TargetS > 0 {
		cal, ok := f.Calibration["sysbench"]
		if !ok {
			var err error
			cal, err = fit(ctx, "events", c.Events, c.TargetS, func(n int) (float64, error) {
				cc := *c
				cc.Events = n
				o := o
				o.Config.Sysbench = &cc
				s, err := runSysbench(ctx, o, nat, Point{"sysbench", map[string]string{"threads": "1"}})
				return s.Metrics["total_s"], err
			})
			if err != nil {
				return cfg, fmt.Errorf("calibrate sysbench: %w", err)
			}
			f.Calibration["sysbench"] = cal
		}
		cc := *c
		cc.Events = cal.Value
		cfg.Sysbench = &cc
	}
	return cfg, nil
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
