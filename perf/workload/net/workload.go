package net

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	gonet "net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/workload"
)

// Iperf is the "net" workload: iperf3 over protocols, parallel streams and
// buffer lengths, in one or more topologies (the "topo" parameter):
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
type Iperf struct {
	Protocols []string `json:"protocols"` // tcp, udp
	Parallel  []int    `json:"parallel"`
	Lengths   []string `json:"lengths"` // "" = iperf3's default
	DurationS int      `json:"duration_s"`
	// OmitS: seconds iperf3 leaves out at the start (-O: TCP slow start).
	OmitS      int    `json:"omit_s,omitempty"`
	UDPBitrate string `json:"udp_bitrate"`
	// Topologies: host, bridge, mixed. Empty: host, with no topo parameter
	// in the point (as before topologies existed).
	Topologies []string `json:"topologies,omitempty"`
}

// Name implements workload.Workload.
func (Iperf) Name() string { return "net" }

// Unit implements workload.Workload.
func (Iperf) Unit() string { return "Gbit/s" }

// Axis implements workload.Workload.
func (Iperf) Axis() string { return "parallel" }

// Tools implements workload.Workload.
func (Iperf) Tools() []workload.Tool {
	return []workload.Tool{{Name: "iperf3", Package: "iperf3", Path: "/usr/bin/iperf3"}}
}

// Validate implements workload.Workload.
func (n Iperf) Validate() error {
	if n.DurationS < 1 || n.OmitS < 0 {
		return fmt.Errorf("net: duration_s must be >= 1 and omit_s >= 0")
	}
	if len(n.Protocols) == 0 || len(n.Parallel) == 0 || len(n.Lengths) == 0 {
		return fmt.Errorf("net: protocols, parallel and lengths each need at least one value (\"\" is iperf3's default length)")
	}
	for _, p := range n.Protocols {
		if p != "tcp" && p != "udp" {
			return fmt.Errorf("net: protocol %q: want tcp or udp", p)
		}
	}
	for _, t := range n.Topologies {
		if !slices.Contains([]string{"host", "bridge", "mixed"}, t) {
			return fmt.Errorf("net: topology %q: want host, bridge or mixed", t)
		}
	}
	return nil
}

// Points implements workload.Workload.
func (n Iperf) Points(int) []workload.Params {
	topos := n.Topologies
	if len(topos) == 0 {
		topos = []string{""}
	}
	var ps []workload.Params
	for _, proto := range n.Protocols {
		for _, par := range n.Parallel {
			for _, l := range n.Lengths {
				for _, topo := range topos {
					p := workload.Params{"proto": proto, "parallel": strconv.Itoa(par)}
					if l != "" {
						p["len"] = l
					}
					if topo != "" {
						p["topo"] = topo
					}
					ps = append(ps, p)
				}
			}
		}
	}
	return ps
}

// NeedsBridge tells whether a point runs over the run's bridge (in a
// container environment).
func NeedsBridge(p workload.Params) bool {
	return p["topo"] == "bridge" || p["topo"] == "mixed"
}

// Run implements workload.Workload.
func (n Iperf) Run(ctx context.Context, d workload.Deps, p workload.Params) (results.Sample, error) {
	ip3, err := n.Tools()[0].Find()
	if err != nil {
		return results.Sample{}, err
	}
	port, err := freePort()
	if err != nil {
		return results.Sample{}, err
	}
	par, _ := strconv.Atoi(p["parallel"])
	t := Test{UDP: p["proto"] == "udp", Parallel: par, Length: p["len"], Bitrate: n.UDPBitrate,
		Duration: time.Duration(n.DurationS) * time.Second, Interval: 500 * time.Millisecond, Port: port,
		Omit: time.Duration(n.OmitS) * time.Second}
	topo := p["topo"]
	var out []byte
	switch {
	case topo == "" || topo == "host" || d.Env.Name() == "native":
		t.Server = "127.0.0.1"
		out, err = hostServer(ctx, ip3, d.Env, t, env.Job{HostNetwork: true, CPUs: d.CPUs, OwnCgroup: d.OwnCgroup})
	case topo != "bridge" && topo != "mixed":
		return results.Sample{}, fmt.Errorf("net topology %q: want host, bridge or mixed", topo)
	case d.Network == nil:
		return results.Sample{}, fmt.Errorf("no nsnet bridge: %v (%w)", d.NetworkErr, env.ErrUnsupported)
	case topo == "mixed":
		t.Server = d.Network.Gateway().String()
		out, err = hostServer(ctx, ip3, d.Env, t, env.Job{Bridge: d.Network.Attach(2), CPUs: d.CPUs, OwnCgroup: d.OwnCgroup})
	default:
		out, err = containerServer(ctx, ip3, d.Env, t, d.Network, d.CPUs, d.OwnCgroup)
	}
	if err != nil {
		return results.Sample{}, workload.WithOutput(err, out)
	}
	return n.Parse(out)
}

