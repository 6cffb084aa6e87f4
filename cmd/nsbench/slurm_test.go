package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/perf/results"
)

// daemon is a process the test started and stops by its PID.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func start(t *testing.T, log string, name string, args ...string) *daemon {
	t.Helper()
	lf, err := os.Create(log)
	require.NoError(t, err)
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start(), "start %s", name)
	lf.Close()
	d := &daemon{name: filepath.Base(name), cmd: cmd, done: make(chan struct{}), log: log}
	go func() { _ = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	return d
}

// stop ends the daemon (SIGTERM, then SIGKILL after 20 s) and what it left
// in its process group (slurmstepd of a job cut short).
func (d *daemon) stop(t *testing.T) {
	pid := d.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-d.done
		t.Errorf("%s (pid %d) ignored SIGTERM", d.name, pid)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// slurmConf is a one-node cluster whose every file is under dir.
const slurmConf = `ClusterName=nsbench
SlurmctldHost={{host}}(127.0.0.1)
SlurmctldPort={{ctldport}}
SlurmdPort={{dport}}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={{dir}}/munge.sock
CredType=cred/munge
StateSaveLocation={{dir}}/ctld
SlurmdSpoolDir={{dir}}/spool
SlurmctldPidFile={{dir}}/slurmctld.pid
SlurmdPidFile={{dir}}/slurmd.pid
SlurmctldLogFile={{dir}}/slurmctld.log
SlurmdLogFile={{dir}}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/linear
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName=nsbench1 NodeHostname={{host}} NodeAddr=127.0.0.1 CPUs={{cpus}} State=UNKNOWN
PartitionName=nsbench Nodes=nsbench1 Default=YES MaxTime=INFINITE State=UP
`

// TestSlurmArray runs perf/examples/slurm-array.sh and its dependent merge
// job on a real single-node Slurm cluster (munged, slurmctld and slurmd with
// a private configuration and state, started and stopped here), then checks
// that the merged results hold exactly the cells and repetitions of the
// same matrix run unsharded, and that the report was built.
func TestSlurmArray(t *testing.T) {
	testutil.NeedRoot(t, "the Slurm daemons and munged run as root")
	for _, b := range []string{"munged", "slurmctld", "slurmd", "sbatch", "sinfo"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed (apt-get install slurm-wlm munge)", b)
		}
	}
	if testing.Short() {
		t.Skip("starts a Slurm cluster and runs a small matrix three times")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := gobuild.ModuleRoot()
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "perfstat-slurm-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755)) // the job's output files are written by slurmstepd
	nsbench, err := gobuild.Build(ctx, "nsbench", filepath.Join(dir, "bin"), "")
	require.NoError(t, err)
	cpuBin, err := gobuild.Build(ctx, "nsbench-cpu", filepath.Join(dir, "bin"), "")
	require.NoError(t, err)

	key := make([]byte, 1024)
	_, _ = rand.Read(key)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "munge.key"), key, 0o400))
	// --force: the socket's directory is under /tmp, which munged would
	// refuse as world-writable
	munge := start(t, filepath.Join(dir, "munged.out"), "munged", "--foreground", "--force",
		"--socket="+filepath.Join(dir, "munge.sock"), "--key-file="+filepath.Join(dir, "munge.key"),
		"--pid-file="+filepath.Join(dir, "munged.pid"), "--log-file="+filepath.Join(dir, "munged.log"),
		"--seed-file="+filepath.Join(dir, "munged.seed"))
	waitFor(t, ctx, "munged socket", func() bool { _, err := os.Stat(filepath.Join(dir, "munge.sock")); return err == nil }, munge)

	host, err := os.Hostname()
	require.NoError(t, err)
	host, _, _ = strings.Cut(host, ".")
	conf := strings.NewReplacer("{{host}}", host, "{{dir}}", dir, "{{ctldport}}", fmt.Sprint(freePort(t)),
		"{{dport}}", fmt.Sprint(freePort(t)), "{{cpus}}", fmt.Sprint(runtime.NumCPU())).Replace(slurmConf)
	confPath := filepath.Join(dir, "slurm.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o644))
	for _, d := range []string{"ctld", "spool"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, d), 0o755))
	}
	ctld := start(t, filepath.Join(dir, "slurmctld.out"), "slurmctld", "-D", "-i", "-f", confPath)
	slurmd := start(t, filepath.Join(dir, "slurmd.out"), "slurmd", "-D", "-f", confPath, "-N", "nsbench1")
	env := append(os.Environ(), "SLURM_CONF="+confPath)
	slurm := func(name string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env, cmd.Dir = env, root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	waitFor(t, ctx, "node nsbench1 idle", func() bool {
		out, err := slurm("sinfo", "-h", "-n", "nsbench1", "-o", "%t")
		return err == nil && out == "idle"
	}, ctld, slurmd)

	// the matrix: two points, so two shards of one point each
	cfg := filepath.Join(dir, "tiny.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"name": "tiny", "repetitions": 3, "seed": 1,
 "envs": ["native", "native:copy"],
 "cpu": {"concurrency": [1, 2], "particles": 300, "mem_mib": 1}}`), 0o644))
	out := filepath.Join(dir, "results")
	env = append(env, "NSBENCH="+nsbench, "NSBENCH_CONFIG="+cfg, "NSBENCH_OUT="+out, "NSBENCH_CPU_BIN="+cpuBin)
	jid, err := slurm("sbatch", "--parsable", "--array=1-2", "--output="+filepath.Join(dir, "slurm-%A_%a.log"),
		filepath.Join(root, "perf/examples/slurm-array.sh"))
	require.NoError(t, err)
	_, err = slurm("sbatch", "--parsable", "--wait", "--dependency=afterok:"+jid, "--output="+filepath.Join(dir, "slurm-merge.log"),
		filepath.Join(root, "perf/examples/slurm-merge.sh"))
	logs, _ := filepath.Glob(filepath.Join(dir, "slurm-*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		t.Logf("%s:\n%s", filepath.Base(l), b)
	}
	require.NoError(t, err, "the merge job")
	for i := 1; i <= 2; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("slurm-%s_%d.log", jid, i)))
		require.NoError(t, err)
		assert.Contains(t, string(b), fmt.Sprintf("[1/%d]", 6), "plain progress lines in the job's log")
	}
	assert.FileExists(t, filepath.Join(out, "report.html"))

	// the same matrix unsharded, outside Slurm
	whole := filepath.Join(dir, "whole.json")
	run := exec.CommandContext(ctx, nsbench, "run", "-quiet", "-config", cfg, "-out", whole, "-cpu-bin", cpuBin)
	run.Dir = root
	b, err := run.CombinedOutput()
	require.NoError(t, err, "%s", b)
	merged, err := results.Load(filepath.Join(out, "tiny.json"))
	require.NoError(t, err)
	unsharded, err := results.Load(whole)
	require.NoError(t, err)
	assert.Equal(t, shape(unsharded), shape(merged), "the merged shards hold the unsharded run's cells and repetitions")
	assert.Len(t, merged.Cells, 4)
}

// shape is a results file's cells and the repetitions each holds.
func shape(f *results.File) map[string][]int {
	m := map[string][]int{}
	for _, c := range f.Cells {
		var reps []int
		for _, s := range c.Samples {
			reps = append(reps, s.Rep)
		}
		slices.Sort(reps)
		m[c.Key] = reps
	}
	return m
}

// waitFor polls ok for up to a minute, failing with the daemons' logs.
func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool, ds ...*daemon) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		for _, d := range ds {
			if !d.running() {
				b, _ := os.ReadFile(d.log)
				t.Fatalf("waiting for %s: %s exited: %s", what, d.name, b)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var logs []string
			for _, d := range ds {
				b, _ := os.ReadFile(d.log)
				logs = append(logs, d.name+": "+string(b))
			}
			t.Fatalf("%s: not within a minute; %s", what, strings.Join(logs, "\n"))
		}
		time.Sleep(300 * time.Millisecond)
	}
}
