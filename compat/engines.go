package compat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/engine"
)

// Flow is one everyday thing a user does with an engine. Run does it with
// the client's runtime and returns what it observed; an error says what
// went wrong.
type Flow struct {
	Name string
	// Same: the observation must be identical whatever the runtime (a
	// limit as the container sees it), not only correct.
	Same bool
	// Needs names a feature the runtime must advertise in its features
	// document for the flow to pass ("seccomp").
	Needs string
	Run   func(ctx context.Context, c *Client) (string, error)
}

// Client runs an engine's client with one OCI runtime selected for every
// container it makes, and removes those containers afterwards.
type Client struct {
	Engine  *engine.Engine
	Runtime string
	names   []string
}

// Cleanup removes every container the client made.
func (c *Client) Cleanup(ctx context.Context) error {
	if len(c.names) == 0 {
		return nil
	}
	_, err := c.Engine.Cmd(ctx, append([]string{"rm", "-f"}, c.names...)...)
	c.names = nil
	return err
}

func (c *Client) name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := "compat-" + prefix + "-" + hex.EncodeToString(b)
	c.names = append(c.names, n)
	return n
}

// runArgs is `run` with the runtime, the engine's own options, opts, the
// image and the command.
func (c *Client) runArgs(opts []string, cmd ...string) []string {
	a := append([]string{"run", "--runtime", c.Runtime}, c.Engine.ContainerArgs()...)
	a = append(a, opts...)
	return append(append(a, c.Engine.Image()), cmd...)
}

// client runs the engine's client and returns its standard output, its
// standard error and its exit status (an error only when it did not run).
func (c *Client) client(ctx context.Context, args ...string) (string, string, int, error) {
	cmd := c.Engine.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), stderr.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return "", "", -1, fmt.Errorf("%s %s: %w", c.Engine.Kind(), strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), 0, nil
}

// ok runs the client and wants exit 0; it returns the trimmed output.
func (c *Client) ok(ctx context.Context, args ...string) (string, error) {
	out, errOut, code, err := c.client(ctx, args...)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("%s %s: exit %d: %s", c.Engine.Kind(), strings.Join(args, " "), code, tail(errOut, 600))
	}
	return strings.TrimSpace(strings.ReplaceAll(out, "\r\n", "\n")), nil
}

// run runs a container to its end (--rm) and returns its output.
func (c *Client) run(ctx context.Context, opts []string, cmd ...string) (string, error) {
	return c.ok(ctx, c.runArgs(append([]string{"--rm", "--name", c.name("run")}, opts...), cmd...)...)
}

// start starts a detached container and returns its name.
func (c *Client) start(ctx context.Context, opts []string, cmd ...string) (string, error) {
	n := c.name("d")
	if _, err := c.ok(ctx, c.runArgs(append([]string{"-d", "--name", n}, opts...), cmd...)...); err != nil {
		return "", err
	}
	return n, nil
}

// inspect reads one field of a container ({{.State.Status}}, ...).
func (c *Client) inspect(ctx context.Context, name, format string) (string, error) {
	return c.ok(ctx, "inspect", "-f", format, name)
}

