package runner

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/procfs"

	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/results"
)

// userHZ is the unit of /proc/stat and /proc/PID/stat times (USER_HZ,
// 100 on every Linux architecture nsbench runs on).
const userHZ = 100

// cpuStat is the first line of /proc/stat, in ticks.
type cpuStat struct {
	user, nice, system, idle, iowait, irq, softirq, steal uint64
	ctxt                                                  uint64
}

func (c cpuStat) total() uint64 {
	return c.user + c.nice + c.system + c.idle + c.iowait + c.irq + c.softirq + c.steal
}

func readCPUStat() (cpuStat, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	var c cpuStat
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 9 && f[0] == "cpu":
			v := make([]uint64, 8)
			for i := range v {
				v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
			}
			c.user, c.nice, c.system, c.idle, c.iowait, c.irq, c.softirq, c.steal = v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		case len(f) == 2 && f[0] == "ctxt":
			c.ctxt, _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	return c, nil
}

// proc is one process's CPU ticks, identified by pid and start time.
type proc struct {
	comm  string
	ppid  int
	ticks uint64
	start uint64
}

// readProcs reads /proc/PID/stat of every process.
func readProcs() map[int]proc {
	out := map[int]proc{}
	all, err := procfs.All()
	if err != nil {
		return out
	}
	for pid, st := range all {
		out[pid] = proc{comm: st.Comm, ppid: st.PPid, ticks: st.UTime + st.STime, start: st.StartTime}
	}
	return out
}

// snapshot is what the machine and this process had used at one moment.
type snapshot struct {
	t              time.Time
	cpu            cpuStat
	children, self unix.Rusage
	procs          map[int]proc
	engUser        time.Duration
	engSys         time.Duration
	engOK          bool
}

// cpuAccounter is an environment whose jobs are not this process's
// children (the engines): it reports their CPU time from its cgroup.
type cpuAccounter interface {
	CPUTime() (user, sys time.Duration, ok bool)
}

func takeSnapshot(e env.Env) snapshot {
	s := snapshot{t: time.Now(), procs: readProcs()}
	s.cpu, _ = readCPUStat()
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &s.children)
	_ = unix.Getrusage(unix.RUSAGE_SELF, &s.self)
	if a, ok := e.(cpuAccounter); ok {
		s.engUser, s.engSys, s.engOK = a.CPUTime()
	}
	return s
}

func tv(t unix.Timeval) time.Duration { return time.Duration(t.Nano()) }

// noise is what happened between a and b (a sample).
func noise(a, b snapshot) *results.Noise {
	n := &results.Noise{WallS: b.t.Sub(a.t).Seconds(), JobSource: "rusage"}
	n.JobUserS = (tv(b.children.Utime) - tv(a.children.Utime)).Seconds()
	n.JobSysS = (tv(b.children.Stime) - tv(a.children.Stime)).Seconds()
	n.JobCtxSwVol = float64(b.children.Nvcsw - a.children.Nvcsw)
	n.JobCtxSwInvol = float64(b.children.Nivcsw - a.children.Nivcsw)
	ours := n.JobUserS + n.JobSysS + (tv(b.self.Utime) + tv(b.self.Stime) - tv(a.self.Utime) - tv(a.self.Stime)).Seconds()
	if a.engOK && b.engOK {
		// the client's own (tiny) time stays in ours above
		eu, es := (b.engUser - a.engUser).Seconds(), (b.engSys - a.engSys).Seconds()
		ours += eu + es
		n.JobUserS, n.JobSysS, n.JobSource = eu, es, "cgroup"
	}
	dt := float64(b.cpu.total() - a.cpu.total())
	if dt > 0 {
		idle := float64(b.cpu.idle - a.cpu.idle + b.cpu.iowait - a.cpu.iowait)
		n.Busy = (dt - idle) / dt
		n.Steal = float64(b.cpu.steal-a.cpu.steal) / dt
		n.IOWait = float64(b.cpu.iowait-a.cpu.iowait) / dt
		n.OthersCPUS = max(0, (dt-idle)/userHZ-ours)
	}
	n.CtxSwitches = float64(b.cpu.ctxt - a.cpu.ctxt)
	n.Load1 = load1()
	n.PSICPUSome10 = psiCPU()
	n.Others = others(a.procs, b.procs, os.Getpid(), 3)
	return n
}

// others names the processes outside this run (not descendants of self)
// that used the most CPU between a and b: "comm[pid] 0.42s".
func others(a, b map[int]proc, self, top int) []string {
	type use struct {
		name  string
		ticks uint64
	}
	var us []use
	for pid, pb := range b {
		pa, ok := a[pid]
		if !ok || pa.start != pb.start || pb.ticks <= pa.ticks || descends(b, pid, self) {
			continue
		}
		us = append(us, use{fmt.Sprintf("%s[%d]", pb.comm, pid), pb.ticks - pa.ticks})
	}
	slices.SortFunc(us, func(x, y use) int { return cmp.Compare(y.ticks, x.ticks) })
	var out []string
	for _, u := range us[:min(top, len(us))] {
		out = append(out, fmt.Sprintf("%s %.2fs", u.name, float64(u.ticks)/userHZ))
	}
	return out
}

func descends(ps map[int]proc, pid, ancestor int) bool {
	for range 64 {
		if pid == ancestor {
			return true
		}
		p, ok := ps[pid]
		if !ok || p.ppid == 0 {
			return false
		}
		pid = p.ppid
	}
	return false
}

func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// psiCPU is "some avg10" of /proc/pressure/cpu; 0 without PSI.
func psiCPU() float64 {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "avg10="); ok {
			x, _ := strconv.ParseFloat(v, 64)
			return x // the first line is "some"
		}
	}
	return 0
}

// waitQuiet waits until, over one second, the machine's busy fraction (this
// process is idle meanwhile, so it is everybody else's) is at most maxBusy,
// or maxWait has passed. It returns how long it waited and whether the
// machine was quiet.
func waitQuiet(ctx context.Context, maxBusy float64, maxWait time.Duration) (time.Duration, bool, error) {
	start := time.Now()
	for {
		a, err := readCPUStat()
		if err != nil {
			return 0, false, err
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false, ctx.Err()
		case <-time.After(time.Second):
		}
		b, err := readCPUStat()
		if err != nil {
			return 0, false, err
		}
		if dt := float64(b.total() - a.total()); dt > 0 {
			idle := float64(b.idle - a.idle + b.iowait - a.iowait)
			if (dt-idle)/dt <= maxBusy {
				return time.Since(start), true, nil
			}
		}
		if time.Since(start) >= maxWait {
			return time.Since(start), false, nil
		}
	}
}
