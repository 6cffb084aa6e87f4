package conformance

// The pid family: what the container's processes see of each other and of the host.

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nsbench/nsbench/internal/procfs"

	"github.com/nsbench/nsbench/internal/oci"
)

func checkPidNS(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if r.Pid != 1 {
		return fail("the container's first process is PID %d, not 1 (no pid namespace?)", r.Pid)
	}
	if len(r.Procs) > 3 {
		return fail("/proc inside lists %d processes: %v (the host's?)", len(r.Procs), r.Procs)
	}
	return pass("PID 1; /proc lists %v", r.Procs)
}

func checkPidHostView(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sleep", "30")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	pid, remove, err := e.launch(ctx, newID("pidv"), b, oci.IO{}, false)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	if pid <= 1 || !pidAlive(pid) {
		return fail("state pid %d is not a live host process", pid)
	}
	r, err := e.RunProbe(ctx, nil, "--host-pid", fmt.Sprint(os.Getpid()))
	if err != nil {
		return fail("%v", err)
	}
	if r.KillHost == "" {
		return fail("the container could signal host pid %d", os.Getpid())
	}
	if r.PtraceHost == "" {
		return fail("the container could ptrace host pid %d", os.Getpid())
	}
	return pass("host sees the init as pid %d; host pid %d from inside: signal %s, ptrace %s", pid, os.Getpid(), r.KillHost, r.PtraceHost)
}

// checkPidLifecycle: an orphan is reparented to the container's PID 1, and
// when PID 1 dies every other process of the container dies with it.
func checkPidLifecycle(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sh", "-c", "(sleep 300 &); exec sleep 300")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	id := newID("orphan")
	pid, remove, err := e.launch(ctx, id, b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	orphan := 0
	// By command: until the subshell exits, it is a child of PID 1 too,
	// and taking it for the orphan would pass a runtime whose orphans go
	// to the host.
	for deadline := time.Now().Add(5 * time.Second); orphan == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		orphan = childOf(pid, "sleep")
	}
	if orphan == 0 {
		return fail("no orphan was reparented to the container's PID 1 (host pid %d)", pid)
	}
	if err := e.Runtime.Kill(ctx, id, "KILL"); err != nil {
		return fail("kill: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); pidAlive(orphan) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, err := procfs.ReadStat(orphan); err == nil && st.State == 'Z' {
			break // dead, waiting for the host's init to reap it
		}
	}
	if st, err := procfs.ReadStat(orphan); err == nil && st.State != 'Z' {
		return fail("orphan %d survived the death of PID 1", orphan)
	}
	return pass("orphan %d reparented to PID 1 (host %d) and died with it", orphan, pid)
}

// childOf returns the host pid of a process named comm whose parent is
// ppid, or 0.
func childOf(ppid int, comm string) int {
	all, _ := procfs.All()
	for pid, st := range all {
		if st.PPid == ppid && st.Comm == comm {
			return pid
		}
	}
	return 0
}

// checkSibling: a container running next to another sees none of its
// processes.
func checkSibling(ctx context.Context, e *Env) Result {
	marker := fmt.Sprintf("%d", 300+os.Getpid()%600)
	b, err := e.NewBundle("sleep", marker)
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	_, remove, err := e.launch(ctx, newID("sibling"), b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	for _, c := range r.Cmdlines {
		if c == "sleep "+marker {
			return fail("the sibling container's %q is visible inside", c)
		}
	}
	return pass("the sibling's \"sleep %s\" is not among the %d processes seen", marker, len(r.Cmdlines))
}
