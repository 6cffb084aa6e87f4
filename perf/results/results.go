// Package results is nsbench's versioned results file: the machine, the
// runtime versions, the environments skipped and why, and every raw sample of
// every cell, so that a report can be recomputed and shards can be merged.
package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/atomicfile"
)

// Version of the file format; bumped when a field changes meaning.
const Version = 1

// File is one results file.
type File struct {
	Version  int               `json:"version"`
	Config   string            `json:"config"`
	Shard    string            `json:"shard,omitempty"`
	Created  time.Time         `json:"created"`
	Machine  Machine           `json:"machine"`
	Runtimes map[string]string `json:"runtimes"`
	Skipped  map[string]string `json:"skipped,omitempty"` // env -> reason
	Cells    []Cell            `json:"cells"`
}

// Machine describes where the samples were taken.
type Machine struct {
	Hostname  string `json:"hostname"`
	Kernel    string `json:"kernel"`
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"go"`
}

// Cell is one point of the matrix in one environment.
type Cell struct {
	Key      string            `json:"key"`
	Point    string            `json:"point"` // the key without the environment
	Workload string            `json:"workload"`
	Env      string            `json:"env"`
	Params   map[string]string `json:"params"`
	Unit     string            `json:"unit"` // of Sample.Value
	Samples  []Sample          `json:"samples"`
}

// Sample is one repetition.
type Sample struct {
	Rep     int                `json:"rep"`
	Value   float64            `json:"value"` // the cell's headline metric
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Series  []TimePoint        `json:"series,omitempty"` // e.g. throughput per interval
	Raw     []json.RawMessage  `json:"raw,omitempty"`    // workload output as printed
}

// TimePoint is one element of a time series within a sample (not a point of
// the matrix: that is a Cell's Point, runner.Point).
type TimePoint struct {
	T      float64            `json:"t"`
	Values map[string]float64 `json:"v"`
}

// Values of all samples of the cell.
func (c Cell) Values() []float64 {
	v := make([]float64, len(c.Samples))
	for i, s := range c.Samples {
		v[i] = s.Value
	}
	return v
}

// HasRep reports whether repetition rep is recorded.
func (c Cell) HasRep(rep int) bool {
	return slices.ContainsFunc(c.Samples, func(s Sample) bool { return s.Rep == rep })
}

// Cell returns the cell of that key, adding it when missing.
func (f *File) Cell(key string) *Cell {
	for i := range f.Cells {
		if f.Cells[i].Key == key {
			return &f.Cells[i]
		}
	}
	f.Cells = append(f.Cells, Cell{Key: key})
	return &f.Cells[len(f.Cells)-1]
}

// DescribeMachine reads this machine's identity.
func DescribeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// Load reads a results file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse results %s: %w", path, err)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("results %s: format version %d, this nsbench reads %d", path, f.Version, Version)
	}
	return &f, nil
}

// Save writes the file atomically (rename), so an interrupted run leaves the
// last complete state for --resume.
func (f *File) Save(path string) error {
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.Write(path, data, 0o644)
}

// Merge joins shards: cells by key (samples of the same repetition from two
// files are an error: the shards overlapped), runtimes and skips united.
func Merge(files ...*File) (*File, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("merge: no results files")
	}
	out := &File{Version: Version, Config: files[0].Config, Created: time.Now().UTC(), Machine: files[0].Machine,
		Runtimes: map[string]string{}, Skipped: map[string]string{}}
	for _, f := range files {
		if f.Config != out.Config {
			return nil, fmt.Errorf("merge: config %q and %q differ", out.Config, f.Config)
		}
		for k, v := range f.Runtimes {
			out.Runtimes[k] = v
		}
		for k, v := range f.Skipped {
			out.Skipped[k] = v
		}
		for _, c := range f.Cells {
			dst := out.Cell(c.Key)
			if dst.Workload == "" {
				samples := dst.Samples
				*dst = c
				dst.Samples = samples
			}
			for _, s := range c.Samples {
				if dst.HasRep(s.Rep) {
					return nil, fmt.Errorf("merge: cell %s repetition %d is in two files (overlapping shards?)", c.Key, s.Rep)
				}
				dst.Samples = append(dst.Samples, s)
			}
		}
	}
	slices.SortFunc(out.Cells, func(a, b Cell) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
