package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/order"
	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/stats"
	"github.com/nsbench/nsbench/perf/workload"
)

// matrixRun runs the matrix in rounds. Round r runs repetition r of every
// point that still needs one, each point in every environment back to
// back, in a balanced order (package order: every environment runs in
// every position, and right after every other, equally often). With a
// precision goal, a point's planned repetitions grow after each of its
// rounds until every environment's ratio to native is that precise
// (stats.PlanRepetitions), or the budget is spent. The budget counts from
// the end of the fixed rounds (every point's minimum repetitions): counted
// from the run's start, slow fixed workloads (fs, net) could spend all of
// it before an adaptive one (cpu) got a single extra round.
type matrixRun struct {
	o      Options
	f      *results.File
	deps   workload.Deps
	envs   []env.Env // the ones still running: a failed one leaves
	points []Point
	start  time.Time

	target map[string]int // point key -> repetitions planned
	// pointTime: how long each point's last round took (all its
	// environments), to tell whether the next round fits the budget.
	pointTime map[string]time.Duration
	// adaptiveStart: when the first round beyond the minimum began.
	adaptiveStart time.Time
	ran           time.Duration // time in samples, for the ETA
	ranN          int
	doneN         int
}

func (r *matrixRun) adaptive(p Point) bool {
	pc := r.o.Config.Precision
	return pc != nil && (len(pc.Workloads) == 0 || slices.Contains(pc.Workloads, p.Workload))
}

func (r *matrixRun) run(ctx context.Context) error {
	cfg := r.o.Config
	pc := cfg.Precision
	r.target, r.pointTime = map[string]int{}, map[string]time.Duration{}
	for _, p := range r.points {
		r.target[p.Key()] = cfg.Repetitions
		// a resumed run goes on from what the file already has
		if r.adaptive(p) {
			if n := r.repsDone(p); n > cfg.Repetitions {
				r.target[p.Key()] = n
			}
		}
	}
	if pc != nil {
		r.f.Precision = &results.Precision{HalfWidth: pc.HalfWidth, MinRepetitions: cfg.Repetitions,
			MaxRepetitions: pc.MaxRepetitions, MaxMinutes: pc.MaxMinutes, Workloads: pc.Workloads, Warmups: cfg.Warmups}
	}
	stop := ""
	for round := 0; ; round++ {
		var due []Point
		for _, p := range r.points {
			if r.target[p.Key()] > round {
				due = append(due, p)
			}
		}
		if len(due) == 0 || len(r.envs) == 0 {
			break
		}
		if pc != nil && round >= cfg.Repetitions {
			if r.adaptiveStart.IsZero() {
				r.adaptiveStart = time.Now()
			}
			// The next round takes about what its points' last rounds took.
			var next time.Duration
			for _, p := range due {
				next += r.pointTime[p.Key()]
			}
			budget := time.Duration(pc.MaxMinutes * float64(time.Minute))
			if time.Since(r.adaptiveStart)+next > budget {
				stop = "time budget"
				break
			}
		}
		if q := cfg.Quiet; q != nil {
			waited, quiet, err := waitQuiet(ctx, q.MaxBusy, time.Duration(q.MaxWaitS*float64(time.Second)))
			if err != nil {
				return err
			}
			c := r.f.Conditions
			c.QuietWaitS += waited.Seconds()
			c.QuietRounds++
			if !quiet {
				c.QuietMissed++
			}
		}
		for _, p := range due {
			t0 := time.Now()
			for _, e := range order.Of(r.envs, round) {
				if !slices.Contains(r.envs, e) {
					continue // failed earlier in this round
				}
				if err := r.sample(ctx, e, p, round); err != nil {
					return err
				}
			}
			r.pointTime[p.Key()] = time.Since(t0)
		}
		for _, p := range due {
			if r.adaptive(p) && r.target[p.Key()] == round+1 {
				hw, ok := r.halfWidth(p)
				if ok {
					r.target[p.Key()] = stats.PlanRepetitions(round+1, hw, pc.HalfWidth, pc.MaxRepetitions)
				}
			}
		}
	}
	r.finish(stop)
	if r.o.Progress != nil {
		cr := ""
		if r.o.TTY {
			cr = "\r\033[K"
		}
		fmt.Fprintf(r.o.Progress, "%sdone: %d samples in %d cells in %s\n", cr, r.doneN, len(r.points)*len(r.o.Config.Envs), elapsedString(time.Since(r.start)))
	}
	return nil
}

