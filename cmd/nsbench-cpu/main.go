// Command nsbench-cpu is the CPU workload that nsbench runs natively and
// inside containers: one Monte Carlo detector simulation job, measured by
// itself, printed as one JSON object on stdout. It is built static so it runs
// in a busybox rootfs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsbench/nsbench/perf/workload/cpu"
)

func main() {
	seed := flag.Uint64("seed", 1, "random seed (same seed, same checksum)")
	particles := flag.Int("particles", 20000, "primary particles to transport (the amount of work)")
	memMiB := flag.Int64("mem", 1024, "resident memory footprint in MiB (the density map)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := cpu.Measure(ctx, cpu.Config{Seed: *seed, Particles: *particles, MemoryBytes: *memMiB << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsbench-cpu:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "nsbench-cpu: write result:", err)
		os.Exit(1)
	}
}
