package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/conformance/expected"
	"github.com/nsbench/nsbench/conformance/matrix"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/kfeatures"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/testutil"
)

// env is built once: the probe binary and the runtime under test. envErr
// says why there is none (every test then skips with it). results is the
// run TestInvariants fills in and TestMain writes out as JSON, and known
// the runtime version's expected outcomes.
var (
	suiteEnv *Env
	envErr   error
	results  *matrix.Run
	known    *expected.File
)

// EnvResults names the file the suite writes its results to, as JSON
// (make conformance: results/conformance-<runtime>.json; a VM guest: the
// share). Unset, only go test's output tells.
const EnvResults = "NSBENCH_CONFORMANCE_OUT"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nsbench-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Rootless runtimes running as another user must reach the bundles.
	_ = os.Chmod(dir, 0o755)
	ctx := context.Background()
	suiteEnv, envErr = setup(ctx, dir)
	if suiteEnv != nil {
		v, _ := suiteEnv.Runtime.Version(ctx)
		f, _ := kfeatures.Detect()
		kernel := ""
		if f != nil {
			kernel = f.Release
		}
		results = &matrix.Run{Runtime: suiteEnv.Runtime.Name, Version: v, Kernel: kernel, Euid: os.Geteuid()}
		if known, err = expected.For(results.Runtime, v); err != nil {
			suiteEnv, envErr = nil, err
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	if out := os.Getenv(EnvResults); out != "" && results != nil {
		if err := results.Write(out); err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// setup resolves the suite's binaries (NSBENCH_PROBE, NSBENCH_NSNET and,
// for nsrun, NSBENCH_NSRUN name prebuilt ones, for runs without a Go
// toolchain: unprivileged, or in a VM guest; otherwise they are built) and
// the runtime under test (NSBENCH_RUNTIME).
func setup(ctx context.Context, dir string) (*Env, error) {
	bin := filepath.Join(dir, "bin")
	probe, err := gobuild.Resolve(ctx, "nsprobe", "", os.Getenv, bin, "")
	if err != nil {
		return nil, err
	}
	rt := os.Getenv(oci.EnvRuntime)
	if rt == "" || rt == "nsrun" {
		if rt, err = gobuild.Resolve(ctx, "nsrun", "", os.Getenv, bin, ""); err != nil {
			return nil, fmt.Errorf("nsrun for %s: %w", oci.EnvRuntime, err)
		}
	}
	r, err := oci.New(rt, filepath.Join(dir, "state"))
	if err != nil {
		return nil, err
	}
	e := &Env{Runtime: r, Probe: probe, Dir: dir}
	// Unprivileged, nsnet cannot run at all, so it is not built.
	if os.Geteuid() == 0 {
		if e.NSNet, err = gobuild.Resolve(ctx, "nsnet", "", os.Getenv, bin, ""); err != nil {
			e.NSNet, e.NoNSNet = "", fmt.Sprintf("nsnet hook: %v (or set NSBENCH_NSNET)", err)
		}
	}
	switch {
	case r.Name != "nsrun":
		e.NoNaive = "the naive variant is nsrun's: run the suite against nsrun"
	case os.Geteuid() != 0:
		e.NoNaive = "the naive runtime's attacks are root's"
	default:
		if e.Naive, err = gobuild.Resolve(ctx, "nsrun-naive", "", os.Getenv, bin, ""); err != nil {
			e.Naive, e.NoNaive = "", fmt.Sprintf("naive nsrun: %v (or set NSBENCH_NSRUN_NAIVE)", err)
		}
	}
	return e, nil
}

// gate skips when no container can be made here, naming why; a kernel
// policy that forbids the rootless containers is reported as such.
func gate(t *testing.T) *Env {
	t.Helper()
	if envErr != nil {
		t.Skipf("no runtime under test: %v", envErr)
	}
	if os.Geteuid() != 0 {
		f, err := kfeatures.Detect()
		require.NoError(t, err)
		if err := f.UserNamespaces(); err != nil {
			if errors.Is(err, kfeatures.ErrPolicy) {
				t.Skipf("policy: %v", err)
			}
			t.Skipf("%v", err)
		}
	}
	return suiteEnv
}

// report records an invariant's outcome and judges it against the
// runtime version's expected outcomes: a failure conformance/expected
// lists is logged as the known finding it is, anything that differs from
// the file (and any failure of nsrun) fails the test.
func report(t *testing.T, name string, r Result) {
	t.Helper()
	mode := expected.Mode(results.Euid)
	finding, diff := known.Judge(results.Runtime, results.Version, name, string(r.Outcome), mode)
	res := matrix.Result{Invariant: name, Outcome: string(r.Outcome), Detail: r.Detail}
	if finding != nil {
		res.Known = finding.Advisory
	}
	results.Results = append(results.Results, res)
	switch {
	case diff != "":
		t.Errorf("%s\n%s", diff, r.Detail)
	case finding != nil:
		t.Logf("known finding of %s %s (%s): %s", results.Runtime, expected.Version(results.Version), finding.Advisory, r.Detail)
	case r.Outcome == Pass:
		t.Log(r.Detail)
	case r.Outcome == Policy:
		t.Skip("policy: " + r.Detail)
	case r.Outcome == Skip:
		t.Skip(r.Detail)
	}
}

// TestInvariants runs every invariant against the runtime under test.
func TestInvariants(t *testing.T) {
	e := gate(t)
	for _, inv := range Invariants() {
		t.Run(inv.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			report(t, inv.Name, inv.Check(ctx, e))
		})
	}
}

// TestBrokenSettingsAreCaught proves the suite can fail: each deliberately
// broken setting makes exactly the invariants it breaks fail, and no other.
func TestBrokenSettingsAreCaught(t *testing.T) {
	e := gate(t)
	testutil.NeedRoot(t, "the broken settings are root configurations (a rootless bundle needs its user namespace)")
	for _, tc := range []struct {
		name string
		brk  func(*specs.Spec)
		exec []string // flags added to exec: a broken exec
		want []string
	}{
		{"no pid namespace", func(s *specs.Spec) { dropNS(s, specs.PIDNamespace) }, nil, []string{"pid-host-view", "pid-lifecycle", "pid-ns", "pid-sibling", "pivot-root"}}, // orphans go to the host; /proc/1/root is the host's root
		{"no network namespace", func(s *specs.Spec) { dropNS(s, specs.NetworkNamespace) }, nil, []string{"net-hook", "net-ns"}},                                            // nsnet refuses the host's namespace
		{"extra capability", func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_SYS_PTRACE")
			c.Effective = append(c.Effective, "CAP_SYS_PTRACE")
			c.Permitted = append(c.Permitted, "CAP_SYS_PTRACE")
		}, nil, []string{"capabilities"}},
		{"no masked paths", func(s *specs.Spec) { s.Linux.MaskedPaths = nil }, nil, []string{"devnull-mask", "masked-paths"}},    // nothing is the null device
		{"root propagation shared", func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshared" }, nil, []string{"propagation"}}, // the container's mounts reach the host
		{"every device allowed", func(s *specs.Spec) {
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		}, nil, []string{"devices"}},
		{"privileges may grow", func(s *specs.Spec) { s.Process.NoNewPrivileges = false }, nil, []string{"no-new-privs"}},
		{"inheritable capabilities", func(s *specs.Spec) {
			s.Process.Capabilities.Inheritable = append([]string(nil), s.Process.Capabilities.Bounding...)
		}, nil, []string{"inheritable-caps"}},
		{"cgroupfs bound read-write", func(s *specs.Spec) {
			s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/sys/fs/cgroup" })
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "bind", Source: "/sys/fs/cgroup", Options: []string{"rbind", "nosuid", "noexec", "nodev"}})
		}, nil, []string{"cgroupfs-readonly"}},
		{"exec gains a capability", nil, []string{"--cap", "CAP_SYS_PTRACE"}, []string{"exec"}},
		{"exec leaks a descriptor", nil, []string{"--preserve-fds", "1"}, []string{"exec"}},
		{"no seccomp filter", func(s *specs.Spec) { s.Linux.Seccomp = nil }, nil, []string{"seccomp"}}, // a runtime that drops the profile
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An invariant that cannot be tested here passes with its
			// reason; a broken setting cannot make it fail then.
			want := slices.DeleteFunc(slices.Clone(tc.want), func(inv string) bool {
				if why := untestable(e, inv); why != "" {
					t.Logf("%s is not expected to fail: %s", inv, why)
					return true
				}
				return false
			})
			broken := *e
			broken.Break = tc.brk
			broken.ExecFlags = tc.exec
			var failed, refused []string
			mode := expected.Mode(os.Geteuid())
			for _, inv := range Invariants() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				r := inv.Check(ctx, &broken)
				cancel()
				switch {
				case r.Outcome == Fail && known.Known(inv.Name, mode) != nil:
					// The runtime's own known finding, broken setting or
					// not: it says nothing about the setting.
					t.Logf("%s fails, a known finding of %s: %s", inv.Name, e.Runtime.Name, r.Detail)
				case r.Outcome == Fail:
					failed = append(failed, inv.Name)
					t.Logf("%s fails as it should: %s", inv.Name, r.Detail)
				case r.Refused() && slices.Contains(want, inv.Name):
					// The runtime refuses the hostile bundle itself (runc
					// 1.1.15 a /dev/null that is no device), so the broken
					// setting never comes into play.
					refused = append(refused, inv.Name)
					t.Logf("%s passes: the runtime refused the bundle whatever the setting: %s", inv.Name, r.Detail)
				}
			}
			want = slices.DeleteFunc(want, func(inv string) bool { return known.Known(inv, mode) != nil || slices.Contains(refused, inv) })
			if len(want) == 0 {
				want = nil // failed is nil when nothing failed
			}
			sort.Strings(failed)
			assert.Equal(t, want, failed)
		})
	}
}

