package cpu

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/nsbench/nsbench/perf/workload/measure"
)

// SysbenchRun is one `sysbench cpu` run: the second, external CPU workload
// (prime sieving up to MaxPrime), a fixed amount of work (Events) spread
// over Threads so a run takes as long as the machine needs, like the
// simulation.
type SysbenchRun struct {
	Threads  int `json:"threads"`
	MaxPrime int `json:"max_prime"`
	Events   int `json:"events"`
}

// Validate reports the first bad field.
func (s SysbenchRun) Validate() error {
	if s.Threads < 1 || s.MaxPrime < 1 || s.Events < 1 {
		return fmt.Errorf("sysbench cpu: threads %d, max_prime %d and events %d must be >= 1", s.Threads, s.MaxPrime, s.Events)
	}
	return nil
}

// Args is sysbench's command line (without the binary). --time=0 lifts the
// default 10 s limit so the event count alone ends the run.
func (s SysbenchRun) Args() []string {
	return []string{"cpu", "--cpu-max-prime=" + strconv.Itoa(s.MaxPrime), "--threads=" + strconv.Itoa(s.Threads),
		"--time=0", "--events=" + strconv.Itoa(s.Events), "run"}
}

// SysbenchResult is what nsbench keeps of a sysbench cpu run.
type SysbenchResult struct {
	Version        string  `json:"version"`
	Threads        int     `json:"threads"`
	EventsPerSec   float64 `json:"events_per_s"`
	TotalSeconds   float64 `json:"total_s"`
	Events         int     `json:"events"`
	LatMinMs       float64 `json:"lat_min_ms"`
	LatAvgMs       float64 `json:"lat_avg_ms"`
	LatMaxMs       float64 `json:"lat_max_ms"`
	LatP95Ms       float64 `json:"lat_p95_ms"`
	ThreadEventsSD float64 `json:"thread_events_stddev"` // fairness across threads
}

// ParseSysbench reads the text report of `sysbench cpu run` (1.0.x; it has
// no machine-readable output). Every headline field must be present: a
// report that lacks one is from another version or an aborted run.
func ParseSysbench(out []byte) (SysbenchResult, error) {
	var r SysbenchResult
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "sysbench "); ok && r.Version == "" {
			r.Version, _, _ = strings.Cut(v, " ")
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		var err error
		switch key {
		case "Number of threads":
			r.Threads, err = strconv.Atoi(val)
		case "events per second":
			r.EventsPerSec, err = strconv.ParseFloat(val, 64)
		case "total time":
			r.TotalSeconds, err = strconv.ParseFloat(strings.TrimSuffix(val, "s"), 64)
		case "total number of events":
			r.Events, err = strconv.Atoi(val)
		case "min":
			r.LatMinMs, err = strconv.ParseFloat(val, 64)
		case "avg":
			r.LatAvgMs, err = strconv.ParseFloat(val, 64)
		case "max":
			r.LatMaxMs, err = strconv.ParseFloat(val, 64)
		case "95th percentile":
			r.LatP95Ms, err = strconv.ParseFloat(val, 64)
		case "events (avg/stddev)":
			_, sd, _ := strings.Cut(val, "/")
			r.ThreadEventsSD, err = strconv.ParseFloat(sd, 64)
		default:
			continue
		}
		if err != nil {
			return SysbenchResult{}, fmt.Errorf("parse sysbench output: %q: %w", line, err)
		}
		seen[key] = true
	}
	for _, k := range []string{"Number of threads", "events per second", "total time", "total number of events", "avg", "95th percentile"} {
		if !seen[k] {
			return SysbenchResult{}, fmt.Errorf("parse sysbench output: no %q line (not a sysbench 1.0 cpu report?): %s", k, firstLine(out))
		}
	}
	if err := measure.Check("sysbench", map[string]float64{
		"threads": float64(r.Threads), "events per second": r.EventsPerSec, "total time": r.TotalSeconds,
		"total number of events": float64(r.Events), "min": r.LatMinMs, "avg": r.LatAvgMs, "max": r.LatMaxMs,
		"95th percentile": r.LatP95Ms, "events stddev": r.ThreadEventsSD,
	}); err != nil {
		return SysbenchResult{}, err
	}
	return r, nil
}

func firstLine(b []byte) string {
	l, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(l) > 200 {
		l = l[:200] + "…"
	}
	return strconv.Quote(l)
}