// Parse implements workload.Workload: the client's -J output. iperf3 3.12
// exits 0 when it could not connect; the error is in the JSON and fails
// the parse.
func (Iperf) Parse(out []byte) (results.Sample, error) {
	r, err := Parse(out)
	if err != nil {
		return results.Sample{}, err
	}
	s := results.Sample{Value: r.ReceivedBps / 1e9, Raw: []json.RawMessage{json.RawMessage(out)}, Metrics: map[string]float64{
		"sent_gbps": r.SentBps / 1e9, "retransmits": float64(r.Retransmits), "mean_rtt_us": r.MeanRTTus,
		"max_rtt_us": r.MaxRTTus, "jitter_ms": r.JitterMs, "lost_percent": r.LostPercent}}
	for _, iv := range r.Intervals {
		s.Series = append(s.Series, results.TimePoint{T: iv.End, Values: map[string]float64{
			"gbps": iv.BitsPerSec / 1e9, "rtt_us": iv.RTTus, "retransmits": float64(iv.Retransmits)}})
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*gonet.TCPAddr).Port, nil
}

// hostServer serves one test natively at t.Server and runs the client as
// job in the environment.
func hostServer(ctx context.Context, ip3 string, e env.Env, t Test, job env.Job) ([]byte, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := exec.CommandContext(sctx, ip3, ServerArgs(t.Server, t.Port)...)
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
//
// The server container is always gone when this returns: on an error its
// environment's Run is cancelled and waited for, so its removal cannot
// race the next job or the engine's own shutdown.
func containerServer(ctx context.Context, ip3 string, e env.Env, t Test, nw *env.Network, cpus string, own bool) ([]byte, error) {
	t.Server = nw.Host(1).String()
	sctx, cancel := context.WithCancel(ctx)
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := e.Run(sctx, env.Job{Args: append([]string{ip3}, ServerArgs(t.Server, t.Port)...), Bridge: nw.Attach(1), CPUs: cpus, OwnCgroup: own})
		done <- result{out, err}
	}()
	reaped := false
	defer func() {
		cancel()
		if !reaped {
			<-done
		}
	}()
	client := env.Job{Args: append([]string{ip3}, t.ClientArgs()...), Bridge: nw.Attach(2), CPUs: cpus, OwnCgroup: own}
	// An engine under emulation needs tens of seconds for the holder, the
	// server and each client container; a fast one connects at once, so a
	// long bound costs nothing there.
	deadline := time.Now().Add(serverStart)
	for {
		out, err := e.Run(ctx, client)
		// iperf3 3.12 -J exits 0 when it cannot connect: read what it says.
		if err == nil && Refused(out) {
			err = fmt.Errorf("iperf3 client: %s", iperfError(out))
		}
		if err == nil {
			select {
			case srv := <-done:
				reaped = true
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
		if !Refused(out) || time.Now().After(deadline) {
			return nil, fmt.Errorf("iperf3 client container to %s (tried for %s): %w", t.Server, serverStart, err)
		}
		select {
		case srv := <-done:
			reaped = true
			return nil, fmt.Errorf("iperf3 server container at %s exited before serving: %v; client: %w", t.Server, srv.err, err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serverStart bounds how long a refused client is retried while its
// server container starts.
const serverStart = 3 * time.Minute

// Refused tells whether the client's JSON says no server was listening
// yet ("No route to host": the server's veth was not attached yet).
func Refused(out []byte) bool {
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
	return fmt.Errorf("iperf3 server did not listen on port %d within 2 s", port)
}
