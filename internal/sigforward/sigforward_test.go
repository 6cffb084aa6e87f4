package sigforward

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// envHelper makes the test binary, run with an nsrun-like command line,
// report what the constructor did instead of running tests: the
// constructor acts on the command line before TestMain runs.
const envHelper = "SIGFORWARD_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) != "" {
		if err := helper(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// report is what a helper prints.
type report struct {
	Blocked bool   `json:"blocked"`
	SigBlk  string `json:"sigBlk"` // of the main thread, as /proc shows it
	Got     []int  `json:"got"`
}

// helper reports the constructor's verdict and the main thread's mask,
// and with "run", sends itself SIGUSR1 and signal 37 and reports which
// arrived through Catch.
func helper() error {
	var r report
	r.Blocked, _ = constructorBlocked()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:"); ok {
			r.SigBlk = strings.TrimSpace(v)
		}
	}
	if Subcommand(os.Args[1:]) == "run" {
		sigs, ready := Catch()
		if err := ready(); err != nil {
			return err
		}
		for _, sig := range []unix.Signal{unix.SIGUSR1, 37} {
			if err := unix.Kill(os.Getpid(), sig); err != nil {
				return err
			}
			select {
			case s := <-sigs:
				r.Got = append(r.Got, int(s.(unix.Signal)))
			case <-time.After(10 * time.Second):
				return fmt.Errorf("signal %d did not arrive", sig)
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

func runHelper(t *testing.T, args ...string) report {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envHelper+"=1")
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, stderr)
	var r report
	require.NoError(t, json.Unmarshal(out, &r), string(out))
	return r
}

func needConstructor(t *testing.T) {
	if !Linked {
		t.Skip("built without cgo: no constructor, nothing is blocked")
	}
	// The helpers inherit this process's mask; the expectations assume
	// the usual empty one.
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	if !strings.Contains(string(status), "SigBlk:\t0000000000000000\n") {
		t.Skip("the tests run with signals blocked (inherited from the caller): the helpers' masks would differ")
	}
}

// TestConstructor: for run and exec the constructor blocks signals, and
// they arrive through Catch's signalfd; for init it empties the mask
// nsrun's run left blocked; for other commands it does nothing.
func TestConstructor(t *testing.T) {
	needConstructor(t)
	t.Run("run", func(t *testing.T) {
		r := runHelper(t, "--root", "/x", "run", "--bundle", "b", "id")
		assert.True(t, r.Blocked)
		mask, err := strconv.ParseUint(r.SigBlk, 16, 64)
		require.NoError(t, err)
		assert.NotZero(t, mask&(1<<(unix.SIGUSR1-1)), "SIGUSR1 blocked, for the signalfd")
		assert.Zero(t, mask&(1<<(unix.SIGTERM-1)), "SIGTERM is unblocked by Go, caught with os/signal")
		assert.Equal(t, []int{int(unix.SIGUSR1), 37}, r.Got)
	})
	t.Run("other commands", func(t *testing.T) {
		r := runHelper(t, "create", "--bundle", "b", "run")
		assert.False(t, r.Blocked)
		assert.Equal(t, "0000000000000000", r.SigBlk)
	})
	t.Run("init starts with an empty mask", func(t *testing.T) {
		// sigreset-exec blocks SIGPIPE (0x1000) and execs the helper as
		// an init: without the constructor's reset it would keep it.
		r := runHelper(t, "sigreset-exec", "1000", os.Args[0], "nsrun", "init", "id")
		assert.False(t, r.Blocked)
		assert.Equal(t, "0000000000000000", r.SigBlk)
	})
	t.Run("sigreset-exec sets the mask it is given", func(t *testing.T) {
		r := runHelper(t, "sigreset-exec", "1000", os.Args[0], "nsrun", "state", "id")
		assert.Equal(t, "0000000000001000", r.SigBlk)
	})
}

// TestResetExecErrors: a bad mask or a missing program ends the
// trampoline with a message and a shell's exit status.
func TestResetExecErrors(t *testing.T) {
	needConstructor(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"too few arguments", []string{"sigreset-exec", "0"}, 2, "usage: nsrun sigreset-exec MASK PATH ARGV0"},
		{"bad mask", []string{"sigreset-exec", "zz", "/bin/true", "true"}, 2, "mask zz: not a hex number"},
		{"missing program", []string{"sigreset-exec", "0", "/nonexistent/hook", "hook"}, 127, "exec /nonexistent/hook: No such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(os.Args[0], tc.args...).CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, string(out))
			assert.Equal(t, tc.code, ee.ExitCode())
			assert.Contains(t, string(out), tc.msg)
		})
	}
}

// TestSubcommand: the constructor finds the command behind nsrun's
// global options as Go's flag package does.
func TestSubcommand(t *testing.T) {
	needConstructor(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--bundle", "b", "id"}, "run"},
		{[]string{"--root", "/run/x", "exec", "id", "sh"}, "exec"},
		{[]string{"-root", "run", "create", "id"}, "create"},
		{[]string{"--root=/x", "--log", "f", "--log-format", "json", "run"}, "run"},
		{[]string{"--debug", "--systemd-cgroup", "run"}, "run"},
		{[]string{"--debug=true", "-rootless", "true", "--criu", "c", "exec"}, "exec"},
		{[]string{"--", "run"}, "run"},
		{[]string{"-", "run"}, "-"},
		{[]string{"--root"}, ""},
		{nil, ""},
	} {
		assert.Equal(t, tc.want, Subcommand(tc.args), "%q", tc.args)
	}
}

func TestForwarded(t *testing.T) {
	var got []int
	for sig := unix.Signal(0); sig <= 65; sig++ {
		if !forwarded(sig) {
			got = append(got, int(sig))
		}
	}
	// 0 and 65 are no signals; the rest are kept, not forwarded.
	assert.Equal(t, []int{0, 9, 17, 19, 23, 27, 28, 32, 33, 65}, got)
}

// TestPrefix: nothing to restore where nothing was blocked (the test
// binary's own command line is no run or exec).
func TestPrefix(t *testing.T) {
	assert.Nil(t, Prefix())
}
