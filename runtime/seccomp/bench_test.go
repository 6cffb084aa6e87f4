package seccomp

import (
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The filter compiles once per container, in `create`: its cost is part of
// nsrun's start time.

func benchCompile(b *testing.B, p *specs.LinuxSeccomp) {
	host, err := HostArch()
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	var f *Filter
	before := cpuTime(b)
	for b.Loop() {
		if f, err = Compile(p, host); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared, loaded machine wall time says more about the others
	// than about the compiler: CPU time per compile (GC included) too.
	b.ReportMetric(float64((cpuTime(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(f.Len()), "insns")
}

// cpuTime is the process's user and system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkCompileDocker(b *testing.B) { benchCompile(b, dockerProfile(b)) }
func BenchmarkCompilePodman(b *testing.B) { benchCompile(b, podmanProfile(b)) }
