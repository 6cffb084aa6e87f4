// Command nsbench measures what isolation costs: `nsbench run` runs a
// benchmark matrix natively and in every container environment present,
// `nsbench report` turns results files into tables, plots and an HTML page,
// `nsbench merge` joins the results of shards, and `nsbench startcost`
// compares what OCI runtimes take to start a container (make bench-runtime).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/perf/report"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/runner"
)

const usage = `usage:
  nsbench run    [-config perf/configs/quick.json] [-set path=value]... [-out results/quick.json] [-resume] [-shard i/n]
  nsbench run    -kernels stock,hardened [-arch x86_64|arm64] [-config ...] [-out ...] [-resume]   (in VM guests, one kernel per boot)
  nsbench report [-out results] results.json...
  nsbench merge  [-config c.json] -out merged.json shard1.json shard2.json...
  nsbench startcost [-n 30] [-seccomp docker|podman] [-trace=true] [-wrapper=true] [-nsrun BIN] [-out F.json] [nsrun runc crun | LABEL=PATH ...]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	// A closed stderr (a pipe to head, a log collector gone) must not kill
	// a run between its engine's start and stop: writes fail instead.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = run(ctx, os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	case "merge":
		err = merge(os.Args[2:])
	case "startcost":
		err = startcostCmd(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q\n%s", os.Args[1], usage)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsbench:", err)
		os.Exit(1)
	}
}

// setFlags collects repeated -set path=value overrides.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	cfgPath := fs.String("config", "perf/configs/quick.json", "matrix config")
	var sets setFlags
	fs.Var(&sets, "set", "override a config field by dotted path, e.g. -set repetitions=2 -set fs.runtime_s=5 (repeatable)")
	out := fs.String("out", "", "results file (default results/<config>.json)")
	resume := fs.Bool("resume", false, "skip cells already in the results file")
	shard := fs.String("shard", "", "run slice i of n of the matrix (i/n)")
	var given runner.Binaries
	fs.StringVar(&given.CPU, "cpu-bin", "", "static nsbench-cpu binary (default $NSBENCH_CPU, else built from this tree; with -kernels for the guest's arch)")
	fs.StringVar(&given.NSRun, "nsrun", "", "nsrun binary (default $NSBENCH_NSRUN, else built from this tree)")
	fs.StringVar(&given.NSNet, "nsnet", "", "nsnet hook binary (default $NSBENCH_NSNET, else built from this tree)")
	state := fs.String("state", "", "directory for bundles and runtime state (default: a temporary one)")
	scratch := fs.String("scratch", "", "directory for fio's files on a disk (default /var/tmp)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	var vf vmFlags
	vf.register(fs)
	_ = fs.Parse(args)
	cfg, err := runner.LoadConfig(*cfgPath, sets...)
	if err != nil {
		return err
	}
	if vf.kernels != "" {
		cfg.Kernels = strings.Split(vf.kernels, ",")
	}
	if vf.arch != "" {
		cfg.Arch = vf.arch
	}
	if len(cfg.Kernels) > 0 {
		if *shard != "" || *state != "" || *scratch != "" {
			return fmt.Errorf("-shard, -state and -scratch are for a run on this machine; with kernels the guests run the matrix")
		}
		if *out == "" {
			*out = filepath.Join("results", cfg.Name+".json")
		}
		return runVM(ctx, cfg, vf, given, *out, *resume, *quiet)
	}
	sh, err := runner.ParseShard(*shard)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join("results", cfg.Name+".json")
		if sh.N > 1 {
			*out = filepath.Join("results", fmt.Sprintf("%s-shard%dof%d.json", cfg.Name, sh.I, sh.N))
		}
	}
	stateDir := *state
	if stateDir == "" {
		d, err := os.MkdirTemp("", "nsbench-state-")
		if err != nil {
			return fmt.Errorf("create state dir: %w", err)
		}
		defer os.RemoveAll(d)
		stateDir = d
	}
	bins, err := resolveBinaries(ctx, given, filepath.Join(stateDir, "bin"), "")
	if err != nil {
		return err
	}
	if *scratch != "" {
		if err := os.MkdirAll(*scratch, 0o755); err != nil {
			return fmt.Errorf("create scratch directory: %w", err)
		}
	}
	o := runner.Options{Config: cfg, Out: *out, Resume: *resume, Shard: sh, Bins: bins, StateDir: stateDir, Scratch: *scratch}
	if !*quiet {
		// a terminal gets one line rewritten in place, a log (CI, Slurm)
		// a plain line per sample
		o.Progress = os.Stderr
		st, err := os.Stderr.Stat()
		o.TTY = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	if _, err := runner.Run(ctx, o); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "results:", *out)
	return nil
}

// resolveBinaries is the one place nsbench finds its programs: a flag,
// then the environment (NSBENCH_CPU, NSBENCH_NSRUN, NSBENCH_NSNET), then a
// build from this tree for arch ("" is the host's).
func resolveBinaries(ctx context.Context, given runner.Binaries, dir, arch string) (runner.Binaries, error) {
	var b runner.Binaries
	var err error
	for _, x := range []struct {
		name string
		flag string
		dst  *string
	}{{"nsbench-cpu", given.CPU, &b.CPU}, {"nsrun", given.NSRun, &b.NSRun}, {"nsnet", given.NSNet, &b.NSNet}} {
		if *x.dst, err = gobuild.Resolve(ctx, x.name, x.flag, os.Getenv, dir, arch); err != nil {
			return b, err
		}
	}
	return b, nil
}

func loadAll(paths []string) (*results.File, error) {
	var files []*results.File
	for _, p := range paths {
		f, err := results.Load(p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 1 {
		return files[0], nil
	}
	return results.Merge(files...)
}

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	out := fs.String("out", "results", "directory for tables.md, plots and report.html")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		return fmt.Errorf("report: give one or more results files\n%s", usage)
	}
	f, err := loadAll(fs.Args())
	if err != nil {
		return err
	}
	tables, err := report.Build(f)
	if err != nil {
		return err
	}
	md := report.Markdown(f, tables)
	fmt.Print(md)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", *out, err)
	}
	if err := os.WriteFile(filepath.Join(*out, "tables.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("write tables: %w", err)
	}
	figs, err := report.Plots(f, tables, filepath.Join(*out, "plots"))
	if err != nil {
		return err
	}
	html := filepath.Join(*out, "report.html")
	if err := report.HTML(html, f, tables, figs); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "report: %s (%d plots in %s)\n", html, len(figs), filepath.Join(*out, "plots"))
	return nil
}

func merge(args []string) error {
	fs := flag.NewFlagSet("merge", flag.ExitOnError)
	out := fs.String("out", "", "merged results file")
	check := fs.String("config", "", "check that the merged results hold every cell of this config's matrix")
	_ = fs.Parse(args)
	if *out == "" || fs.NArg() < 1 {
		return fmt.Errorf("merge: -out and at least one results file are required\n%s", usage)
	}
	f, err := loadAll(fs.Args())
	if err != nil {
		return err
	}
	if *check != "" {
		cfg, err := runner.LoadConfig(*check)
		if err != nil {
			return err
		}
		if err := runner.CheckComplete(cfg, f); err != nil {
			return fmt.Errorf("merge %s: %w", strings.Join(fs.Args(), " "), err)
		}
	}
	return f.Save(*out)
}
