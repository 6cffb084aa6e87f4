package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/workload/cpu"
	"github.com/nsbench/nsbench/perf/workload/fs"
	inet "github.com/nsbench/nsbench/perf/workload/net"
)

// Options of a run.
type Options struct {
	Config   Config
	Out      string // results file
	Resume   bool
	Shard    Shard
	CPUBin   string    // static nsbench-cpu
	StateDir string    // bundles and runtime state
	Progress io.Writer // progress lines; nil for none
	// TTY: Progress is a terminal, so one line is rewritten in place;
	// otherwise (CI logs, Slurm) every sample prints a plain line.
	TTY bool
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
		e, err := env.ByName(ctx, name, filepath.Join(o.StateDir, name))
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
	ws := &workspace{}
	if needsBridge(points, envs) {
		br, berr := newBridge(ctx, o.StateDir)
		if berr != nil {
			ws.bridgeErr = berr
		} else {
			ws.bridge = br
			defer func() {
				if cerr := br.close(context.WithoutCancel(ctx)); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}()
		}
	}
	if cfg.CPUs != "" || cfg.Quiet != nil {
		f.Conditions = &results.Conditions{CPUs: cfg.CPUs}
		if cfg.Quiet != nil {
			f.Conditions.Quiet = cfg.Quiet.MaxBusy
		}
	}
	if i := slices.IndexFunc(envs, func(e env.Env) bool { return e.Name() == "native" }); i >= 0 {
		if o.Config, err = calibrate(ctx, o, f, envs[i]); err != nil {
			return f, err
		}
		if err := f.Save(o.Out); err != nil {
			return f, err
		}
	}
	r := &matrixRun{o: o, f: f, ws: ws, envs: envs, points: points, start: time.Now()}
	if err := r.run(ctx); err != nil {
		return f, err
	}
	return f, f.Save(o.Out)
}

// rotate is the order of the environments in repetition rep: each starts
// one place later than in the one before, so that no environment always runs
// first (right after the previous point's last one, with whatever it left in
// the page cache and on the disk) or always last.
func rotate[T any](envs []T, rep int) []T {
	if len(envs) == 0 {
		return nil
	}
	k := rep % len(envs)
	return append(append([]T(nil), envs[k:]...), envs[:k]...)
}

// workspace is what a run shares between its samples.
type workspace struct {
	bridge    *netBridge // nil when no point needs it, or it could not be made
	bridgeErr error      // why not
}

