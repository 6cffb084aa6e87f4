// Package startcost measures what it costs OCI runtimes to start a
// container: `run` of /bin/true from one busybox bundle, the same bytes for
// every runtime, in rounds that run every runtime once in a balanced order
// (package order: each runtime in every position, and right after every
// other, equally often) so that whatever else loads the machine, and
// whatever one runtime leaves warm or cold for the next, hits all alike.
// Each run is timed on the wall clock and in CPU time (user + system of the
// runtime and every process it reaped: its init and the container's
// program), which a loaded machine disturbs far less.
//
// The conditions must be the same for every runtime. On a hybrid cgroup
// host crun needs the cgroup2 mount hidden (internal/oci); the caller
// arranges that once for all of them (a private mount namespace with the
// mount detached, oci.DetachCgroup2) and may pass the per-call wrapper, so
// that its own cost is measured beside, not inside, crun's.
//
// With Trace, nsrun is also run with NSRUN_TRACE, and the points it records
// (package runtime/timeline) give the breakdown of its time by phase.
//
// The file is over 500 lines because measuring (rounds, timing of a
// command and its reaped children, traces) and the statistics of that
// one design (medians, paired differences, phases) change together.
package startcost

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/order"
	"github.com/nsbench/nsbench/perf/stats"
	"github.com/nsbench/nsbench/runtime/timeline"
)

// Options describe one benchmark.
type Options struct {
	// Runtimes to compare; each keeps its state under Dir.
	Runtimes []*oci.Runtime
	// Rounds is how many times each runtime runs.
	Rounds int
	// Dir holds the bundle, the runtimes' state and the traces.
	Dir string
	// Configure adjusts the bundle's config (an engine's seccomp profile).
	Configure func(*specs.Spec) error
	// Trace adds a row of nsrun runs with NSRUN_TRACE set: the phase
	// breakdown, and beside plain nsrun what tracing itself costs.
	Trace bool
	// Wrapper, when set, is the per-call cgroup2 wrapper (oci.Cgroup2Wrapper)
	// as internal/oci runs crun on a hybrid host: the rounds then also time
	// crun through it, /bin/true through it and /bin/true alone.
	Wrapper []string
	// Setup says how the conditions were made the same, for the report.
	Setup string
	// Gap is a pause before every run, so that each starts on a host
	// that has been quiet for a moment, as a container started on its
	// own does. Back to back, a run inherits kernel state from the one
	// before it: the first move of a process into a v1 cgroup waits out
	// an RCU grace period (5-30 ms) only when cgroup_threadgroup_rwsem has
	// been idle for one, so a runtime that moves processes finds it warm
	// after another runtime's run and cold after a pause. Zero runs them
	// back to back.
	Gap time.Duration
	// Progress, when not nil, gets a line per round.
	Progress io.Writer
}

// Row names.
const (
	rowTraced      = "nsrun (traced)"
	rowWrappedCrun = "crun + per-call wrapper"
	rowTrue        = "/bin/true"
	rowWrapperTrue = "wrapper + /bin/true"
)

// Row is one kind of run: its samples and their summary.
type Row struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Samples are the runs that worked.
	Samples []Sample `json:"samples"`
	// Err is why the row stopped (its first failure).
	Err  string   `json:"error,omitempty"`
	Stat RowStats `json:"stats"`

	// Wall and CPU are milliseconds per round, NaN where a round had none.
	Wall, CPU []float64 `json:"-"`

	run func(ctx context.Context, id string) (sample, error)
}

// Sample is one run.
type Sample struct {
	Round int     `json:"round"`
	Wall  float64 `json:"wall_ms"`
	CPU   float64 `json:"cpu_ms"`
	// CSW counts the context switches (voluntary and not) of the runtime
	// and its reaped children: each is a wait for a CPU on a loaded host.
	CSW int64 `json:"csw"`
}

// Estimate is a median with its distribution-free 95 % interval.
type Estimate struct {
	Median float64        `json:"median"`
	CI     stats.Interval `json:"ci"`
	P10    float64        `json:"p10"`
	P90    float64        `json:"p90"`
}

// RowStats summarises a row; no estimate without samples.
type RowStats struct {
	N    int       `json:"n"`
	Wall *Estimate `json:"wall_ms,omitempty"`
	CPU  *Estimate `json:"cpu_ms,omitempty"`
	// CSW is the median number of context switches.
	CSW float64 `json:"csw"`
}

