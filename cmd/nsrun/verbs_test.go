package main

// The verbs and global options engines use beyond the OCI lifecycle: pause
// and resume, update, ps --format json, features, --log/--log-format (read
// back the way containerd's shim reads it), --systemd-cgroup.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/cgroups"
	"github.com/nsbench/nsbench/runtime/spec"
)

// cgroupFile is the host path of file in the cgroup of pid that carries
// controller.
func cgroupFile(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	l, err := cgroups.HostLayout()
	require.NoError(t, err)
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		for _, h := range l.Hierarchies {
			if l.Mode() == cgroups.ModeV2 && f[0] == "0" || strings.Contains(","+f[1]+",", ","+controller+",") && !h.V2 && strings.Contains(","+h.Name+",", ","+controller+",") {
				return filepath.Join(h.Mountpoint, f[2], file)
			}
		}
	}
	t.Fatalf("pid %d has no %s cgroup: %s", pid, controller, data)
	return ""
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

// started creates and starts a container running args; it is deleted at
// the end.
func (e *env) started(prefix string, b func(*specs.Spec), args ...string) (string, int) {
	e.t.Helper()
	bd := e.newBundle(args...)
	if b != nil {
		b(bd.Spec)
		require.NoError(e.t, bd.Save())
	}
	id := randomID(prefix)
	_, stderr, code := e.nsrun("create", "--bundle", bd.Dir, id)
	require.Zero(e.t, code, stderr)
	e.t.Cleanup(func() {
		e.nsrun("delete", "--force", id)
		assert.Empty(e.t, e.leftovers(id))
	})
	_, stderr, code = e.nsrun("start", id)
	require.Zero(e.t, code, stderr)
	return id, e.state(id).Pid
}

func TestPauseResume(t *testing.T) {
	testutil.NeedRoot(t, "cgroups (freezer, limits) on this host (v1 hierarchies are not delegated)")
	e := newEnv(t)
	ticks := filepath.Join(e.tmp, "ticks")
	require.NoError(t, os.WriteFile(ticks, nil, 0o666))
	id, pid := e.started("pause", func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/ticks", Type: "bind", Source: ticks, Options: []string{"bind"}})
	}, "sh", "-c", "while :; do echo x >> /ticks; sleep 0.01; done")
	size := func() int64 {
		st, err := os.Stat(ticks)
		require.NoError(t, err)
		return st.Size()
	}
	require.Eventually(t, func() bool { return size() > 0 }, 10*time.Second, 10*time.Millisecond)

	_, stderr, code := e.nsrun("resume", id)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is running, not paused")

	_, stderr, code = e.nsrun("pause", id)
	require.Zero(t, code, stderr)
	assert.Equal(t, "paused", string(e.state(id).Status))
	out, _, _ := e.nsrun("list")
	assert.Regexp(t, id+`\s+\d+\s+paused`, out)
	assert.Equal(t, "FROZEN", readTrim(t, cgroupFile(t, pid, "freezer", "freezer.state")))
	before := size()
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, before, size(), "a paused container runs nothing (it wrote every 10 ms)")
	_, stderr, code = e.nsrun("pause", id)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is paused, not running")
	_, stderr, code = e.nsrun("delete", id)
	assert.Equal(t, 1, code, "a paused container is not deleted without --force")
	assert.Contains(t, stderr, "paused")

	_, stderr, code = e.nsrun("resume", id)
	require.Zero(t, code, stderr)
	assert.Equal(t, specs.StateRunning, e.state(id).Status)
	assert.Eventually(t, func() bool { return size() > before }, 10*time.Second, 10*time.Millisecond, "it runs again")

	// Paused again, a forced delete still removes everything.
	_, stderr, code = e.nsrun("pause", id)
	require.Zero(t, code, stderr)
	e.forceDeleted(id)
	_, stderr, code = e.nsrun("pause", id)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "does not exist")
}

func TestUpdate(t *testing.T) {
	testutil.NeedRoot(t, "cgroups (freezer, limits) on this host (v1 hierarchies are not delegated)")
	e := newEnv(t)
	id, pid := e.started("upd", func(s *specs.Spec) {
		lim, pids := int64(64<<20), int64(50)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &lim}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
	}, "sleep", "60")
	mem := cgroupFile(t, pid, "memory", "memory.limit_in_bytes")
	pidsMax := cgroupFile(t, pid, "pids", "pids.max")
	quota := cgroupFile(t, pid, "cpu", "cpu.cfs_quota_us")
	require.Equal(t, "67108864", readTrim(t, mem))

	_, stderr, code := e.nsrun("update", "--memory", "128m", "--cpu-quota", "50000", "--cpu-period", "100000", id)
	require.Zero(t, code, stderr)
	assert.Equal(t, "134217728", readTrim(t, mem))
	assert.Equal(t, "50000", readTrim(t, quota))
	assert.Equal(t, "50", readTrim(t, pidsMax), "what is not given keeps its value")

	// containerd's shim: the resources JSON on stdin.
	cmd := exec.Command(nsrunBin, "--root", e.root, "update", "--resources", "-", id)
	cmd.Stdin = strings.NewReader(`{"pids": {"limit": 7}, "memory": {"limit": 100663296}}`)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "7", readTrim(t, pidsMax))
	assert.Equal(t, "100663296", readTrim(t, mem))
	var rec struct {
		Config *specs.Spec `json:"config"`
	}
	data, err := os.ReadFile(filepath.Join(e.root, id, "state.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rec))
	assert.Equal(t, int64(100663296), *rec.Config.Linux.Resources.Memory.Limit, "the record keeps the new limits")
	assert.Equal(t, int64(50000), *rec.Config.Linux.Resources.CPU.Quota)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--memory", "lots"}, `"lots" is not a size`},
		{[]string{"--pids-limit", "x"}, "invalid value"},
		{[]string{"--l3-cache-schema", "L3:0=f"}, "no Intel RDT"},
		{[]string{"-r", "-", "--memory", "1g"}, "-r takes all limits"},
		{[]string{"-r", "/nonexistent.json"}, "/nonexistent.json"},
	} {
		_, stderr, code := e.nsrun(append(append([]string{"update"}, tc.args...), id)...)
		assert.NotZero(t, code, "%v", tc.args)
		assert.Contains(t, stderr, tc.want, "%v", tc.args)
	}
	_, stderr, code = e.nsrun("update", "--memory", "1g", "nosuch")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "does not exist")
}

