package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/internal/engineprofile"
	"github.com/nsbench/nsbench/internal/oci"
)

// execView is what the host sees of a process: the namespaces, cgroups,
// capability sets, no_new_privs and seccomp mode exec must carry over from
// the container's init.
type execView struct {
	ns     map[string]string
	cgroup string
	caps   map[string]string
}

var execNSTypes = []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"}

func viewOf(pid int) (*execView, error) {
	v := &execView{ns: map[string]string{}, caps: map[string]string{}}
	for _, n := range execNSTypes {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, n))
		if err != nil {
			return nil, err
		}
		v.ns[n] = l
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	v.cgroup = string(cg)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		// Seccomp is the filter mode (2: filtered): an exec'd process must
		// not run without the container's filter.
		if k, val, ok := strings.Cut(line, ":"); ok && (strings.HasPrefix(k, "Cap") || k == "NoNewPrivs" || k == "Seccomp") {
			v.caps[k] = strings.TrimSpace(val)
		}
	}
	return v, nil
}

// checkExec execs a process into a running container (detached, as
// containerd's shim does) and compares it, from the host, with the
// container's init: the same namespaces of every type, the same cgroups,
// the same capability sets, no_new_privs and seccomp mode (the container
// runs under docker's default profile), and only stdio open although
// the runtime itself was handed one more descriptor. Env.ExecFlags, the
// self-test's broken exec, are added to the exec command.
func checkExec(ctx context.Context, e *Env) Result {
	// Under docker's default profile, so that the filter is compared too.
	var perr error
	b, err := e.newBundleWith(func(s *specs.Spec) { s.Linux.Seccomp, perr = engineprofile.Docker(s) }, "sleep", "60")
	if perr != nil {
		return fail("docker's seccomp profile: %v", perr)
	}
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	id := newID("exec")
	initPid, remove, err := e.launch(ctx, id, b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove()
	// start returns before the init has executed the program (and dropped
	// what the runtime holds); compare with the program.
	if err := waitExecuted(ctx, initPid); err != nil {
		return fail("%v", err)
	}
	want, err := viewOf(initPid)
	if err != nil {
		return fail("read the init's view: %v", err)
	}
	extra, err := os.Open(os.DevNull)
	if err != nil {
		return fail("%v", err)
	}
	defer extra.Close()
	pidFile := filepath.Join(b.Dir, "exec.pid")
	flags := append([]string{"--detach", "--pid-file", pidFile}, e.ExecFlags...)
	if err := e.Runtime.Exec(ctx, id, flags, oci.IO{Extra: []*os.File{extra}}, "sleep", "30"); err != nil {
		return fail("exec: %v", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return fail("exec --pid-file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fail("exec --pid-file holds %q", data)
	}
	if err := waitExecuted(ctx, pid); err != nil {
		return fail("%v", err)
	}
	got, err := viewOf(pid)
	if err != nil {
		return fail("read the exec'd process's view: %v", err)
	}
	var problems []string
	for _, n := range execNSTypes {
		if got.ns[n] != want.ns[n] {
			problems = append(problems, fmt.Sprintf("%s namespace %s, the container's is %s", n, got.ns[n], want.ns[n]))
		}
	}
	if got.cgroup != want.cgroup {
		problems = append(problems, fmt.Sprintf("cgroups %q, the container's are %q", got.cgroup, want.cgroup))
	}
	for k, v := range want.caps {
		if got.caps[k] != v {
			problems = append(problems, fmt.Sprintf("%s %s, the container's %s", k, got.caps[k], v))
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return fail("list the exec'd process's descriptors: %v", err)
	}
	var open []string
	for _, fd := range fds {
		open = append(open, fd.Name())
	}
	if !slices.Equal(open, []string{"0", "1", "2"}) {
		problems = append(problems, fmt.Sprintf("open descriptors %v (want 0 1 2)", open))
	}
	if len(problems) > 0 {
		return fail("the exec'd process differs from the container: %s", strings.Join(problems, "; "))
	}
	return pass("in all %d namespaces and the cgroups of the init, same capabilities, no_new_privs and seccomp mode, only 0 1 2", len(execNSTypes))
}

// waitExecuted waits until pid runs "sleep" (no longer the runtime's init).
func waitExecuted(ctx context.Context, pid int) error {
	for {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			return fmt.Errorf("pid %d: %w", pid, err)
		}
		if strings.HasPrefix(string(cmdline), "sleep\x00") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %d never executed sleep (cmdline %q): %w", pid, cmdline, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}