// repsDone is the number of repetitions of p that every running
// environment has.
func (r *matrixRun) repsDone(p Point) int {
	n := math.MaxInt
	for _, e := range r.envs {
		n = min(n, len(r.f.Cell(p.CellKey(e.Name())).Samples))
	}
	if n == math.MaxInt {
		return 0
	}
	return n
}

// halfWidth is the widest 95 % CI half-width of p's env/native ratios; ok
// is false when there is no native to compare with.
func (r *matrixRun) halfWidth(p Point) (float64, bool) {
	nat := r.cellOf(p, "native")
	if nat == nil || len(nat.Samples) == 0 {
		return 0, false
	}
	hw := 0.0
	for _, e := range r.envs {
		if e.Name() == "native" {
			continue
		}
		c := r.cellOf(p, e.Name())
		if c == nil || len(c.Samples) == 0 {
			continue // skipped: unsupported here
		}
		x, y := results.Paired(c, nat)
		rt, err := stats.FiellerRatio(x, y, true, 0.95)
		if err != nil {
			return math.Inf(1), true
		}
		hw = max(hw, rt.HalfWidth)
	}
	return hw, true
}

func (r *matrixRun) cellOf(p Point, envName string) *results.Cell {
	key := p.CellKey(envName)
	for i := range r.f.Cells {
		if r.f.Cells[i].Key == key {
			return &r.f.Cells[i]
		}
	}
	return nil
}

func (r *matrixRun) cell(p Point, envName string) *results.Cell {
	c := r.f.Cell(p.CellKey(envName))
	c.Point, c.Workload, c.Env, c.Params = p.Key(), p.Workload, envName, p.Params
	if w := r.o.Config.Workload(p.Workload); w != nil {
		c.Unit, c.Axis = w.Unit(), w.Axis()
	}
	return c
}

// sample runs repetition rep of p in e (after the warm-ups, for a cell's
// first) and records it with its noise. It returns an error only when the
// run must stop (interrupted, results file not writable); a failing
// environment is recorded and leaves the run.
func (r *matrixRun) sample(ctx context.Context, e env.Env, p Point, rep int) error {
	c := r.cell(p, e.Name())
	if c.HasRep(rep) {
		return nil
	}
	o := r.o
	if len(c.Samples) == 0 {
		for range o.Config.Warmups {
			_, err := runPoint(ctx, o.Config, r.deps, e, p)
			if errors.Is(err, env.ErrUnsupported) {
				break // the sample below records the skip
			}
			if err != nil {
				return r.fail(ctx, e, c, rep, fmt.Errorf("warm-up: %w", err))
			}
		}
	}
	r.progress(c.Key, rep)
	inj, _ := e.(*env.Injected)
	if inj != nil {
		inj.TakeStopped()
	}
	a := takeSnapshot(e)
	s, err := runPoint(ctx, o.Config, r.deps, e, p)
	b := takeSnapshot(e)
	if errors.Is(err, env.ErrUnsupported) {
		r.f.Skipped[skipKey(e, p)] = err.Error()
		return nil
	}
	if err != nil {
		return r.fail(ctx, e, c, rep, err)
	}
	r.ran += b.t.Sub(a.t)
	r.ranN++
	r.doneN++
	s.Rep, s.Start, s.Noise = rep, a.t.UTC(), noise(a, b)
	if inj != nil {
		jobs := 1.0
		if p.Workload == "cpu" {
			n, _ := strconv.Atoi(p.Params["jobs"])
			jobs = float64(max(n, 1))
		}
		if s.Metrics == nil {
			s.Metrics = map[string]float64{}
		}
		// per job, as the cpu sample's value is the jobs' average wall time
		s.Metrics["injected_stop_s"] = inj.TakeStopped().Seconds() / jobs
	}
	c.Samples = append(c.Samples, s)
	return r.f.Save(o.Out)
}

