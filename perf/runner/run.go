package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/workload"
	inet "github.com/nsbench/nsbench/perf/workload/net"
)

// Options of a run.
type Options struct {
	Config Config
	Out    string // results file
	Resume bool
	Shard  Shard
	Bins   Binaries
	// StateDir holds bundles and runtime state (so the containers' root
	// filesystems are there).
	StateDir string
	// Scratch is where fio's bind and native files go (a disk); empty:
	// /var/tmp.
	Scratch  string
	Progress io.Writer // progress lines; nil for none
	// TTY: Progress is a terminal, so one line is rewritten in place;
	// otherwise (CI logs, Slurm) every sample prints a plain line.
	TTY bool
}

// Binaries are this module's programs a run needs, resolved by the caller
// (cmd/nsbench: flag, environment, build).
type Binaries struct {
	NSRun string // the nsrun environment's runtime
	NSNet string // the hook that attaches containers to the run's bridge
	CPU   string // nsbench-cpu, the cpu workload
}

// Run runs the matrix and returns the results file it wrote. Every
// environment is closed before it returns (engines stopped, their traces
// removed), also after a failure or an interrupt. An environment whose
// sample fails is recorded as failed with the full error, its remaining
// cells are marked, and the matrix goes on without it.
func Run(ctx context.Context, o Options) (_ *results.File, err error) {
	cfg := o.Config
	f := &results.File{Version: results.Version, Config: cfg.Name, Created: time.Now().UTC(),
		Machine: results.DescribeMachine(), Runtimes: map[string]string{}, Skipped: map[string]string{}}
	if o.Shard.N > 1 {
		f.Shard = o.Shard.String()
	}
	if o.Resume {
		if old, err := results.Load(o.Out); err == nil {
			if old.Config != cfg.Name {
				return nil, fmt.Errorf("resume %s: it holds config %q, not %q", o.Out, old.Config, cfg.Name)
			}
			f = old
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", o.StateDir, err)
	}

	var envs, opened []env.Env
	defer func() {
		for _, e := range opened {
			if cerr := e.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close %s: %w", e.Name(), cerr))
			}
		}
	}()
	for _, name := range cfg.Envs {
		e, err := env.ByName(ctx, name, filepath.Join(o.StateDir, stateDirName(name)), o.Bins.NSRun)
		if err != nil {
			return nil, err
		}
		opened = append(opened, e)
		if err := e.Available(ctx); err != nil {
			f.Skipped[name] = err.Error()
			continue
		}
		delete(f.Skipped, name)
		delete(f.Failed, name) // a resumed run tries it again
		f.Runtimes[name] = e.Version(ctx)
		envs = append(envs, e)
	}
	points := o.Shard.Select(cfg.Points(f.Machine.Cores))
	deps := workload.Deps{Seed: cfg.Seed, CPUBin: o.Bins.CPU, Scratch: o.Scratch, CPUs: cfg.CPUs, OwnCgroup: cfg.NativeCgroup}
	if needsBridge(points, envs) {
		nw, nerr := env.NewNetwork(ctx, o.StateDir, o.Bins.NSNet)
		if nerr != nil {
			deps.NetworkErr = nerr
		} else {
			deps.Network = nw
			defer func() {
				if cerr := nw.Close(context.WithoutCancel(ctx)); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}()
		}
	}
	if cfg.CPUs != "" || cfg.Quiet != nil || cfg.NativeCgroup {
		f.Conditions = &results.Conditions{CPUs: cfg.CPUs, NativeCgroup: cfg.NativeCgroup}
		if cfg.Quiet != nil {
			f.Conditions.Quiet = cfg.Quiet.MaxBusy
		}
	}
	if i := slices.IndexFunc(envs, func(e env.Env) bool { return e.Name() == "native" }); i >= 0 {
		if o.Config, err = calibrate(ctx, o.Config, deps, f, envs[i]); err != nil {
			return f, err
		}
		if err := f.Save(o.Out); err != nil {
			return f, err
		}
	}
	r := &matrixRun{o: o, f: f, deps: deps, envs: envs, points: points, start: time.Now()}
	if err := r.run(ctx); err != nil {
		return f, err
	}
	return f, f.Save(o.Out)
}

// needsBridge: a container environment runs a net point over the bridge.
func needsBridge(ps []Point, envs []env.Env) bool {
	for _, p := range ps {
		if p.Workload == "net" && inet.NeedsBridge(p.Params) {
			for _, e := range envs {
				if e.Name() != "native" {
					return true
				}
			}
		}
	}
	return false
}

// skipKey names what an environment cannot run: the workload and, for net,
// the topology, so the report lists one line per kind rather than per cell.
func skipKey(e env.Env, p Point) string { return SkipName(e.Name(), p) }

// SkipName is the Skipped key of the kind of point p that environment env
// cannot run.
func SkipName(env string, p Point) string {
	k := env + " " + p.Workload
	if t := p.Params["topo"]; t != "" {
		k += " topo=" + t
	}
	return k
}

// runPoint runs one sample of p in e.
func runPoint(ctx context.Context, cfg Config, deps workload.Deps, e env.Env, p Point) (results.Sample, error) {
	w := cfg.Workload(p.Workload)
	if w == nil {
		return results.Sample{}, fmt.Errorf("unknown workload %q", p.Workload)
	}
	deps.Env = e
	return w.Run(ctx, deps, p.Params)
}

// stateDirName is an environment's state directory name: its name without
// ':' and '=', which separate the branches and options of overlayfs and
// aufs mount options an engine writes its layer paths into (aufs refuses
// "br:/state/docker:storage=aufs/..." with EINVAL).
func stateDirName(env string) string {
	return strings.NewReplacer(":", "_", "=", "_", ",", "_").Replace(env)
}
