package seccomp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/sysprobe"
)

// The kernel tests load filters into child processes (this test binary
// re-executed) and make calls there: a filter cannot be removed, so the
// test process itself stays clean.

const childEnv = "_NSBENCH_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// ABIs a child can call with.
const (
	callNative = "native"
	callX32    = "x32"
	callI386   = "i386"
)

type childCall struct {
	ABI  string    `json:"abi"`
	Nr   uint32    `json:"nr"`
	Args [6]uint64 `json:"args"`
}

type childJob struct {
	Filter *Filter     `json:"filter,omitempty"`
	Calls  []childCall `json:"calls"`
	// OtherThread: make the calls on another thread than the one that
	// loaded the filter (TSYNC).
	OtherThread bool `json:"otherThread,omitempty"`
	// OwnThread: load and call on a thread of their own, and report if it
	// vanished (KILL_THREAD).
	OwnThread bool `json:"ownThread,omitempty"`
}

type childResult struct {
	Ret   int64  `json:"ret"`
	Errno string `json:"errno,omitempty"`
}

type childReport struct {
	Results    []childResult `json:"results"`
	ThreadGone bool          `json:"threadGone,omitempty"`
}

func child() int {
	runtime.LockOSThread()
	var job childJob
	if err := json.NewDecoder(os.Stdin).Decode(&job); err != nil {
		fmt.Fprintln(os.Stderr, "child: read job:", err)
		return 3
	}
	var rep childReport
	run := func() error {
		if job.Filter != nil {
			if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
				return err
			}
			if err := job.Filter.Load(); err != nil {
				return err
			}
		}
		if !job.OtherThread {
			rep.Results = makeCalls(job.Calls)
			return nil
		}
		done := make(chan []childResult)
		go func() {
			runtime.LockOSThread()
			done <- makeCalls(job.Calls)
		}()
		rep.Results = <-done
		return nil
	}
	var err error
	if job.OwnThread {
		errc := make(chan error, 1)
		tid := make(chan int, 1)
		go func() {
			runtime.LockOSThread()
			tid <- unix.Gettid()
			errc <- run()
		}()
		task := fmt.Sprintf("/proc/self/task/%d", <-tid)
		deadline := time.Now().Add(20 * time.Second)
	wait:
		for {
			select {
			case err = <-errc:
				break wait
			case <-time.After(5 * time.Millisecond):
				if _, serr := os.Stat(task); serr != nil {
					rep.ThreadGone = true
					break wait
				}
				if time.Now().After(deadline) {
					err = errors.New("the calling thread neither returned nor vanished")
					break wait
				}
			}
		}
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	}
	data, _ := json.Marshal(rep)
	os.Stdout.Write(data)
	return 0
}

func makeCalls(calls []childCall) []childResult {
	out := make([]childResult, 0, len(calls))
	for _, c := range calls {
		var r childResult
		switch c.ABI {
		case callI386:
			ret, ok := call32(c.Nr, c.Args)
			if !ok {
				r.Errno = "no 32-bit calls from this build"
				break
			}
			if ret < 0 && ret > -4096 {
				r.Errno = sysprobe.ErrnoName(unix.Errno(-ret))
			} else {
				r.Ret = int64(ret)
			}
		default:
			nr := uintptr(c.Nr)
			if c.ABI == callX32 {
				nr |= x32Bit
			}
			a := c.Args
			ret, _, errno := unix.RawSyscall6(nr, uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
			if errno != 0 {
				r.Errno = sysprobe.ErrnoName(errno)
			} else {
				r.Ret = int64(ret)
			}
		}
		out = append(out, r)
	}
	return out
}

// outcome is how a child ended.
type outcome struct {
	rep    *childReport
	signal syscall.Signal // killed by it
	code   int
	stderr string
}

func runChild(t *testing.T, job childJob) outcome {
	t.Helper()
	in, err := json.Marshal(job)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	o := outcome{stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
		o.rep = &childReport{}
		require.NoError(t, json.Unmarshal(stdout.Bytes(), o.rep), "child output %q", stdout.String())
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			o.signal = ws.Signal()
		} else {
			o.code = ws.ExitStatus()
		}
	default:
		require.NoError(t, err)
	}
	return o
}

// results fails the test unless the child ran to the end.
func (o outcome) results(t *testing.T) []childResult {
	t.Helper()
	require.NotNil(t, o.rep, "child ended with signal %v, exit %d: %s", o.signal, o.code, o.stderr)
	return o.rep.Results
}

func compileT(t *testing.T, p *specs.LinuxSeccomp) *Filter {
	t.Helper()
	host, err := HostArch()
	require.NoError(t, err)
	f, err := Compile(p, host)
	require.NoError(t, err)
	require.NoError(t, f.Check(), "this kernel takes the filter")
	return f
}

func native(t *testing.T, name string, args ...uint64) childCall {
	t.Helper()
	host, err := HostArch()
	require.NoError(t, err)
	fam, err := familyOf(host)
	require.NoError(t, err)
	c := childCall{ABI: callNative, Nr: nr(t, name, fam.native)}
	copy(c.Args[:], args)
	return c
}

func fam(t *testing.T, a specs.Arch) family {
	t.Helper()
	f, err := familyOf(a)
	require.NoError(t, err)
	return f
}
