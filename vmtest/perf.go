package vmtest

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/guest"
	"github.com/nsbench/nsbench/perf/workload/fs"
	"github.com/nsbench/nsbench/perf/workload/net"
)

// The perf smoke is not a benchmark: one short fio and one short iperf3 run
// in the guest, to show the tools of the guest's arch work and give an
// order of magnitude next to the conformance results.
const (
	smokeFio   = "perf-fio"
	smokeIperf = "perf-iperf3"
	smokePort  = 5201
)

func smokeFioJob() fs.Job {
	// tmpfs has no O_DIRECT; libaio still goes through the aio path.
	return fs.Job{RW: "randread", BS: "4k", Engine: "libaio", NumJobs: 1, IODepth: 8, Size: "64M",
		Runtime: 3 * time.Second, Filename: "/tmp/nsbench-fio"}
}

func smokeIperfTest() net.Test {
	return net.Test{Parallel: 1, Duration: 3 * time.Second, Interval: time.Second, Server: "127.0.0.1", Port: smokePort}
}

// perfSmokeTests are the guest jobs of the smoke. The guest's loopback is
// down until someone brings it up; the server serves one test and exits.
func perfSmokeTests() []guest.Test {
	client := append([]string{images.GuestIperf3}, smokeIperfTest().ClientArgs()...)
	server := append([]string{images.GuestIperf3, "-D"}, net.ServerArgs("127.0.0.1", smokePort)...)
	script := fmt.Sprintf("ip link set lo up && %s && sleep 1 && exec %s", strings.Join(server, " "), strings.Join(client, " "))
	return []guest.Test{
		{Name: smokeFio, Path: images.GuestFio, Args: smokeFioJob().Args()},
		{Name: smokeIperf, Path: "/bin/sh", Args: []string{"-c", script}},
	}
}

// jsonPart cuts the JSON document out of a tool's output: stderr shares
// the file, and fio prints warnings before its JSON.
func jsonPart(out string) []byte {
	i, j := strings.Index(out, "{"), strings.LastIndex(out, "}")
	if i < 0 || j < i {
		return nil
	}
	return []byte(out[i : j+1])
}

// reportPerfSmoke prints the smoke's results and returns whether both
// runs worked.
func reportPerfSmoke(w io.Writer, res *Result) bool {
	ok := true
	fmt.Fprintln(w, "perf smoke (in the guest; a few seconds each, not a benchmark):")
	fj := smokeFioJob()
	if r, err := fs.Parse(jsonPart(res.Outputs[smokeFio])); err != nil || res.ExitCodes[smokeFio] != 0 {
		ok = false
		fmt.Fprintf(w, "  fio FAILED (exit %d): %v\n%s\n", res.ExitCodes[smokeFio], err, indent(res.Outputs[smokeFio]))
	} else {
		fmt.Fprintf(w, "  fio %s, %s %s, %s iodepth %d on tmpfs, %s: %.0f IOPS, %.1f MiB/s, p50 %.1f us, p99 %.1f us\n",
			r.Version, fj.RW, fj.BS, fj.Engine, fj.IODepth, fj.Runtime, r.IOPS, r.BandwidthKiBs/1024, r.LatP50us, r.LatP99us)
	}
	it := smokeIperfTest()
	if r, err := net.Parse(jsonPart(res.Outputs[smokeIperf])); err != nil || res.ExitCodes[smokeIperf] != 0 {
		ok = false
		fmt.Fprintf(w, "  iperf3 FAILED (exit %d): %v\n%s\n", res.ExitCodes[smokeIperf], err, indent(res.Outputs[smokeIperf]))
	} else {
		fmt.Fprintf(w, "  %s, %s over loopback, %s: %.2f Gbit/s received, %d retransmits\n",
			r.Version, r.Protocol, it.Duration, r.ReceivedBps/1e9, r.Retransmits)
	}
	return ok
}

func indent(s string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
