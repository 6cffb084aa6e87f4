package fs

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nsbench/nsbench/perf/workload/measure"
)

// Job is one fio run.
type Job struct {
	RW       string        `json:"rw"` // read, write, randread, randwrite
	BS       string        `json:"bs"` // e.g. "4k"
	Engine   string        `json:"engine"`
	NumJobs  int           `json:"numjobs"`
	IODepth  int           `json:"iodepth"`
	Size     string        `json:"size"` // per job file size, e.g. "64M"
	Runtime  time.Duration `json:"runtime"`
	Direct   bool          `json:"direct"`
	Filename string        `json:"-"` // path as the workload sees it
	// Ramp: fio runs this long before it starts counting (ramp_time): the
	// warm-up of caches and queues is left out of the result.
	Ramp time.Duration `json:"ramp,omitempty"`
}

// Validate reports the first bad field.
func (j Job) Validate() error {
	switch j.RW {
	case "read", "write", "randread", "randwrite":
	default:
		return fmt.Errorf("fio job: rw %q: want read, write, randread or randwrite", j.RW)
	}
	switch j.Engine {
	case "sync", "psync", "libaio", "io_uring":
	default:
		return fmt.Errorf("fio job: engine %q: want sync, psync, libaio or io_uring", j.Engine)
	}
	if j.NumJobs < 1 || j.IODepth < 1 {
		return fmt.Errorf("fio job: numjobs %d and iodepth %d must be >= 1", j.NumJobs, j.IODepth)
	}
	if j.BS == "" || j.Size == "" || j.Runtime <= 0 || j.Filename == "" {
		return fmt.Errorf("fio job: bs, size, runtime and filename are required (got %+v)", j)
	}
	return nil
}

// Args is fio's command line for the job (without the fio binary), time
// based so every cell runs equally long, with the jobs reported as a group.
func (j Job) Args() []string {
	direct := "0"
	if j.Direct {
		direct = "1"
	}
	a := []string{
		"--name=nsbench", "--filename=" + j.Filename, "--rw=" + j.RW, "--bs=" + j.BS,
		"--ioengine=" + j.Engine, "--numjobs=" + strconv.Itoa(j.NumJobs),
		"--iodepth=" + strconv.Itoa(j.IODepth), "--size=" + j.Size, "--direct=" + direct,
		"--time_based", "--runtime=" + strconv.Itoa(max(1, int(j.Runtime.Seconds()))),
		"--group_reporting", "--output-format=json",
	}
	if j.Ramp > 0 {
		a = append(a, "--ramp_time="+strconv.Itoa(max(1, int(j.Ramp.Seconds()))))
	}
	return a
}

// Result is what nsbench keeps of a fio run: the direction that did I/O.
type Result struct {
	IOPS          float64 `json:"iops"`
	BandwidthKiBs float64 `json:"bw_kib_s"`
	LatP50us      float64 `json:"lat_p50_us"` // completion latency
	LatP99us      float64 `json:"lat_p99_us"`
	LatMeanus     float64 `json:"lat_mean_us"`
	Runtime       float64 `json:"runtime_ms"`
	Jobs          int     `json:"jobs"`
	Version       string  `json:"fio_version"`
}

type fioDir struct {
	IOBytes int64   `json:"io_bytes"`
	BW      float64 `json:"bw"`
	IOPS    float64 `json:"iops"`
	Runtime float64 `json:"runtime"`
	ClatNS  struct {
		Mean       float64            `json:"mean"`
		Percentile map[string]float64 `json:"percentile"`
	} `json:"clat_ns"`
}

type fioOutput struct {
	Version string `json:"fio version"`
	Jobs    []struct {
		Error int    `json:"error"`
		Read  fioDir `json:"read"`
		Write fioDir `json:"write"`
	} `json:"jobs"`
}

// Parse reads fio's JSON output. With group_reporting there is one job
// entry; without, IOPS and bandwidth are summed and latencies averaged over
// jobs. The direction with I/O is read (a run here is read or write, never
// mixed).
func Parse(data []byte) (Result, error) {
	var out fioOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return Result{}, fmt.Errorf("parse fio json: %w", err)
	}
	if len(out.Jobs) == 0 {
		return Result{}, fmt.Errorf("parse fio json: no jobs in output")
	}
	r := Result{Version: out.Version, Jobs: len(out.Jobs)}
	for i, j := range out.Jobs {
		if j.Error != 0 {
			return Result{}, fmt.Errorf("parse fio json: job %d failed with error %d", i, j.Error)
		}
		d := j.Read
		if d.IOBytes == 0 {
			d = j.Write
		}
		if d.IOBytes == 0 {
			return Result{}, fmt.Errorf("parse fio json: job %d did no I/O", i)
		}
		p50, ok50 := d.ClatNS.Percentile["50.000000"]
		p99, ok99 := d.ClatNS.Percentile["99.000000"]
		if !ok50 || !ok99 {
			return Result{}, fmt.Errorf("parse fio json: job %d has no 50th/99th completion latency percentile", i)
		}
		r.IOPS += d.IOPS
		r.BandwidthKiBs += d.BW
		r.LatP50us += p50 / 1e3 / float64(len(out.Jobs))
		r.LatP99us += p99 / 1e3 / float64(len(out.Jobs))
		r.LatMeanus += d.ClatNS.Mean / 1e3 / float64(len(out.Jobs))
		r.Runtime = max(r.Runtime, d.Runtime)
	}
	// Sums of huge values overflow to +Inf, and fio's JSON can hold any
	// number a damaged or hand-edited file puts there.
	if err := measure.Check("fio", map[string]float64{
		"iops": r.IOPS, "bw": r.BandwidthKiBs, "clat p50": r.LatP50us, "clat p99": r.LatP99us,
		"clat mean": r.LatMeanus, "runtime": r.Runtime,
	}); err != nil {
		return Result{}, err
	}
	return r, nil
}