func TestPsJSON(t *testing.T) {
	e := newEnv(t)
	if os.Geteuid() != 0 {
		t.Skip("a rootless container has no cgroup here to list processes from")
	}
	id, pid := e.started("ps", nil, "sh", "-c", "sleep 60 & sleep 60")
	var pids []int
	require.Eventually(t, func() bool {
		out, _, code := e.nsrun("ps", "--format", "json", id)
		require.Zero(t, code)
		require.NoError(t, json.Unmarshal([]byte(out), &pids))
		return len(pids) == 2
	}, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, pids, pid)
	out, stderr, code := e.nsrun("ps", id, "-o", "pid,comm")
	require.Zero(t, code, stderr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Len(t, lines, 3, "header and the container's two processes: %s", out)
	assert.Contains(t, lines[0], "PID")
	_, stderr, code = e.nsrun("ps", id, "-o", "comm")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no PID column")
}

func TestFeatures(t *testing.T) {
	e := newEnv(t)
	out, stderr, code := e.nsrun("features")
	require.Zero(t, code, stderr)
	var f features.Features
	require.NoError(t, json.Unmarshal([]byte(out), &f))
	assert.Equal(t, specs.Version, f.OCIVersionMax)
	assert.Equal(t, spec.Namespaces(), f.Linux.Namespaces)
	assert.Contains(t, f.Linux.Capabilities, "CAP_SYS_ADMIN")
	assert.Contains(t, f.MountOptions, "rbind")
	require.NotNil(t, f.Linux.Cgroup.Systemd)
	assert.False(t, *f.Linux.Cgroup.Systemd, "--systemd-cgroup is refused, so it is not advertised")
	require.NotNil(t, f.Linux.Seccomp.Enabled)
	assert.True(t, *f.Linux.Seccomp.Enabled)
	assert.NotContains(t, f.Linux.Seccomp.Actions, string(specs.ActNotify), "user notification is refused")
	assert.Contains(t, f.Linux.Seccomp.Operators, string(specs.OpMaskedEqual))
	assert.Contains(t, f.Linux.Seccomp.SupportedFlags, string(specs.LinuxSeccompFlagLog), "Linux 4.14 and later")
}

// runtimeError is containerd's getLastRuntimeError: the last entry of level
// "error" in the log file, which must decode as JSON throughout.
func runtimeError(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err, "the shim opens the log file after any failure")
	defer f.Close()
	var msg string
	dec := json.NewDecoder(f)
	for {
		var entry struct {
			Level string
			Msg   string
			Time  time.Time
		}
		if err := dec.Decode(&entry); err != nil {
			require.ErrorContains(t, err, "EOF", "every line decodes")
			return msg
		}
		if entry.Level == "error" {
			msg = entry.Msg
		}
	}
}

func TestLogFile(t *testing.T) {
	e := newEnv(t)
	logJSON := filepath.Join(e.tmp, "log.json")
	_, stderr, code := e.nsrun("--log", logJSON, "--log-format", "json", "state", "nosuch")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "does not exist", "errors also reach stderr")
	assert.Contains(t, runtimeError(t, logJSON), "nosuch")

	// A successful command still leaves a (possibly empty) file to read.
	quiet := filepath.Join(e.tmp, "quiet.json")
	_, _, code = e.nsrun("--log", quiet, "--log-format", "json", "list")
	require.Zero(t, code)
	assert.Empty(t, runtimeError(t, quiet))

	// Warnings go to the log too, at level warning: a failing poststart
	// hook is one (the container goes on).
	b := e.newBundle("true")
	b.Spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/false"}}}
	require.NoError(t, b.Save())
	_, _, _ = e.nsrun("--log", logJSON, "--log-format", "json", "run", "--bundle", b.Dir, randomID("log"))
	data, err := os.ReadFile(logJSON)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"level":"warning"`)

	text := filepath.Join(e.tmp, "log.txt")
	_, _, code = e.nsrun("--log", text, "state", "nosuch")
	assert.Equal(t, 1, code)
	assert.Regexp(t, `^time="[^"]+" level=error msg=".*nosuch.*"\n$`, readTrim(t, text)+"\n")

	_, stderr, code = e.nsrun("--log", filepath.Join(e.tmp, "no", "dir", "log"), "list")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no such file or directory")
	_, stderr, code = e.nsrun("--log-format", "xml", "list")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `--log-format "xml": use text or json`)
}

func TestSystemdCgroupRefused(t *testing.T) {
	e := newEnv(t)
	b := e.newBundle("true")
	id := randomID("sd")
	_, stderr, code := e.nsrun("--systemd-cgroup", "create", "--bundle", b.Dir, id)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "cgroupfs")
	assert.Empty(t, e.leftovers(id))
	_, _, code = e.nsrun("--systemd-cgroup", "list")
	assert.Zero(t, code, "commands that make no cgroup work with it")
	_, _, code = e.nsrun("--rootless", "maybe", "list")
	assert.Equal(t, 2, code)
}
