package oci

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/testutil"
)

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(notExec, []byte("x"), 0o644))
	for _, tc := range []struct{ name, arg, want string }{
		{"not on PATH", "no-such-runtime-xyz", `find OCI runtime "no-such-runtime-xyz"`},
		{"missing absolute", filepath.Join(dir, "missing"), "no such file"},
		{"directory", dir, "not an executable file"},
		{"not executable", notExec, "not an executable file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.arg, "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// runtimes returns the OCI runtimes installed here, skipping when the test
// cannot create containers at all.
func runtimes(t *testing.T) []*Runtime {
	t.Helper()
	testutil.NeedRoot(t, "creating containers with runc/crun as configured here")
	var rs []*Runtime
	for _, name := range []string{"runc", "crun"} {
		r, err := New(name, filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Logf("%s not usable: %v", name, err)
			continue
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		t.Skip("neither runc nor crun is installed (apt-get install runc crun)")
	}
	return rs
}

func TestLifecycle(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			v, err := r.Version(ctx)
			require.NoError(t, err)
			assert.Contains(t, v, r.Name)

			dir := t.TempDir()
			b, err := bundle.New(filepath.Join(dir, "bundle"), bundle.Options{Args: []string{"sh", "-c", "echo $$ > /proc/self/fd/1; exit 7"}})
			require.NoError(t, err)
			out, err := os.Create(filepath.Join(dir, "out"))
			require.NoError(t, err)
			defer out.Close()

			id := "oci-test-" + r.Name
			require.NoError(t, r.Create(ctx, id, b.Dir, IO{Stdout: out}))
			t.Cleanup(func() { _ = r.Delete(context.Background(), id, true) })
			st, err := r.State(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, specs.StateCreated, st.Status)
			assert.Positive(t, st.Pid)
			assert.Equal(t, b.Dir, st.Bundle)

			require.NoError(t, r.Start(ctx, id))
			require.NoError(t, r.Wait(ctx, id))
			data, err := os.ReadFile(out.Name())
			require.NoError(t, err)
			assert.Equal(t, "1", strings.TrimSpace(string(data)), "the container's first process is pid 1")
			require.NoError(t, r.Delete(ctx, id, false))

			_, err = r.State(ctx, id)
			var ce *CommandError
			require.True(t, errors.As(err, &ce), "state of a deleted container: %v", err)
			assert.NotZero(t, ce.ExitCode)
		})
	}
}

func TestRunExitCode(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b, err := bundle.New(filepath.Join(t.TempDir(), "bundle"), bundle.Options{Args: []string{"sh", "-c", "exit 3"}})
			require.NoError(t, err)
			code, err := r.Run(ctx, "oci-run-"+r.Name, b.Dir, IO{})
			assert.Equal(t, 3, code)
			var ce *CommandError
			assert.True(t, errors.As(err, &ce))
			_, err = r.State(ctx, "oci-run-"+r.Name)
			assert.Error(t, err, "run deletes the container when it exits")
		})
	}
}

func TestKillRunning(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b, err := bundle.New(filepath.Join(t.TempDir(), "bundle"), bundle.Options{Args: []string{"sleep", "600"}})
			require.NoError(t, err)
			id := "oci-kill-" + r.Name
			require.NoError(t, r.Create(ctx, id, b.Dir, IO{}))
			t.Cleanup(func() { _ = r.Delete(context.Background(), id, true) })
			require.NoError(t, r.Start(ctx, id))
			st, err := r.State(ctx, id)
			require.NoError(t, err)
			require.Equal(t, specs.StateRunning, st.Status)
			require.NoError(t, r.Kill(ctx, id, "KILL"))
			require.NoError(t, r.Wait(ctx, id))
			require.NoError(t, r.Delete(ctx, id, false))
		})
	}
}

// TestCrunWrapperLeavesNothing: on a hybrid host crun runs through the
// per-call wrapper, and makes a cgroup directory (with a cgroup.procs file
// it cannot remove) in whatever /sys/fs/cgroup/unified is in its
// namespace. Were the cgroup2 mount only detached, that would be the host's
// /sys/fs/cgroup tmpfs underneath it, piling up unseen; the wrapper's own
// tmpfs must take it instead.
func TestCrunWrapperLeavesNothing(t *testing.T) {
	testutil.NeedRoot(t, "crun creates cgroups only as root here")
	if !CrunNeedsCgroup2Hidden() {
		t.Skip("not a hybrid host with cgroup2 controllers: crun runs without the wrapper")
	}
	r, err := New("crun", filepath.Join(t.TempDir(), "crun"))
	if err != nil {
		t.Skipf("crun not installed: %v", err)
	}
	require.NotEmpty(t, r.Wrap)
	b, err := bundle.New(filepath.Join(t.TempDir(), "b"), bundle.Options{Args: []string{"true"}})
	require.NoError(t, err)
	id := "oci-wrap-" + strconv.Itoa(os.Getpid())
	code, err := r.Run(context.Background(), id, b.Dir, IO{})
	require.NoError(t, err)
	require.Zero(t, code)
	// Look under the host's cgroup2 mount, in a namespace of this look's own.
	under := filepath.Join(Cgroup2Mount, id)
	out, err := exec.Command("unshare", "--mount", "--propagation", "unchanged", "--", "sh", "-c",
		`mount --make-rprivate /sys/fs/cgroup && umount -l `+Cgroup2Mount+` && if [ -e "$0" ]; then echo left; fi`, under).CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Empty(t, strings.TrimSpace(string(out)), "crun left %s on the host's /sys/fs/cgroup tmpfs", under)
}
