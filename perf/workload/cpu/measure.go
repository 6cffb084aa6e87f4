package cpu

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Report is one job's measurement as nsbench-cpu prints it.
type Report struct {
	Seed        uint64  `json:"seed"`
	Particles   int     `json:"particles"`
	MemoryBytes int64   `json:"memory_bytes"`
	WallSeconds float64 `json:"wall_s"`
	UserSeconds float64 `json:"user_s"`
	SysSeconds  float64 `json:"sys_s"`
	MaxRSSKiB   int64   `json:"maxrss_kib"`
	Hits        int64   `json:"hits"`
	Checksum    string  `json:"checksum"`
}

// Measure runs the simulation in this process and reports its wall time and
// the process's own CPU time and peak RSS (getrusage RUSAGE_SELF), which is
// what a job in a container sees of itself regardless of the runtime.
func Measure(ctx context.Context, cfg Config) (Report, error) {
	start := time.Now()
	res, err := Run(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	wall := time.Since(start)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Report{}, fmt.Errorf("getrusage: %w", err)
	}
	return Report{
		Seed: cfg.Seed, Particles: res.Particles, MemoryBytes: cfg.MemoryBytes,
		WallSeconds: wall.Seconds(),
		UserSeconds: time.Duration(ru.Utime.Nano()).Seconds(),
		SysSeconds:  time.Duration(ru.Stime.Nano()).Seconds(),
		MaxRSSKiB:   ru.Maxrss, // Linux reports KiB
		Hits:        res.Hits,
		Checksum:    res.Checksum,
	}, nil
}
