package env

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Injected is native with a known overhead, the known answer that tests the
// whole pipeline (runner, statistics, report), or with an injected crash for
// the runner's failure handling:
//
//   - "native:copy" is native under another name: it must come out as no
//     difference;
//   - "native:work=f" has the runner give each job the fraction f more work
//     (particles, events): a CPU-bound job costs 1+f times as much CPU in
//     whatever share of the machine it gets, native's share, so the answer
//     is known however busy the machine is;
//   - "native:stop=f" stops each job with SIGSTOP for the fraction f of
//     every 100 ms (the stops made are counted, TakeStopped). On a busy
//     machine this is not a known answer: a job resumed after a stop is
//     favoured by the scheduler over the tasks that kept running, and makes
//     up for much of the stop (a 10 % stop measured −11 % [−21, −1] here,
//     with the machine's CPU pressure at 97 %). A CPU quota fails alike: it
//     only slows a job that would have used more than its quota.
//   - "native:fail-after=n" kills every job after the first n (SIGKILL
//     once started).
type Injected struct {
	name   string
	stop   float64 // fraction of each period stopped; 0 for a copy
	period time.Duration

	// work: the fraction of extra work the runner gives the job (ExtraWork)
	work float64
	// failAfter > 0: jobs after this many are killed once started, a
	// runtime crashing mid-run for the runner's failure handling.
	failAfter int

	mu      sync.Mutex
	stopped time.Duration // sum over jobs since the last TakeStopped
	jobs    int
}

// NewInjected parses the option of "native:<opt>": "copy" or "stop=<f>"
// with 0 < f < 0.5.
func NewInjected(name, opt string) (*Injected, error) {
	e := &Injected{name: name, period: 100 * time.Millisecond}
	switch k, v, _ := strings.Cut(opt, "="); k {
	case "copy":
	case "work":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f >= 1 {
			return nil, fmt.Errorf("environment %q: work=%q: want a fraction in (0, 1), e.g. native:work=0.05", name, v)
		}
		e.work = f
	case "fail-after":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("environment %q: fail-after=%q: want a number of jobs >= 0", name, v)
		}
		e.failAfter = n + 1
	case "stop":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f >= 0.5 {
			return nil, fmt.Errorf("environment %q: stop=%q: want a fraction in (0, 0.5), e.g. native:stop=0.05", name, v)
		}
		e.stop = f
	default:
		return nil, fmt.Errorf("environment %q: want native:copy, native:work=<fraction>, native:stop=<fraction> or native:fail-after=<jobs>", name)
	}
	return e, nil
}

// Name implements Env.
func (e *Injected) Name() string { return e.name }

// Available implements Env.
func (e *Injected) Available(context.Context) error { return nil }

// Version implements Env.
func (e *Injected) Version(context.Context) string {
	switch {
	case e.work > 0:
		return fmt.Sprintf("native, %.1f %% more work", e.work*100)
	case e.stop > 0:
		return fmt.Sprintf("native, stopped %.1f %% of every %s", e.stop*100, e.period)
	case e.failAfter > 0:
		return fmt.Sprintf("native, killed after %d jobs", e.failAfter-1)
	}
	return "native (copy)"
}

// Close implements Env.
func (e *Injected) Close() error { return nil }

// Run implements Env.
func (e *Injected) Run(ctx context.Context, job Job) ([]byte, error) {
	e.mu.Lock()
	e.jobs++
	crash := e.failAfter > 0 && e.jobs >= e.failAfter
	e.mu.Unlock()
	switch {
	case crash:
		return runNative(ctx, e.name, job, func(p *os.Process, _ <-chan struct{}) { _ = p.Kill() })
	case e.stop == 0:
		return runNative(ctx, e.name, job, nil)
	}
	return runNative(ctx, e.name, job, e.dutyCycle)
}

// ExtraWork is the fraction by which the runner enlarges the job's work in
// this environment ("native:work=0.05": 5 % more particles or events).
func (e *Injected) ExtraWork() float64 { return e.work }

// TakeStopped returns the time jobs were held stopped since the last call
// (summed over concurrent jobs) and resets it.
func (e *Injected) TakeStopped() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.stopped
	e.stopped = 0
	return d
}

// dutyCycle stops p for stop·period out of every period until done.
func (e *Injected) dutyCycle(p *os.Process, done <-chan struct{}) {
	run := time.Duration(float64(e.period) * (1 - e.stop))
	hold := e.period - run
	var total time.Duration
	defer func() {
		e.mu.Lock()
		e.stopped += total
		e.mu.Unlock()
	}()
	for {
		select {
		case <-done:
			return
		case <-time.After(run):
		}
		if p.Signal(syscall.SIGSTOP) != nil {
			return // exited
		}
		t0 := time.Now()
		select {
		case <-done:
		case <-time.After(hold):
		}
		_ = p.Signal(syscall.SIGCONT)
		total += time.Since(t0)
	}
}