// waitState polls the container's status until it is want.
func (c *Client) waitState(ctx context.Context, name string, want ...string) (string, error) {
	var st string
	for {
		var err error
		if st, err = c.inspect(ctx, name, "{{.State.Status}}"); err != nil {
			return "", err
		}
		for _, w := range want {
			if st == w {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s stays %q, want %v: %w", name, st, want, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

func want(got, want string) error {
	if got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// cgroupCat reads files of the container's own cgroup from inside
// (/sys/fs/cgroup/<controller>/<file> on v1, /sys/fs/cgroup/<file> on v2).
func cgroupCat(files ...string) string {
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "for f in /sys/fs/cgroup/*/%s /sys/fs/cgroup/%s; do [ -e $f ] && cat $f; done; ", f, f)
	}
	return b.String() + "true"
}

// Flows are the everyday flows of issue 16, in the order a user meets them.
var Flows = []Flow{
	{Name: "run", Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, nil, "echo", "hello")
		if err != nil {
			return "", err
		}
		return out, want(out, "hello")
	}},
	{Name: "exit code", Run: func(ctx context.Context, c *Client) (string, error) {
		_, errOut, code, err := c.client(ctx, c.runArgs([]string{"--rm", "--name", c.name("exit")}, "sh", "-c", "exit 42")...)
		if err != nil {
			return "", err
		}
		if code != 42 {
			return strconv.Itoa(code), fmt.Errorf("exit %d, want 42: %s", code, tail(errOut, 300))
		}
		return "42", nil
	}},
	{Name: "error of a failing create reaches the client", Run: func(ctx context.Context, c *Client) (string, error) {
		_, errOut, code, err := c.client(ctx, c.runArgs([]string{"--rm", "--name", c.name("enoent")}, "/nonexistent-program")...)
		if err != nil {
			return "", err
		}
		switch {
		case code == 0:
			return "", errors.New("running a missing program succeeded")
		case strings.Contains(errOut, "unable to retrieve OCI runtime error"):
			return "", fmt.Errorf("the engine could not read the runtime's error: %s", tail(errOut, 400))
		case !strings.Contains(errOut, "/nonexistent-program"):
			return "", fmt.Errorf("the error does not name the program: %s", tail(errOut, 400))
		}
		return "names the program", nil
	}},
	{Name: "run -t", Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"-t"}, "tty")
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(out, "/dev/pts/") {
			return out, fmt.Errorf("tty in the container says %q, want /dev/pts/N", out)
		}
		return "/dev/pts/N", nil
	}},
	{Name: "env, workdir", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"-e", "GREETING=hi there", "-w", "/tmp"}, "sh", "-c", `echo "$GREETING" $(pwd)`)
		if err != nil {
			return "", err
		}
		return out, want(out, "hi there /tmp")
	}},
	// Needs seccomp: a runtime that drops the engine's profile warns about
	// it, and under conmon its stderr is the container's.
	{Name: "logs", Needs: "seccomp", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sh", "-c", "echo out; echo err >&2")
		if err != nil {
			return "", err
		}
		if _, err := c.waitState(ctx, n, "exited"); err != nil {
			return "", err
		}
		out, errOut, code, err := c.client(ctx, "logs", n)
		if err != nil || code != 0 {
			return "", fmt.Errorf("logs: exit %d %v: %s", code, err, errOut)
		}
		got := strings.TrimSpace(out) + "/" + strings.TrimSpace(errOut)
		return got, want(got, "out/err")
	}},
	{Name: "exec", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sleep", "600")
		if err != nil {
			return "", err
		}
		out, err := c.ok(ctx, "exec", n, "sh", "-c", "echo $((6*7))")
		if err != nil {
			return "", err
		}
		if err := want(out, "42"); err != nil {
			return out, err
		}
		_, _, code, err := c.client(ctx, "exec", n, "sh", "-c", "exit 3")
		if err != nil {
			return "", err
		}
		return "42, exit 3", want(strconv.Itoa(code), "3")
	}},
	{Name: "exec -t", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sleep", "600")
		if err != nil {
			return "", err
		}
		out, err := c.ok(ctx, "exec", "-t", n, "tty")
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(out, "/dev/pts/") {
			return out, fmt.Errorf("tty in the exec says %q, want /dev/pts/N", out)
		}
		return "/dev/pts/N", nil
	}},
	{Name: "top", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sleep", "600")
		if err != nil {
			return "", err
		}
		out, err := c.ok(ctx, "top", n)
		if err != nil {
			return "", err
		}
		if !strings.Contains(out, "sleep 600") {
			return out, fmt.Errorf("top does not list the container's sleep: %s", out)
		}
		return "lists sleep 600", nil
	}},
	{Name: "pause, unpause", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sleep", "600")
		if err != nil {
			return "", err
		}
		if _, err := c.ok(ctx, "pause", n); err != nil {
			return "", err
		}
		st, err := c.waitState(ctx, n, "paused")
		if err != nil {
			return "", err
		}
		if _, err := c.ok(ctx, "unpause", n); err != nil {
			return st, err
		}
		st2, err := c.waitState(ctx, n, "running")
		return st + ", " + st2, err
	}},
	{Name: "stop", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done")
		if err != nil {
			return "", err
		}
		if _, err := c.ok(ctx, "stop", "-t", "10", n); err != nil {
			return "", err
		}
		code, err := c.inspect(ctx, n, "{{.State.ExitCode}}")
		if err != nil {
			return "", err
		}
		return "exit " + code, want(code, "7")
	}},
	{Name: "kill", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sleep", "600")
		if err != nil {
			return "", err
		}
		if _, err := c.ok(ctx, "kill", "-s", "KILL", n); err != nil {
			return "", err
		}
		if _, err := c.waitState(ctx, n, "exited"); err != nil {
			return "", err
		}
		code, err := c.inspect(ctx, n, "{{.State.ExitCode}}")
		if err != nil {
			return "", err
		}
		return "exit " + code, want(code, "137")
	}},
	{Name: "rm -f", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, nil, "sleep", "600")
		if err != nil {
			return "", err
		}
		if _, err := c.ok(ctx, "rm", "-f", n); err != nil {
			return "", err
		}
		out, err := c.ok(ctx, "ps", "-a", "--filter", "name="+n, "--format", "{{.Names}}")
		if err != nil {
			return "", err
		}
		return "gone", want(out, "")
	}},
	{Name: "--memory", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"--memory", "64m"}, "sh", "-c", cgroupCat("memory.limit_in_bytes", "memory.max"))
		if err != nil {
			return "", err
		}
		return out, want(out, "67108864")
	}},
	{Name: "--memory-swap", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		return c.run(ctx, []string{"--memory", "64m", "--memory-swap", "96m"}, "sh", "-c", cgroupCat("memory.memsw.limit_in_bytes", "memory.swap.max"))
	}},
	{Name: "--cpus", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"--cpus", "0.5"}, "sh", "-c", cgroupCat("cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.max"))
		if err != nil {
			return "", err
		}
		out = strings.Join(strings.Fields(out), " ")
		return out, want(out, "50000 100000")
	}},
	{Name: "--pids-limit", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"--pids-limit", "33"}, "sh", "-c", cgroupCat("pids.max"))
		if err != nil {
			return "", err
		}
		return out, want(out, "33")
	}},
	{Name: "OOM kill", Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, []string{"--memory", "16m", "--memory-swap", "16m"}, "tail", "/dev/zero")
		if err != nil {
			return "", err
		}
		if _, err := c.waitState(ctx, n, "exited"); err != nil {
			return "", err
		}
		got, err := c.inspect(ctx, n, "{{.State.ExitCode}} {{.State.OOMKilled}}")
		if err != nil {
			return "", err
		}
		return got, want(got, "137 true")
	}},
	{Name: "update --memory", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		n, err := c.start(ctx, []string{"--memory", "64m", "--memory-swap", "128m"}, "sleep", "600")
		if err != nil {
			return "", err
		}
		if _, err := c.ok(ctx, "update", "--memory", "256m", "--memory-swap", "512m", n); err != nil {
			return "", err
		}
		out, err := c.ok(ctx, "exec", n, "sh", "-c", cgroupCat("memory.limit_in_bytes", "memory.max"))
		if err != nil {
			return "", err
		}
		return out, want(out, "268435456")
	}},
	{Name: "--user", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"--user", "1000:1000"}, "id")
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(out, "uid=1000") || !strings.Contains(out, " gid=1000") {
			return out, fmt.Errorf("id says %q", out)
		}
		return out, nil
	}},
	{Name: "--read-only", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"--read-only"}, "sh", "-c", "touch /x 2>&1; echo exit $?")
		if err != nil {
			return "", err
		}
		if !strings.Contains(out, "Read-only file system") {
			return out, fmt.Errorf("touch on a read-only root: %q", out)
		}
		return out, nil
	}},
	{Name: "--tmpfs", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		// podman copies the image's /etc into the tmpfs (runc's tmpcopyup),
		// docker does not: the listing differs by engine, not by runtime.
		return c.run(ctx, []string{"--tmpfs", "/etc"}, "sh", "-c", "echo x > /etc/new && cat /etc/new && ls /etc")
	}},
	{Name: "--cap-drop ALL --cap-add NET_RAW", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, []string{"--cap-drop", "ALL", "--cap-add", "NET_RAW"}, "grep", "CapEff", "/proc/self/status")
		if err != nil {
			return "", err
		}
		out = strings.Join(strings.Fields(out), " ")
		return out, want(out, "CapEff: 0000000000002000")
	}},
	{Name: "default seccomp profile", Same: true, Needs: "seccomp", Run: func(ctx context.Context, c *Client) (string, error) {
		out, err := c.run(ctx, nil, "grep", "^Seccomp:", "/proc/self/status")
		if err != nil {
			return "", err
		}
		out = strings.Join(strings.Fields(out), " ")
		return out, want(out, "Seccomp: 2")
	}},
	{Name: "cgroup mount", Same: true, Run: func(ctx context.Context, c *Client) (string, error) {
		return c.run(ctx, nil, "sh", "-c", "ls /sys/fs/cgroup; awk '$5 ~ /^\\/sys\\/fs\\/cgroup/ {print $5, $6}' /proc/self/mountinfo")
	}},
	{Name: "--network container:", Run: func(ctx context.Context, c *Client) (string, error) {
		return sharedNamespace(ctx, c, "--network", "net")
	}},
	{Name: "--pid container:", Run: func(ctx context.Context, c *Client) (string, error) {
		return sharedNamespace(ctx, c, "--pid", "pid")
	}},
}