// Diff is a paired comparison: the median of the per-round differences
// A - B (the same round, so the same load) with its interval.
type Diff struct {
	A    string   `json:"a"`
	B    string   `json:"b"`
	N    int      `json:"n"`
	Wall Estimate `json:"wall_ms"`
	CPU  Estimate `json:"cpu_ms"`
}

// Phase is one phase of nsrun's traced runs: the time until Point.
type Phase struct {
	Point string   `json:"point"`
	Label string   `json:"label"`
	N     int      `json:"n"`
	MS    Estimate `json:"ms"`
	// CPU is the CPU time the process that passed Point used since its
	// previous point (since its start for its first), when recorded.
	CPU *Estimate `json:"cpu_ms,omitempty"`
}

// Result is the whole benchmark.
type Result struct {
	Rounds int    `json:"rounds"`
	Setup  string `json:"setup"`
	// GapMS is Options.Gap in milliseconds.
	GapMS float64 `json:"gap_ms"`
	// Load is /proc/loadavg before and after.
	Load  [2]string `json:"load"`
	Rows  []*Row    `json:"rows"`
	Diffs []Diff    `json:"diffs"`
	// Steps compare consecutive builds of nsrun given as rows named
	// nsrun@LABEL (each minus the one before): what each change bought.
	Steps []Diff `json:"steps,omitempty"`
	// Wrapper is the per-call wrapper's own cost: (wrapper + /bin/true)
	// minus /bin/true, paired by round.
	Wrapper *Diff   `json:"wrapper,omitempty"`
	Phases  []Phase `json:"phases,omitempty"`
	// TracedTotal is the median wall time of the traced runs.
	TracedTotal float64 `json:"traced_total_ms,omitempty"`
}

type sample struct {
	wall, cpu float64 // ms
	csw       int64
	// t0 and t1 are the fork and the reap (timeline.Now).
	t0, t1 int64
	phases []timeline.Phase
}

// Run runs the benchmark.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Rounds < 2 {
		return nil, fmt.Errorf("startcost: %d rounds: need at least 2 for an interval", o.Rounds)
	}
	b, err := bundle.New(filepath.Join(o.Dir, "bundle"), bundle.Options{Args: []string{"/bin/true"}, Rootless: os.Geteuid() != 0})
	if err != nil {
		return nil, err
	}
	if o.Configure != nil {
		if err := o.Configure(b.Spec); err != nil {
			return nil, err
		}
		if err := b.Save(); err != nil {
			return nil, err
		}
	}
	rows, err := makeRows(ctx, o, b.Dir)
	if err != nil {
		return nil, err
	}
	res := &Result{Rounds: o.Rounds, Setup: o.Setup, Rows: rows, GapMS: float64(o.Gap) / float64(time.Millisecond)}
	res.Load[0] = loadavg()
	var traces [][]timeline.Phase
	for k := 0; k < o.Rounds; k++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for j, row := range order.Of(rows, k) {
			if row.Err != "" {
				row.Wall, row.CPU = append(row.Wall, nan), append(row.CPU, nan)
				continue
			}
			id := "startcost-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(k) + "-" + strconv.Itoa(j)
			if o.Gap > 0 {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(o.Gap):
				}
			}
			s, err := row.run(ctx, id)
			if err != nil {
				row.Err = err.Error()
				row.Wall, row.CPU = append(row.Wall, nan), append(row.CPU, nan)
				continue
			}
			row.Wall, row.CPU = append(row.Wall, s.wall), append(row.CPU, s.cpu)
			row.Samples = append(row.Samples, Sample{Round: k, Wall: s.wall, CPU: s.cpu, CSW: s.csw})
			if s.phases != nil {
				traces = append(traces, s.phases)
			}
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "round %d/%d:%s\n", k+1, o.Rounds, roundLine(rows, k))
		}
	}
	res.Load[1] = loadavg()
	for _, r := range rows {
		r.Stat = rowStats(r)
	}
	res.Diffs = diffs(rows)
	res.Steps = steps(rows)
	if o.Wrapper != nil {
		if d, ok := pairDiff(find(rows, rowWrapperTrue), find(rows, rowTrue)); ok {
			res.Wrapper = &d
		}
	}
	res.Phases, res.TracedTotal = phaseStats(traces)
	return res, nil
}

var nan = func() float64 { var z float64; return z / z }()

func roundLine(rows []*Row, k int) string {
	var b strings.Builder
	for _, r := range rows {
		if k < len(r.Wall) && r.Wall[k] == r.Wall[k] {
			fmt.Fprintf(&b, " %s %.1f ms", r.Name, r.Wall[k])
		}
	}
	return b.String()
}