// fail records e's failure with the full error and the job's output,
// marks every cell of e in this run as failed, and takes e out of the run.
func (r *matrixRun) fail(ctx context.Context, e env.Env, c *results.Cell, rep int, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s rep %d: %w", c.Key, rep, err)
	}
	fl := results.Failure{Cell: c.Key, Rep: rep, Time: time.Now().UTC(), Error: err.Error()}
	var oe *workload.OutputError
	if errors.As(err, &oe) {
		fl.Output = string(oe.Output)
		if len(fl.Output) > 64<<10 {
			fl.Output = fl.Output[:32<<10] + "\n… (output shortened) …\n" + fl.Output[len(fl.Output)-32<<10:]
		}
	}
	if r.f.Failed == nil {
		r.f.Failed = map[string]results.Failure{}
	}
	r.f.Failed[e.Name()] = fl
	for _, p := range r.points {
		r.cell(p, e.Name()).Failed = fmt.Sprintf("%s failed at %s repetition %d (see failed); samples before it are kept", e.Name(), c.Point, rep)
	}
	r.envs = slices.DeleteFunc(r.envs, func(x env.Env) bool { return x == e })
	if r.o.Progress != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		cr := ""
		if r.o.TTY {
			cr = "\r\033[K"
		}
		fmt.Fprintf(r.o.Progress, "%s%s FAILED at %s repetition %d, going on without it: %s\n", cr, e.Name(), c.Point, rep, first)
	}
	return r.f.Save(r.o.Out)
}

// finish notes, per adaptive cell that did not reach the goal, why not.
func (r *matrixRun) finish(stop string) {
	pc := r.o.Config.Precision
	if pc == nil {
		return
	}
	missed := 0
	for _, p := range r.points {
		if !r.adaptive(p) {
			continue
		}
		nat := r.cellOf(p, "native")
		for _, e := range r.envs {
			c := r.cellOf(p, e.Name())
			if e.Name() == "native" || c == nil || nat == nil || len(c.Samples) == 0 {
				continue
			}
			c.Stopped = ""
			x, y := results.Paired(c, nat)
			rt, err := stats.FiellerRatio(x, y, true, 0.95)
			if err == nil && rt.HalfWidth <= pc.HalfWidth {
				continue
			}
			missed++
			why := stop
			if len(x) >= pc.MaxRepetitions {
				why = "max_repetitions"
			} else if why == "" {
				why = "run ended"
			}
			hw := "unbounded"
			if err == nil {
				hw = fmt.Sprintf("±%.1f %%", rt.HalfWidth*100)
			}
			c.Stopped = fmt.Sprintf("%s after %d repetitions, not ±%.1f %%: %s", hw, len(x), pc.HalfWidth*100, why)
		}
	}
	r.f.Precision.ElapsedS = time.Since(r.start).Seconds()
	if !r.adaptiveStart.IsZero() {
		r.f.Precision.AdaptiveS = time.Since(r.adaptiveStart).Seconds()
	}
	switch {
	case missed == 0:
		r.f.Precision.Stop = "reached"
	case stop != "":
		r.f.Precision.Stop = stop
	default:
		r.f.Precision.Stop = "max_repetitions"
	}
}

// progress prints where the run is: rewriting one line on a terminal, a
// plain line per sample otherwise (CI logs, Slurm output files).
func (r *matrixRun) progress(key string, rep int) {
	w := r.o.Progress
	if w == nil {
		return
	}
	planned := 0
	for _, p := range r.points {
		planned += r.target[p.Key()] * len(r.envs)
	}
	done := 0
	for _, p := range r.points {
		for _, e := range r.envs {
			if c := r.cellOf(p, e.Name()); c != nil {
				done += len(c.Samples)
			}
		}
	}
	eta := "?"
	if r.ranN > 0 {
		eta = "~" + elapsedString(r.ran/time.Duration(r.ranN)*time.Duration(max(planned-done, 0)))
		if r.o.Config.Precision != nil {
			eta = "≥" + eta[len("~"):] + " (adaptive, budget " + strconv.FormatFloat(r.o.Config.Precision.MaxMinutes, 'f', -1, 64) + " min)"
		}
	}
	line := fmt.Sprintf("[%d/%d] %s rep %d  elapsed %s  remaining %s", done+1, planned, key, rep+1, elapsedString(time.Since(r.start)), eta)
	if r.o.TTY {
		fmt.Fprintf(w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(w, line)
}

// elapsedString is d rounded for a progress line.
func elapsedString(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	return d.Round(time.Second).String()
}
