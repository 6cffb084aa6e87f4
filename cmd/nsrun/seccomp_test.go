package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/conformance/probe"
	"github.com/nsbench/nsbench/internal/engineprofile"
	"github.com/nsbench/nsbench/internal/testutil"
)

// seccompRun runs nsprobe -syscalls in a container with profile p set by
// mutate, once as a child of sh and once after sh execs it, and returns
// both reports.
func (e *env) seccompRun(t *testing.T, mutate func(*specs.Spec)) []probe.Report {
	t.Helper()
	b := e.newBundleFiles(map[string]string{"/nsprobe": nsprobeBin}, "sh", "-c", "/nsprobe -syscalls && exec /nsprobe -syscalls")
	mutate(b.Spec)
	require.NoError(t, b.Save())
	id := randomID("seccomp")
	stdout, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
	require.Zero(t, code, "nsrun run: %s", stderr)
	assert.Empty(t, e.leftovers(id))
	var reps []probe.Report
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r probe.Report
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "probe output %q", sc.Text())
		reps = append(reps, r)
	}
	require.Len(t, reps, 2, "two probes ran: %s", stdout)
	return reps
}

func errnos(r probe.Report) map[string]string {
	m := map[string]string{}
	for _, s := range r.Syscalls {
		m[s.Name] = s.Errno
	}
	return m
}

// TestSeccompProfiles: docker's and podman's default profiles inside a real
// nsrun container, with and without noNewPrivileges (docker and podman run
// without it by default): what the profile denies returns its errno, also
// in a program the container's process execs; the rest answers as without
// a filter, and /proc/self/status says a filter is on.
func TestSeccompProfiles(t *testing.T) {
	testutil.NeedRoot(t, "the test runs root containers (the profiles' rules depend on a root bundle's capabilities)")
	e := newEnv(t)
	plain := e.seccompRun(t, func(s *specs.Spec) {})
	for _, r := range plain {
		require.Equal(t, "0", r.Seccomp, "no filter without linux.seccomp")
	}
	kernel := errnos(plain[0])
	require.Equal(t, kernel, errnos(plain[1]))
	for _, tc := range []struct {
		name    string
		profile func(*specs.Spec) (*specs.LinuxSeccomp, error)
		denied  map[string]string
	}{
		{"docker", engineprofile.Docker, map[string]string{
			"unshare": "EPERM", "keyctl": "EPERM", "add_key": "EPERM", "clone3": "ENOSYS", "clone-newuser": "EPERM", "socket-vsock": "EPERM",
		}},
		{"podman", engineprofile.Podman, map[string]string{"add_key": "ENOSYS", "vmsplice": "EPERM"}},
	} {
		for _, nnp := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s noNewPrivileges=%v", tc.name, nnp), func(t *testing.T) {
				reps := e.seccompRun(t, func(s *specs.Spec) {
					p, err := tc.profile(s)
					require.NoError(t, err)
					s.Linux.Seccomp = p
					s.Process.NoNewPrivileges = nnp
				})
				for i, r := range reps {
					where := []string{"child of sh", "after exec"}[i]
					assert.Equal(t, "2", r.Seccomp, "%s: a filter is on", where)
					got := errnos(r)
					for name, kerr := range kernel {
						want, denied := tc.denied[name]
						if !denied {
							want = kerr
						} else {
							require.NotEqual(t, kerr, want, "%s: the kernel alone answers otherwise", name)
						}
						assert.Equal(t, want, got[name], "%s, %s", name, where)
					}
				}
			})
		}
	}
}

// TestSeccompOrder: with noNewPrivileges the filter comes after the init's
// last setup call (capset) and only execve runs under it; without, it must
// come while the init still has CAP_SYS_ADMIN, so a profile that denies
// capset stops the container (as in runc).
func TestSeccompOrder(t *testing.T) {
	testutil.NeedRoot(t, "the test runs root containers")
	e := newEnv(t)
	for _, nnp := range []bool{true, false} {
		b := e.newBundle("true")
		b.Spec.Process.NoNewPrivileges = nnp
		b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"capset"}, Action: specs.ActErrno}}}
		require.NoError(t, b.Save())
		id := randomID("seccomp-order")
		_, stderr, code := e.nsrun("run", "--bundle", b.Dir, id)
		if nnp {
			assert.Zero(t, code, "capset denied, no_new_privs: %s", stderr)
		} else {
			assert.NotZero(t, code)
			assert.Contains(t, stderr, "operation not permitted")
		}
		assert.Empty(t, e.leftovers(id))
	}
}

// TestSeccompExec: a process `nsrun exec` starts in a container runs under
// the container's filter (compiled by create, not again), with and without
// noNewPrivileges, as docker's and podman's exec do.
func TestSeccompExec(t *testing.T) {
	testutil.NeedRoot(t, "the test runs root containers")
	e := newEnv(t)
	for _, nnp := range []bool{true, false} {
		b := e.newBundleFiles(map[string]string{"/nsprobe": nsprobeBin}, "sleep", "60")
		p, err := engineprofile.Docker(b.Spec)
		require.NoError(t, err)
		b.Spec.Linux.Seccomp = p
		b.Spec.Process.NoNewPrivileges = nnp
		require.NoError(t, b.Save())
		id := randomID("seccomp-exec")
		_, stderr, code := e.nsrun("run", "--detach", "--bundle", b.Dir, id)
		require.Zero(t, code, stderr)
		_, err = os.Stat(filepath.Join(e.root, id, "seccomp.json"))
		require.NoError(t, err, "create keeps the compiled filter for exec")
		out, stderr, code := e.nsrun("exec", id, "/nsprobe", "-syscalls")
		require.Zero(t, code, stderr)
		var r probe.Report
		require.NoError(t, json.Unmarshal([]byte(out), &r), out)
		assert.Equal(t, "2", r.Seccomp, "noNewPrivileges=%v: the exec'd process has the filter", nnp)
		got := errnos(r)
		assert.Equal(t, "EPERM", got["unshare"])
		assert.Equal(t, "ENOSYS", got["clone3"])
		assert.Empty(t, got["getpid"])
		_, _, _ = e.nsrun("delete", "--force", id)
		assert.Empty(t, e.leftovers(id))
	}
}