// makeRows builds the rows: each runtime, then the traced nsrun, crun
// through the per-call wrapper, and the wrapper's baseline pair.
func makeRows(ctx context.Context, o Options, bundleDir string) ([]*Row, error) {
	var rows []*Row
	var nsrun, crun *oci.Runtime
	for _, rt := range o.Runtimes {
		rt := rt
		v, err := rt.Version(ctx)
		row := &Row{Name: rt.Name, Version: v, run: runtimeRun(rt, bundleDir, "")}
		if err != nil {
			row.Err = err.Error()
		}
		rows = append(rows, row)
		switch rt.Name {
		case "nsrun":
			nsrun = rt
		case "crun":
			crun = rt
		}
	}
	if o.Trace && nsrun != nil {
		traced := *nsrun
		rows = append(rows, &Row{Name: rowTraced, Version: find(rows, "nsrun").Version, run: runtimeRun(&traced, bundleDir, filepath.Join(o.Dir, "traces"))})
		if err := os.MkdirAll(filepath.Join(o.Dir, "traces"), 0o755); err != nil {
			return nil, fmt.Errorf("startcost: %w", err)
		}
	}
	if o.Wrapper != nil {
		if crun != nil {
			wrapped := *crun
			wrapped.Wrap = o.Wrapper
			rows = append(rows, &Row{Name: rowWrappedCrun, Version: find(rows, "crun").Version, run: runtimeRun(&wrapped, bundleDir, "")})
		}
		tr, err := exec.LookPath("true")
		if err != nil {
			return nil, fmt.Errorf("startcost: the wrapper's baseline needs true(1): %w", err)
		}
		rows = append(rows,
			&Row{Name: rowTrue, run: commandRun([]string{tr})},
			&Row{Name: rowWrapperTrue, run: commandRun(append(slices.Clone(o.Wrapper), tr))})
	}
	return rows, nil
}

func find(rows []*Row, name string) *Row {
	for _, r := range rows {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// runtimeRun times `RUNTIME run --bundle B ID`; with traceDir, nsrun
// records its points into a file there that the sample's phases come from.
func runtimeRun(rt *oci.Runtime, bundleDir, traceDir string) func(context.Context, string) (sample, error) {
	return func(ctx context.Context, id string) (sample, error) {
		cmd := rt.Command(ctx, "run", "--bundle", bundleDir, id)
		var tracePath string
		if traceDir != "" {
			tracePath = filepath.Join(traceDir, id+".jsonl")
			cmd.Env = append(cmd.Env, "NSRUN_TRACE="+tracePath)
		}
		s, pid, err := timeCommand(cmd)
		if err != nil {
			_ = rt.Delete(context.Background(), id, true)
			return s, fmt.Errorf("%s run %s: %w", rt.Name, id, err)
		}
		if tracePath != "" {
			s.phases, err = readTrace(tracePath, pid, s)
			if err != nil {
				return s, err
			}
		}
		return s, nil
	}
}

func commandRun(argv []string) func(context.Context, string) (sample, error) {
	return func(ctx context.Context, _ string) (sample, error) {
		s, _, err := timeCommand(exec.CommandContext(ctx, argv[0], argv[1:]...))
		if err != nil {
			return s, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
		return s, nil
	}
}

// timeCommand runs cmd with /dev/null as stdin and stdout and its stderr
// kept for the error, and returns its wall and CPU time (the process's and
// its reaped children's rusage) and pid.
func timeCommand(cmd *exec.Cmd) (s sample, pid int, err error) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return s, 0, err
	}
	defer null.Close()
	errf, err := os.CreateTemp("", "startcost-stderr-")
	if err != nil {
		return s, 0, err
	}
	os.Remove(errf.Name())
	defer errf.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, errf
	t0 := timeline.Now()
	err = cmd.Run()
	t1 := timeline.Now()
	s.wall, s.t0, s.t1 = float64(t1-t0)/1e6, t0, t1
	if cmd.ProcessState != nil {
		pid = cmd.ProcessState.Pid()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.cpu = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
			s.csw = ru.Nvcsw + ru.Nivcsw
		}
	}
	if err != nil {
		_, _ = errf.Seek(0, io.SeekStart)
		msg, _ := io.ReadAll(io.LimitReader(errf, 4096))
		return s, pid, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(msg)))
	}
	return s, pid, nil
}

