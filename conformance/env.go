package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nsbench/nsbench/internal/procfs"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/conformance/probe"
	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/mountinfo"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/runtime/spec"
)

// Outcome of one invariant on one runtime and kernel.
type Outcome string

const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	// Skip: a feature or privilege the check needs is missing here.
	Skip Outcome = "skip"
	// Policy: the kernel could isolate but its configuration forbids it
	// (user namespaces switched off, say): not a runtime bug.
	Policy Outcome = "policy"
)

// Result is an Outcome with the evidence behind it.
type Result struct {
	Outcome Outcome
	Detail  string
}

func pass(format string, a ...any) Result { return Result{Pass, fmt.Sprintf(format, a...)} }

// refusedPrefix starts the detail of a hostile check the runtime passed by
// refusing the bundle.
const refusedPrefix = "refused: "

func passRefused(err error) Result { return Result{Pass, refusedPrefix + err.Error()} }

// Refused reports whether r passed because the runtime refused the bundle:
// no setting of the bundle can make such a check fail.
func (r Result) Refused() bool {
	return r.Outcome == Pass && strings.HasPrefix(r.Detail, refusedPrefix)
}
func fail(format string, a ...any) Result { return Result{Fail, fmt.Sprintf(format, a...)} }
func skip(format string, a ...any) Result { return Result{Skip, fmt.Sprintf(format, a...)} }

// Env is what the checks need: the runtime under test, the probe binary and
// a scratch directory. Break, when set, is applied to every bundle: the
// suite's self-tests use it to play a broken runtime.
type Env struct {
	Runtime *oci.Runtime
	Probe   string
	Dir     string
	Break   func(*specs.Spec)
	// ExecFlags are added to every exec: the self-test's broken exec
	// (an extra capability, a leaked descriptor).
	ExecFlags []string
	// NSNet is the nsnet hook binary; when empty, NoNSNet says why.
	NSNet, NoNSNet string
	// Naive is an nsrun built without its defenses (-tags nsrun_naive),
	// for the self-test to show the hostile invariants can fail; when
	// empty, NoNaive says why.
	Naive, NoNaive string
}

// NewBundle makes a busybox bundle with the probe at /nsprobe running args.
func (e *Env) NewBundle(args ...string) (*bundle.Bundle, error) {
	return e.newBundleWith(nil, args...)
}

// newBundleWith is NewBundle with the config adjusted by pre before Break
// applies: what a check adds (a seccomp profile, say) a broken runtime can
// still take away.
func (e *Env) newBundleWith(pre func(*specs.Spec), args ...string) (*bundle.Bundle, error) {
	dir := filepath.Join(e.Dir, newID("bundle"))
	b, err := bundle.New(dir, bundle.Options{
		Args: args, Rootless: os.Geteuid() != 0,
		Files: map[string]string{"/nsprobe": e.Probe},
	})
	if err != nil {
		return nil, err
	}
	if pre == nil && e.Break == nil {
		return b, nil
	}
	if pre != nil {
		pre(b.Spec)
	}
	if e.Break != nil {
		e.Break(b.Spec)
	}
	if err := b.Save(); err != nil {
		return nil, err
	}
	return b, nil
}

func newID(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "conf-" + prefix + "-" + hex.EncodeToString(b)
}

// RunProbe runs the probe with args in a fresh container to completion and
// returns its report. mutate adjusts the bundle first.
func (e *Env) RunProbe(ctx context.Context, mutate func(*specs.Spec), args ...string) (*probe.Report, error) {
	b, err := e.NewBundle(append([]string{"/nsprobe"}, args...)...)
	if err != nil {
		return nil, err
	}
	// Bundles are megabytes; a VM guest's tmpfs fills up without this.
	defer os.RemoveAll(b.Dir)
	if mutate != nil {
		mutate(b.Spec)
		if err := b.Save(); err != nil {
			return nil, err
		}
	}
	return e.runBundle(ctx, newID("probe"), b)
}

// runBundle runs a probe bundle to completion as container id and returns
// the report.
func (e *Env) runBundle(ctx context.Context, id string, b *bundle.Bundle) (*probe.Report, error) {
	return e.runBundleIO(ctx, id, b, nil)
}

// runBundleIO is runBundle handing the container extra descriptors from 3
// on (--preserve-fds).
func (e *Env) runBundleIO(ctx context.Context, id string, b *bundle.Bundle, extra []*os.File) (*probe.Report, error) {
	out, err := os.Create(filepath.Join(b.Dir, "probe.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	code, err := e.Runtime.Run(ctx, id, b.Dir, oci.IO{Stdout: out, Preserve: extra})
	if code != 0 || err != nil {
		_ = e.Runtime.Delete(ctx, id, true)
		return nil, fmt.Errorf("run probe in %s: exit %d: %v", e.Runtime.Name, code, err)
	}
	return readReport(out.Name())
}

// launch creates container id from bundle b, and starts it when start is
// set. It returns the host pid of the container's init and remove, which
// force-deletes the container (safe to call after the check deleted it
// itself). On error nothing of the container is left.
func (e *Env) launch(ctx context.Context, id string, b *bundle.Bundle, io oci.IO, start bool) (pid int, remove func(), err error) {
	if err := e.Runtime.Create(ctx, id, b.Dir, io); err != nil {
		return 0, nil, fmt.Errorf("create: %w", err)
	}
	// Background: removal must happen even when ctx ran out.
	remove = func() { _ = e.Runtime.Delete(context.Background(), id, true) }
	st, err := e.Runtime.State(ctx, id)
	if err != nil {
		remove()
		return 0, nil, fmt.Errorf("state: %w", err)
	}
	if start {
		if err := e.Runtime.Start(ctx, id); err != nil {
			remove()
			return 0, nil, fmt.Errorf("start: %w", err)
		}
	}
	return st.Pid, remove, nil
}

// mountsUnder lists host mountinfo lines naming path: only those are
// attributable to a test's containers on a machine where other processes
// mount and unmount at will.
func mountsUnder(path string) []string {
	ms, err := mountinfo.Self()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, m := range ms {
		if strings.Contains(m.Mountpoint, path) || strings.Contains(m.Root, path) || strings.Contains(m.Source, path) {
			out = append(out, m.String())
		}
	}
	return out
}

func capMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		if v, ok := spec.Capability(n); ok {
			m |= 1 << uint(v)
		}
	}
	return m
}

// pidAlive: the process exists and is not a zombie. A zombie has exited;
// reaping it is its parent's business (a VM guest's minimal init, say),
// not the runtime's.
func pidAlive(pid int) bool { return procfs.Alive(pid) }

func readReport(path string) (*probe.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r probe.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode probe report %q: %w", data, err)
	}
	return &r, nil
}
