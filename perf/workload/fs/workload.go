package fs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/workload"
)

// Fio is the "fs" workload: fio over a sweep of patterns, block sizes,
// engines, numjobs and iodepths, on a file in each location: the
// container's own root filesystem ("rootfs"), a bind-mounted directory
// ("bind") or a tmpfs ("tmpfs"). Natively the rootfs and bind files are in
// a directory under the run's scratch directory (a disk), the tmpfs file
// in /dev/shm.
type Fio struct {
	RW        []string `json:"rw"`
	BS        []string `json:"bs"`
	Engines   []string `json:"engines"`
	NumJobs   []int    `json:"numjobs"`
	IODepth   []int    `json:"iodepth"`
	Locations []string `json:"locations"`
	Size      string   `json:"size"`
	RuntimeS  int      `json:"runtime_s"`
	Direct    bool     `json:"direct"`
	// RampS: seconds fio runs before it starts counting (ramp_time).
	RampS int `json:"ramp_s,omitempty"`
	// Sweep is "cross" (every numjobs with every iodepth, the default) or
	// "each": numjobs swept at the first iodepth and iodepth swept at the
	// first numjobs, as seed 001 varied one at a time.
	Sweep string `json:"sweep,omitempty"`
}

// Name implements workload.Workload.
func (Fio) Name() string { return "fs" }

// Unit implements workload.Workload.
func (Fio) Unit() string { return "IOPS" }

// Axis implements workload.Workload.
func (Fio) Axis() string { return "iodepth" }

// Tools implements workload.Workload.
func (Fio) Tools() []workload.Tool {
	return []workload.Tool{{Name: "fio", Package: "fio", Path: "/usr/bin/fio"}}
}

// Validate implements workload.Workload.
func (f Fio) Validate() error {
	if f.RuntimeS < 1 || f.Size == "" || f.RampS < 0 {
		return fmt.Errorf("fs: runtime_s >= 1 and size are required, ramp_s >= 0")
	}
	if len(f.RW) == 0 || len(f.BS) == 0 || len(f.Engines) == 0 || len(f.NumJobs) == 0 || len(f.IODepth) == 0 || len(f.Locations) == 0 {
		return fmt.Errorf("fs: rw, bs, engines, numjobs, iodepth and locations each need at least one value")
	}
	for _, l := range f.Locations {
		if !slices.Contains([]string{"rootfs", "bind", "tmpfs"}, l) {
			return fmt.Errorf("fs: location %q: want rootfs, bind or tmpfs", l)
		}
	}
	if f.Sweep != "" && f.Sweep != "cross" && f.Sweep != "each" {
		return fmt.Errorf("fs: sweep %q: want cross or each", f.Sweep)
	}
	for _, rw := range f.RW {
		for _, eng := range f.Engines {
			j := Job{RW: rw, BS: f.BS[0], Engine: eng, NumJobs: 1, IODepth: 1, Size: f.Size, Runtime: time.Second, Filename: "x"}
			if err := j.Validate(); err != nil {
				return fmt.Errorf("fs: %w", err)
			}
		}
	}
	return nil
}

// depths are the (numjobs, iodepth) pairs of the sweep.
func (f Fio) depths() [][2]int {
	var out [][2]int
	if f.Sweep == "each" {
		for _, nj := range f.NumJobs {
			out = append(out, [2]int{nj, f.IODepth[0]})
		}
		for _, qd := range f.IODepth[1:] {
			out = append(out, [2]int{f.NumJobs[0], qd})
		}
		return out
	}
	for _, nj := range f.NumJobs {
		for _, qd := range f.IODepth {
			out = append(out, [2]int{nj, qd})
		}
	}
	return out
}

// Points implements workload.Workload. A sync engine has one I/O in flight
// whatever iodepth says, so it gets iodepth 1 only.
func (f Fio) Points(int) []workload.Params {
	var ps []workload.Params
	for _, rw := range f.RW {
		for _, bs := range f.BS {
			for _, eng := range f.Engines {
				for _, d := range f.depths() {
					if eng == "sync" && d[1] > 1 {
						continue
					}
					for _, loc := range f.Locations {
						ps = append(ps, workload.Params{"rw": rw, "bs": bs, "engine": eng,
							"numjobs": strconv.Itoa(d[0]), "iodepth": strconv.Itoa(d[1]), "on": loc})
					}
				}
			}
		}
	}
	return ps
}

// dataDir makes the host side of a location: tmpfs natively is /dev/shm,
// everything else a directory under the scratch directory.
func dataDir(d workload.Deps, loc string) (string, error) {
	parent := d.ScratchDir()
	if loc == "tmpfs" {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, "nsbench-fio-")
	if err != nil {
		return "", fmt.Errorf("fio data dir in %s: %w", parent, err)
	}
	return dir, nil
}

// Run implements workload.Workload. tmpfs has no O_DIRECT, so a tmpfs file
// is read and written through the page cache even when Direct is set.
func (f Fio) Run(ctx context.Context, d workload.Deps, p workload.Params) (results.Sample, error) {
	nj, _ := strconv.Atoi(p["numjobs"])
	qd, _ := strconv.Atoi(p["iodepth"])
	job := Job{RW: p["rw"], BS: p["bs"], Engine: p["engine"], NumJobs: nj, IODepth: qd,
		Size: f.Size, Runtime: time.Duration(f.RuntimeS) * time.Second, Direct: f.Direct && p["on"] != "tmpfs",
		Filename: env.DataDir + "/fio.dat", Ramp: time.Duration(f.RampS) * time.Second}
	if err := job.Validate(); err != nil {
		return results.Sample{}, err
	}
	fio, err := f.Tools()[0].Find()
	if err != nil {
		return results.Sample{}, err
	}
	host, err := dataDir(d, p["on"])
	if err != nil {
		return results.Sample{}, err
	}
	defer os.RemoveAll(host)
	out, err := d.Env.Run(ctx, env.Job{Args: append([]string{fio}, job.Args()...), Data: &env.Data{Kind: p["on"], Host: host}, CPUs: d.CPUs, OwnCgroup: d.OwnCgroup})
	if err != nil {
		return results.Sample{}, workload.WithOutput(err, out)
	}
	return f.Parse(out)
}

// Parse implements workload.Workload. fio prints warnings (on the same
// stream, when stdout and stderr share a file, as in a VM guest's output)
// before its JSON: the JSON document is cut out first.
func (Fio) Parse(out []byte) (results.Sample, error) {
	doc := JSONPart(out)
	r, err := Parse(doc)
	if err != nil {
		return results.Sample{}, err
	}
	return results.Sample{Value: r.IOPS, Raw: []json.RawMessage{doc}, Metrics: map[string]float64{
		"bw_kib_s": r.BandwidthKiBs, "lat_p50_us": r.LatP50us, "lat_p99_us": r.LatP99us, "lat_mean_us": r.LatMeanus}}, nil
}

// JSONPart cuts the JSON document out of a tool's output that may carry
// text before or after it; nil when there is none.
func JSONPart(out []byte) []byte {
	s := string(out)
	i, j := strings.Index(s, "{"), strings.LastIndex(s, "}")
	if i < 0 || j < i {
		return nil
	}
	return out[i : j+1]
}
