// Package timeline records when nsrun passes the points of a container's
// start (config validated, cgroup made, init cloned, rootfs mounted, ...)
// so that a benchmark can say where the time goes. It is opt-in: a nil
// *Recorder records nothing and costs a nil check, and nsrun makes one only
// when asked (NSRUN_TRACE names a file).
//
// Every process involved (the nsrun command, the container's init before
// its execve) appends its points to the same file as JSON lines, each
// process in one write(2) of an O_APPEND descriptor, so lines never
// interleave. Times are CLOCK_MONOTONIC nanoseconds: one clock for every
// process on the host (a container in a new time namespace would see an
// offset, which nsrun's benchmark bundles do not ask for), which the
// benchmark reads too when it forks nsrun and reaps it.
package timeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// The points, in the order a `run` of a container with a cgroup passes
// them (without one, rootless on v1, the record and the cgroup point come
// after the clone). The time before a point, since the previous one, is
// the phase its Label names.
const (
	Spawn      = "spawn"      // the caller forks nsrun (benchmark)
	Main       = "main"       // nsrun's main runs (exec + Go runtime start)
	Validated  = "validated"  // config loaded, validated, seccomp compiled
	Sealed     = "sealed"     // id locked; sealed exe, exec fifo, sync socket
	StateSaved = "state"      // record saved
	CgroupMade = "cgroup"     // cgroup directories made
	Cloned     = "cloned"     // init cloned into its namespaces and cgroup, exec'd
	LimitsSet  = "limits"     // limits set, the init's pid saved
	InitMain   = "init-main"  // the init's Go runtime is up (init)
	Configured = "configured" // init has its config (init)
	Namespaces = "namespaces" // createRuntime hooks done, init continues
	Mounted    = "mounted"    // rootfs and mounts made (init)
	HooksDone  = "hooks"      // createContainer hooks run (init)
	Pivoted    = "pivoted"    // pivot_root done (init)
	Ready      = "ready"      // masked/readonly paths, terminal, cwd (init)
	Created    = "created"    // create returns: record says created
	Started    = "started"    // start wrote the fifo, record saved
	Woken      = "woken"      // init read the fifo (init)
	Execve     = "execve"     // caps, user, seccomp done; execve next (init)
	Exited     = "exited"     // the container's process was reaped
	Deleted    = "deleted"    // cgroup and state removed
	Reaped     = "reaped"     // the caller reaped nsrun (benchmark)
)

// Order lists the points in the order a `run` passes them (the init's Go
// start runs while nsrun sets the limits: their points fall in any
// order).
func Order() []string {
	return []string{Spawn, Main, Validated, Sealed, StateSaved, CgroupMade, Cloned, LimitsSet, InitMain,
		Configured, Namespaces, Mounted, HooksDone, Pivoted, Ready, Created, Started, Woken, Execve, Exited, Deleted, Reaped}
}

// Labels name the phase that ends at each point.
var labels = map[string]string{
	Main:       "nsrun exec + Go runtime start",
	Validated:  "validate config",
	Sealed:     "lock, fifo, socket, sealed exe",
	StateSaved: "state record",
	CgroupMade: "cgroup (mkdir)",
	Cloned:     "clone into cgroup + exec of init",
	LimitsSet:  "limits, pid saved",
	InitMain:   "init: Go runtime start",
	Configured: "handshake: config to init",
	Namespaces: "handshake: createRuntime hooks",
	Mounted:    "init: mounts",
	HooksDone:  "init: createContainer hooks",
	Pivoted:    "init: pivot_root",
	Ready:      "init: finish (masks, ro, cwd)",
	Created:    "ready -> created (record)",
	Started:    "start (fifo, record, poststart)",
	Woken:      "init wakes from the fifo",
	Execve:     "exec: caps, user, seccomp",
	Exited:     "wait: program runs, exits",
	Deleted:    "delete (cgroup, state)",
	Reaped:     "nsrun exit",
}