// needsBridge: a container environment runs a net point over the bridge.
func needsBridge(ps []Point, envs []env.Env) bool {
	for _, p := range ps {
		if p.Workload == "net" && p.Params["topo"] != "" && p.Params["topo"] != "host" {
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
func skipKey(e env.Env, p Point) string { return skipName(e.Name(), p) }

func skipName(env string, p Point) string {
	k := env + " " + p.Workload
	if t := p.Params["topo"]; t != "" {
		k += " topo=" + t
	}
	return k
}

func runSample(ctx context.Context, o Options, ws *workspace, e env.Env, p Point) (results.Sample, string, error) {
	switch p.Workload {
	case "cpu":
		s, err := runCPU(ctx, o, e, p)
		return s, "s", err
	case "sysbench":
		s, err := runSysbench(ctx, o, e, p)
		return s, "events/s", err
	case "fs":
		s, err := runFS(ctx, o, e, p)
		return s, "IOPS", err
	case "net":
		s, err := runNet(ctx, o, ws, e, p)
		return s, "Gbit/s", err
	}
	return results.Sample{}, "", fmt.Errorf("unknown workload %q", p.Workload)
}

// runCPU starts n simulation jobs at once; the sample is their average wall
// time, as in seed 000's tables. Every job must print the same checksum.
func runCPU(ctx context.Context, o Options, e env.Env, p Point) (results.Sample, error) {
	n, _ := strconv.Atoi(p.Params["jobs"])
	c := o.Config.CPU
	args := []string{o.CPUBin, "-particles", strconv.Itoa(scaleWork(e, c.Particles)), "-mem", strconv.Itoa(c.MemMiB),
		"-seed", strconv.FormatUint(o.Config.Seed, 10)}
	outs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { outs[i], errs[i] = e.Run(ctx, env.Job{Args: args, CPUs: o.Config.CPUs}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return results.Sample{}, withOutput(err, bytes.Join(outs, []byte("\n")))
	}
	s := results.Sample{Metrics: map[string]float64{}}
	var sum float64
	var sum0 string
	for i, out := range outs {
		var r cpu.Report
		if err := json.Unmarshal(out, &r); err != nil {
			return s, fmt.Errorf("parse nsbench-cpu output %q: %w", out, err)
		}
		if i == 0 {
			sum0 = r.Checksum
		} else if r.Checksum != sum0 {
			return s, fmt.Errorf("job %d checksum %s differs from job 0's %s: the computation changed", i, r.Checksum, sum0)
		}
		sum += r.WallSeconds
		s.Metrics["wall_max_s"] = max(s.Metrics["wall_max_s"], r.WallSeconds)
		s.Metrics["user_s"] += r.UserSeconds / float64(n)
		s.Metrics["sys_s"] += r.SysSeconds / float64(n)
		s.Metrics["maxrss_mib"] = max(s.Metrics["maxrss_mib"], float64(r.MaxRSSKiB)/1024)
		s.Raw = append(s.Raw, json.RawMessage(out))
	}
	s.Value = sum / float64(n)
	return s, nil
}

// runSysbench runs `sysbench cpu` (the host's binary, from the host's /usr
// inside containers); the sample is its events per second.
func runSysbench(ctx context.Context, o Options, e env.Env, p Point) (results.Sample, error) {
	c := o.Config.Sysbench
	n, _ := strconv.Atoi(p.Params["threads"])
	job := cpu.Sysbench{Threads: n, MaxPrime: c.MaxPrime, Events: scaleWork(e, c.Events)}
	if err := job.Validate(); err != nil {
		return results.Sample{}, err
	}
	bin, err := exec.LookPath("sysbench")
	if err != nil {
		return results.Sample{}, fmt.Errorf("sysbench not installed (apt-get install sysbench): %w", err)
	}
	out, err := e.Run(ctx, env.Job{Args: append([]string{bin}, job.Args()...), CPUs: o.Config.CPUs})
	if err != nil {
		return results.Sample{}, withOutput(err, out)
	}
	r, err := cpu.ParseSysbench(out)
	if err != nil {
		return results.Sample{}, err
	}
	if r.Events != job.Events {
		return results.Sample{}, fmt.Errorf("sysbench ran %d events, not the %d asked for", r.Events, job.Events)
	}
	raw, err := json.Marshal(string(out))
	if err != nil {
		return results.Sample{}, fmt.Errorf("encode sysbench output: %w", err)
	}
	return results.Sample{Value: r.EventsPerSec, Raw: []json.RawMessage{raw}, Metrics: map[string]float64{
		"total_s": r.TotalSeconds, "lat_avg_ms": r.LatAvgMs, "lat_p95_ms": r.LatP95Ms, "lat_max_ms": r.LatMaxMs,
		"thread_events_stddev": r.ThreadEventsSD}}, nil
}

func dataDir(loc string) (string, error) {
	parent := "/var/tmp"
	if loc == "tmpfs" {
		parent = "/dev/shm"
	}
	return os.MkdirTemp(parent, "nsbench-fio-")
}

func runFS(ctx context.Context, o Options, e env.Env, p Point) (results.Sample, error) {
	c := o.Config.FS
	nj, _ := strconv.Atoi(p.Params["numjobs"])
	qd, _ := strconv.Atoi(p.Params["iodepth"])
	job := fs.Job{RW: p.Params["rw"], BS: p.Params["bs"], Engine: p.Params["engine"], NumJobs: nj, IODepth: qd,
		Size: c.Size, Runtime: time.Duration(c.RuntimeS) * time.Second, Direct: c.Direct && p.Params["on"] != "tmpfs",
		Filename: env.DataDir + "/fio.dat", Ramp: time.Duration(c.RampS) * time.Second}
	if err := job.Validate(); err != nil {
		return results.Sample{}, err
	}
	fio, err := exec.LookPath("fio")
	if err != nil {
		return results.Sample{}, fmt.Errorf("fio not installed (apt-get install fio): %w", err)
	}
	host, err := dataDir(p.Params["on"])
	if err != nil {
		return results.Sample{}, fmt.Errorf("fio data dir: %w", err)
	}
	defer os.RemoveAll(host)
	out, err := e.Run(ctx, env.Job{Args: append([]string{fio}, job.Args()...), Data: &env.Data{Kind: p.Params["on"], Host: host}, CPUs: o.Config.CPUs})
	if err != nil {
		return results.Sample{}, withOutput(err, out)
	}
	r, err := fs.Parse(out)
	if err != nil {
		return results.Sample{}, err
	}
	return results.Sample{Value: r.IOPS, Raw: []json.RawMessage{out}, Metrics: map[string]float64{
		"bw_kib_s": r.BandwidthKiBs, "lat_p50_us": r.LatP50us, "lat_p99_us": r.LatP99us, "lat_mean_us": r.LatMeanus}}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// runNet runs one iperf3 test in the point's topology:
//
//   - host: server on the host's loopback, client in the environment in the
//     host's network namespace;
//   - bridge: server and client in two containers of the environment, each
//     in its own network namespace attached to the run's nsnet bridge;
//   - mixed: server on the host at the bridge's address, client in a
//     container on the bridge.
//
// Natively every topology is server and client on the host over loopback:
// the baseline each container topology is compared with.
func runNet(ctx context.Context, o Options, ws *workspace, e env.Env, p Point) (results.Sample, error) {
	c := o.Config.Net
	ip3, err := exec.LookPath("iperf3")
	if err != nil {
		return results.Sample{}, fmt.Errorf("iperf3 not installed (apt-get install iperf3): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return results.Sample{}, err
	}
	par, _ := strconv.Atoi(p.Params["parallel"])
	t := inet.Test{UDP: p.Params["proto"] == "udp", Parallel: par, Length: p.Params["len"], Bitrate: c.UDPBitrate,
		Duration: time.Duration(c.DurationS) * time.Second, Interval: 500 * time.Millisecond, Port: port,
		Omit: time.Duration(c.OmitS) * time.Second}
	topo := p.Params["topo"]
	var out []byte
	switch {
	case topo == "" || topo == "host" || e.Name() == "native":
		t.Server = "127.0.0.1"
		out, err = hostServer(ctx, ip3, e, t, env.Job{HostNetwork: true, CPUs: o.Config.CPUs})
	case topo != "bridge" && topo != "mixed":
		return results.Sample{}, fmt.Errorf("net topology %q: want host, bridge or mixed", topo)
	case ws.bridge == nil:
		return results.Sample{}, fmt.Errorf("no nsnet bridge: %v (%w)", ws.bridgeErr, env.ErrUnsupported)
	case topo == "mixed":
		t.Server = ws.bridge.gateway().String()
		out, err = hostServer(ctx, ip3, e, t, env.Job{Bridge: ws.bridge.attach(2), CPUs: o.Config.CPUs})
	default:
		out, err = containerServer(ctx, ip3, e, t, ws.bridge, o.Config.CPUs)
	}
	if err != nil {
		return results.Sample{}, withOutput(err, out)
	}
	r, err := inet.Parse(out)
	if err != nil {
		return results.Sample{}, err
	}
	s := results.Sample{Value: r.ReceivedBps / 1e9, Raw: []json.RawMessage{out}, Metrics: map[string]float64{
		"sent_gbps": r.SentBps / 1e9, "retransmits": float64(r.Retransmits), "mean_rtt_us": r.MeanRTTus,
		"jitter_ms": r.JitterMs, "lost_percent": r.LostPercent}}
	for _, iv := range r.Intervals {
		s.Series = append(s.Series, results.TimePoint{T: iv.End, Values: map[string]float64{
			"gbps": iv.BitsPerSec / 1e9, "rtt_us": iv.RTTus, "retransmits": float64(iv.Retransmits)}})
	}
	return s, nil
}

// hostServer serves one test natively at t.Server and runs the client as
// job in the environment.
func hostServer(ctx context.Context, ip3 string, e env.Env, t inet.Test, job env.Job) ([]byte, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := exec.CommandContext(sctx, ip3, inet.ServerArgs(t.Server, t.Port)...)
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start iperf3 server on %s:%d: %w", t.Server, t.Port, err)
	}
	// A server that served its one test has exited; one whose client never
	// came is killed here, and reaped either way.
	defer func() {
		cancel()
		_ = srv.Wait()
	}()
	if err := waitListen(ctx, t.Port); err != nil {
		return nil, err
	}
	job.Args = append([]string{ip3}, t.ClientArgs()...)
	return e.Run(ctx, job)
}

// containerServer runs the server in one container on the bridge and the
// client in another. The server's readiness cannot be seen from the host
// without touching the one-off server (a probe connection would be its
// test), so the client is retried while it is refused and the server runs.
func containerServer(ctx context.Context, ip3 string, e env.Env, t inet.Test, br *netBridge, cpus string) ([]byte, error) {
	srvAddr := br.host(1)
	t.Server = srvAddr.String()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := e.Run(sctx, env.Job{Args: append([]string{ip3}, inet.ServerArgs(t.Server, t.Port)...), Bridge: br.attach(1), CPUs: cpus})
		done <- result{out, err}
	}()
	client := env.Job{Args: append([]string{ip3}, t.ClientArgs()...), Bridge: br.attach(2), CPUs: cpus}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := e.Run(ctx, client)
		// iperf3 3.12 -J exits 0 when it cannot connect: read what it says.
		if err == nil && refused(out) {
			err = fmt.Errorf("iperf3 client: %s", iperfError(out))
		}
		if err == nil {
			select {
			case srv := <-done:
				if srv.err != nil {
					return nil, fmt.Errorf("iperf3 server container at %s: %w", t.Server, srv.err)
				}
			case <-time.After(30 * time.Second):
				return nil, fmt.Errorf("iperf3 server container at %s did not exit after its test; the client printed %.300q", t.Server, out)
			}
			return out, nil
		}
		if errors.Is(err, env.ErrUnsupported) {
			return nil, err
		}
		if !refused(out) || time.Now().After(deadline) {
			return nil, fmt.Errorf("iperf3 client container to %s: %w", t.Server, err)
		}
		select {
		case srv := <-done:
			return nil, fmt.Errorf("iperf3 server container at %s exited before serving: %v; client: %w", t.Server, srv.err, err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// refused tells whether the client's JSON says no server was listening
// yet ("No route to host": the server's veth was not attached yet).
func refused(out []byte) bool {
	e := iperfError(out)
	return strings.Contains(e, "Connection refused") || strings.Contains(e, "No route to host")
}

// iperfError is the error iperf3 -J reported, if any.
func iperfError(out []byte) string {
	var r struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(out, &r) != nil {
		return ""
	}
	return r.Error
}

// waitListen polls /proc/net/tcp rather than connecting: a probe connection
// would be taken by the one-off (-1) server as its client.
func waitListen(ctx context.Context, port int) error {
	want := fmt.Sprintf(":%04X 00000000:0000 0A", port)
	for range 100 {
		b, err := os.ReadFile("/proc/net/tcp")
		if err == nil && strings.Contains(strings.ToUpper(string(b)), want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("iperf3 server did not listen on 127.0.0.1:%d within 2 s", port)
}

// outputError is a failed job's error with what the job printed on its
// standard output (iperf3 -J and fio report their errors there), kept for
// the results file's record of the failure.
type outputError struct {
	err error
	out []byte
}

func (e *outputError) Error() string { return e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

func withOutput(err error, out []byte) error {
	if len(bytes.TrimSpace(out)) == 0 {
		return err
	}
	return &outputError{err, out}
}

// scaleWork is a job's size n in e: n, or for a known-answer environment
// with extra work ("native:work=f") n·(1+f).
func scaleWork(e env.Env, n int) int {
	if w, ok := e.(interface{ ExtraWork() float64 }); ok && w.ExtraWork() > 0 {
		return int(math.Round(float64(n) * (1 + w.ExtraWork())))
	}
	return n
}
