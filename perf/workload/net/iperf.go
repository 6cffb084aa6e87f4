package net

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nsbench/nsbench/perf/workload/measure"
)

// Test is one iperf3 client run.
type Test struct {
	UDP      bool          `json:"udp"`
	Parallel int           `json:"parallel"`
	Length   string        `json:"length,omitempty"`  // -l, e.g. "128K" or "1400"
	Bitrate  string        `json:"bitrate,omitempty"` // -b, UDP only, e.g. "1G"
	Duration time.Duration `json:"duration"`
	Interval time.Duration `json:"interval"`
	// Omit: iperf3 leaves this much of the start out of its results (-O),
	// so TCP's slow start does not count.
	Omit   time.Duration `json:"omit,omitempty"`
	Server string        `json:"-"`
	Port   int           `json:"-"`
}

// ServerArgs serve one test and exit.
func ServerArgs(bind string, port int) []string {
	return []string{"-s", "-1", "-B", bind, "-p", strconv.Itoa(port)}
}

// ClientArgs is the client command line (without the iperf3 binary).
func (t Test) ClientArgs() []string {
	a := []string{"-c", t.Server, "-p", strconv.Itoa(t.Port), "-J",
		"-t", strconv.FormatFloat(t.Duration.Seconds(), 'f', -1, 64),
		"-P", strconv.Itoa(max(1, t.Parallel))}
	if t.Omit > 0 {
		a = append(a, "-O", strconv.FormatFloat(t.Omit.Seconds(), 'f', -1, 64))
	}
	if t.Interval > 0 {
		a = append(a, "-i", strconv.FormatFloat(t.Interval.Seconds(), 'f', -1, 64))
	}
	if t.UDP {
		a = append(a, "-u")
		if t.Bitrate != "" {
			a = append(a, "-b", t.Bitrate)
		}
	}
	if t.Length != "" {
		a = append(a, "-l", t.Length)
	}
	return a
}

// Interval is one reporting interval summed over the streams.
type Interval struct {
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
	BitsPerSec  float64 `json:"bps"`
	Retransmits int     `json:"retransmits,omitempty"`
	RTTus       float64 `json:"rtt_us,omitempty"` // mean of the streams' smoothed RTT
}

// Result is what nsbench keeps of an iperf3 run.
type Result struct {
	Protocol    string     `json:"protocol"`
	Streams     int        `json:"streams"`
	SentBps     float64    `json:"sent_bps"`
	ReceivedBps float64    `json:"received_bps"`
	Retransmits int        `json:"retransmits"`
	MeanRTTus   float64    `json:"mean_rtt_us,omitempty"`
	MaxRTTus    float64    `json:"max_rtt_us,omitempty"`
	JitterMs    float64    `json:"jitter_ms,omitempty"`
	LostPercent float64    `json:"lost_percent,omitempty"`
	Intervals   []Interval `json:"intervals"`
	Version     string     `json:"iperf_version"`
}

type sum struct {
	Start       float64 `json:"start"`
	End         float64 `json:"end"`
	BitsPerSec  float64 `json:"bits_per_second"`
	Retransmits int     `json:"retransmits"`
	JitterMs    float64 `json:"jitter_ms"`
	LostPercent float64 `json:"lost_percent"`
}

type output struct {
	Start struct {
		Version string `json:"version"`
		Test    struct {
			Protocol   string `json:"protocol"`
			NumStreams int    `json:"num_streams"`
		} `json:"test_start"`
	} `json:"start"`
	Intervals []struct {
		Streams []struct {
			RTT float64 `json:"rtt"`
		} `json:"streams"`
		Sum sum `json:"sum"`
	} `json:"intervals"`
	End struct {
		Streams []struct {
			Sender struct {
				MaxRTT  float64 `json:"max_rtt"`
				MeanRTT float64 `json:"mean_rtt"`
			} `json:"sender"`
		} `json:"streams"`
		Sum         *sum `json:"sum"` // UDP
		SumSent     sum  `json:"sum_sent"`
		SumReceived sum  `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// Parse reads iperf3's -J output of the client.
func Parse(data []byte) (Result, error) {
	var out output
	if err := json.Unmarshal(data, &out); err != nil {
		return Result{}, fmt.Errorf("parse iperf3 json: %w", err)
	}
	if out.Error != "" {
		return Result{}, fmt.Errorf("parse iperf3 json: iperf3 reported: %s", out.Error)
	}
	if len(out.Intervals) == 0 {
		return Result{}, fmt.Errorf("parse iperf3 json: no intervals in output")
	}
	r := Result{
		Protocol: out.Start.Test.Protocol, Streams: out.Start.Test.NumStreams,
		SentBps: out.End.SumSent.BitsPerSec, ReceivedBps: out.End.SumReceived.BitsPerSec,
		Retransmits: out.End.SumSent.Retransmits, Version: out.Start.Version,
	}
	if out.End.Sum != nil {
		r.JitterMs, r.LostPercent = out.End.Sum.JitterMs, out.End.Sum.LostPercent
	}
	var n int
	for _, s := range out.End.Streams {
		if s.Sender.MeanRTT > 0 {
			r.MeanRTTus += s.Sender.MeanRTT
			n++
		}
		r.MaxRTTus = max(r.MaxRTTus, s.Sender.MaxRTT)
	}
	if n > 0 {
		r.MeanRTTus /= float64(n)
	}
	for _, iv := range out.Intervals {
		x := Interval{Start: iv.Sum.Start, End: iv.Sum.End, BitsPerSec: iv.Sum.BitsPerSec, Retransmits: iv.Sum.Retransmits}
		var k int
		for _, s := range iv.Streams {
			if s.RTT > 0 {
				x.RTTus += s.RTT
				k++
			}
		}
		if k > 0 {
			x.RTTus /= float64(k)
		}
		r.Intervals = append(r.Intervals, x)
	}
	fields := map[string]float64{
		"streams": float64(r.Streams), "sent bits_per_second": r.SentBps, "received bits_per_second": r.ReceivedBps,
		"retransmits": float64(r.Retransmits), "mean_rtt": r.MeanRTTus, "max_rtt": r.MaxRTTus,
		"jitter_ms": r.JitterMs, "lost_percent": r.LostPercent,
	}
	for i, x := range r.Intervals {
		for n, v := range map[string]float64{"start": x.Start, "end": x.End, "bits_per_second": x.BitsPerSec, "retransmits": float64(x.Retransmits), "rtt": x.RTTus} {
			fields[fmt.Sprintf("intervals[%d].%s", i, n)] = v
		}
	}
	if err := measure.Check("iperf3", fields); err != nil {
		return Result{}, err
	}
	return r, nil
}