// readTrace merges nsrun's trace with the benchmark's own two points (fork
// and reap) and returns the phases.
func readTrace(path string, pid int, s sample) ([]timeline.Phase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nsrun wrote no trace: %w", err)
	}
	defer f.Close()
	evs, err := timeline.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	evs = append(evs, timeline.Event{Point: timeline.Spawn, Pid: pid, NS: s.t0}, timeline.Event{Point: timeline.Reaped, Pid: pid, NS: s.t1})
	slices.SortStableFunc(evs, func(a, b timeline.Event) int { return cmp.Compare(a.NS, b.NS) })
	if evs[0].Point != timeline.Spawn || evs[len(evs)-1].Point != timeline.Reaped {
		return nil, errors.New("nsrun's trace has points outside its own run: clocks differ (a time namespace?)")
	}
	return timeline.Phases(evs), nil
}

// estimate summarises the finite values of xs, of which there must be one.
func estimate(xs []float64) Estimate {
	xs = finite(xs)
	ci, _ := stats.MedianCI(xs, 0.95)
	return Estimate{Median: stats.Median(xs), CI: ci, P10: stats.Quantile(xs, 0.1), P90: stats.Quantile(xs, 0.9)}
}

func finite(xs []float64) []float64 {
	var out []float64
	for _, x := range xs {
		if x == x {
			out = append(out, x)
		}
	}
	return out
}

func rowStats(r *Row) RowStats {
	st := RowStats{N: len(r.Samples)}
	if st.N > 0 {
		w, c := estimate(r.Wall), estimate(r.CPU)
		st.Wall, st.CPU = &w, &c
		var csw []float64
		for _, s := range r.Samples {
			csw = append(csw, float64(s.CSW))
		}
		st.CSW = stats.Median(csw)
	}
	return st
}

// diffs compares nsrun with every other runtime row, round by round.
func diffs(rows []*Row) []Diff {
	a := find(rows, "nsrun")
	if a == nil {
		return nil
	}
	var out []Diff
	for _, b := range rows {
		if b == a || b.Name == rowTrue || b.Name == rowWrapperTrue {
			continue
		}
		if d, ok := pairDiff(a, b); ok {
			out = append(out, d)
		}
	}
	return out
}

// steps compares each row named nsrun@LABEL with the one before it.
func steps(rows []*Row) []Diff {
	var out []Diff
	var prev *Row
	for _, r := range rows {
		if !strings.HasPrefix(r.Name, "nsrun@") {
			continue
		}
		if prev != nil {
			if d, ok := pairDiff(r, prev); ok {
				out = append(out, d)
			}
		}
		prev = r
	}
	return out
}

// pairDiff is a - b over the rounds where both have a sample.
func pairDiff(a, b *Row) (Diff, bool) {
	if a == nil || b == nil {
		return Diff{}, false
	}
	var dw, dc []float64
	for k := range min(len(a.Wall), len(b.Wall)) {
		if a.Wall[k] == a.Wall[k] && b.Wall[k] == b.Wall[k] {
			dw = append(dw, a.Wall[k]-b.Wall[k])
			dc = append(dc, a.CPU[k]-b.CPU[k])
		}
	}
	if len(dw) < 2 {
		return Diff{}, false
	}
	return Diff{A: a.Name, B: b.Name, N: len(dw), Wall: estimate(dw), CPU: estimate(dc)}, true
}

// phaseStats takes the median of each phase over the traced runs, in the
// order of timeline.Order, and the median total.
func phaseStats(traces [][]timeline.Phase) ([]Phase, float64) {
	if len(traces) == 0 {
		return nil, 0
	}
	per, cpu := map[string][]float64{}, map[string][]float64{}
	var totals []float64
	for _, tr := range traces {
		var total int64
		for _, p := range tr {
			per[p.Point] = append(per[p.Point], float64(p.NS)/1e6)
			if p.CPU >= 0 {
				cpu[p.Point] = append(cpu[p.Point], float64(p.CPU)/1e6)
			}
			total += p.NS
		}
		totals = append(totals, float64(total)/1e6)
	}
	var out []Phase
	for _, pt := range timeline.Order() {
		xs, ok := per[pt]
		if !ok {
			continue
		}
		ph := Phase{Point: pt, Label: timeline.Label(pt), N: len(xs), MS: estimate(xs)}
		if cs := cpu[pt]; len(cs) > 0 {
			e := estimate(cs)
			ph.CPU = &e
		}
		out = append(out, ph)
	}
	return out, stats.Median(totals)
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