// sharedNamespace starts a holder and a second container with flag
// container:<holder>, and checks the second is in the holder's namespace.
func sharedNamespace(ctx context.Context, c *Client, flag, ns string) (string, error) {
	holder, err := c.start(ctx, []string{"--network", "none"}, "sleep", "600")
	if err != nil {
		return "", err
	}
	pid, err := c.inspect(ctx, holder, "{{.State.Pid}}")
	if err != nil {
		return "", err
	}
	hostView, err := os.Readlink("/proc/" + pid + "/ns/" + ns)
	if err != nil {
		return "", fmt.Errorf("holder's %s namespace: %w", ns, err)
	}
	opts := []string{flag, "container:" + holder}
	if flag != "--network" {
		opts = append(opts, "--network", "none")
	}
	out, err := c.run(ctx, opts, "readlink", "/proc/self/ns/"+ns)
	if err != nil {
		return "", err
	}
	if out != hostView {
		return out, fmt.Errorf("the container is in %s, the holder in %s", out, hostView)
	}
	return "the holder's " + ns + " namespace", nil
}

// RunFlows runs every flow with runtime through e and returns one result
// each. A flow that fails does not stop the others.
func RunFlows(ctx context.Context, e *engine.Engine, runtime string, flows []Flow) []Result {
	version := e.Version(ctx)
	var out []Result
	for _, f := range flows {
		c := &Client{Engine: e, Runtime: runtime}
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		start := time.Now()
		obs, err := f.Run(fctx, c)
		cancel()
		r := Result{Kind: "engine", Engine: e.Kind(), Runtime: runtime, Version: version, Case: f.Name,
			Pass: err == nil, Output: obs, Seconds: time.Since(start).Seconds()}
		cctx, ccancel := context.WithTimeout(ctx, time.Minute)
		if cerr := c.Cleanup(cctx); cerr != nil && err == nil {
			r.Pass, err = false, fmt.Errorf("remove the flow's containers: %w", cerr)
		}
		ccancel()
		if err != nil {
			r.Error = err.Error()
		}
		out = append(out, r)
	}
	return out
}