// TestNaiveRuntimeIsCaught proves the hostile invariants can fail: an nsrun
// built without its defenses (-tags nsrun_naive: plain path joins, no
// checks of /proc and /dev/null, hooks before the credentials, no sealed
// executable, no refusals) fails every one that its absence breaks here.
// The real nsrun, built from the same tree, fails none (TestInvariants).
// inheritable-caps and cgroupfs-readonly follow the config, not a
// defense: TestBrokenSettingsAreCaught breaks them.
func TestNaiveRuntimeIsCaught(t *testing.T) {
	e := gate(t)
	if e.Naive == "" {
		t.Skip(e.NoNaive)
	}
	rt, err := oci.New(e.Naive, filepath.Join(e.Dir, "state-naive"))
	require.NoError(t, err)
	naive := *e
	naive.Runtime = rt
	want := []string{"confinement-dropped", "cwd-escape", "dev-symlink", "devnull-mask", "hook-privileges", "mount-dest-symlink", "proc-redirect", "root-path-symlink", "runtime-exe"}
	var failed []string
	for _, inv := range Hostile() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		r := inv.Check(ctx, &naive)
		cancel()
		if r.Outcome == Fail {
			failed = append(failed, inv.Name)
			t.Logf("%s fails as it should: %s", inv.Name, r.Detail)
		} else {
			t.Logf("%s: %s: %s", inv.Name, r.Outcome, r.Detail)
		}
	}
	sort.Strings(failed)
	assert.Equal(t, want, failed)
}

// untestable says why an invariant's check cannot catch a breakage on this
// host, or "" when it can.
func untestable(e *Env, inv string) string {
	switch inv {
	case "net-hook":
		if e.NSNet == "" {
			return "no nsnet hook: " + e.NoNSNet
		}
	case "devices":
		if _, err := freeCharMajor(); err != nil {
			return err.Error()
		}
	}
	return ""
}

func dropNS(s *specs.Spec, t specs.LinuxNamespaceType) {
	var keep []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != t {
			keep = append(keep, n)
		}
	}
	s.Linux.Namespaces = keep
}