// Label is the phase that ends at point, or the point's own name.
func Label(point string) string {
	if l, ok := labels[point]; ok {
		return l
	}
	return point
}

// Now is CLOCK_MONOTONIC in nanoseconds, the clock of every point.
func Now() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// Event is one point passed by one process.
type Event struct {
	Point string `json:"point"`
	Pid   int    `json:"pid"`
	// NS is CLOCK_MONOTONIC in nanoseconds.
	NS int64 `json:"ns"`
	// CPU is the CPU time (user + system, every thread) the process had
	// used by then, in nanoseconds; 0 when not known.
	CPU int64 `json:"cpu_ns,omitempty"`
}

// Recorder buffers one process's events and appends them to the trace file
// on Flush. A nil Recorder records nothing.
type Recorder struct {
	f      *os.File
	pid    int
	events []Event
}

// Open appends to the trace file at path (created 0600 if missing).
func Open(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open trace file: %w", err)
	}
	return &Recorder{f: f, pid: os.Getpid()}, nil
}

// FromFile records into an open trace file (the init's inherited
// descriptor); pid is the process's pid as the host sees it.
func FromFile(f *os.File, pid int) *Recorder {
	return &Recorder{f: f, pid: pid}
}

// File is the trace file, to hand on to a child; nil when not recording.
func (r *Recorder) File() *os.File {
	if r == nil {
		return nil
	}
	return r.f
}

// Mark records that this process passed point now.
func (r *Recorder) Mark(point string) {
	if r == nil {
		return
	}
	r.events = append(r.events, Event{Point: point, Pid: r.pid, NS: Now(), CPU: cpu()})
}

// cpu is the calling process's CPU time so far.
func cpu() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// MarkAt records a point at a time taken earlier (the process's start,
// before it knew whether to record), with the CPU time used by now.
func (r *Recorder) MarkAt(point string, ns int64) {
	if r == nil {
		return
	}
	r.events = append(r.events, Event{Point: point, Pid: r.pid, NS: ns, CPU: cpu()})
}

// Flush appends the buffered events in one write. Tracing is a diagnostic:
// a failed write is dropped, never a container's failure.
func (r *Recorder) Flush() {
	if r == nil || len(r.events) == 0 {
		return
	}
	var b []byte
	for _, e := range r.events {
		line, _ := json.Marshal(e)
		b = append(append(b, line...), '\n')
	}
	r.events = r.events[:0]
	_, _ = r.f.Write(b)
}

// Close flushes and closes the file.
func (r *Recorder) Close() {
	if r == nil {
		return
	}
	r.Flush()
	r.f.Close()
}

// Read parses a trace file's events, in time order.
func Read(rd io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Point == "" {
			return nil, fmt.Errorf("trace line %d %q: not an event", n, sc.Text())
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Event) int {
		switch {
		case a.NS < b.NS:
			return -1
		case a.NS > b.NS:
			return 1
		}
		return 0
	})
	return out, nil
}

// Phase is the time from the previous event to Point.
type Phase struct {
	Point string
	NS    int64
	// CPU is what the process that passed Point used since its own
	// previous point (or since it started); -1 when not known.
	CPU int64
}

// Phases turns time-ordered events into the phases between them. Where two
// processes work at once (the init's Go start while nsrun writes its
// cgroups on v1) the wall time is split between them in the order their
// points fall, so the phases always add up to the total.
func Phases(events []Event) []Phase {
	var out []Phase
	last := map[int]int64{}
	for i := 1; i < len(events); i++ {
		e := events[i]
		c := int64(-1)
		if e.CPU > 0 {
			c = e.CPU - last[e.Pid] // from 0: the process's start
			last[e.Pid] = e.CPU
		}
		out = append(out, Phase{Point: e.Point, NS: e.NS - events[i-1].NS, CPU: c})
	}
	return out
}
