package runtime

import (
	"os"
	"os/exec"
	goruntime "runtime"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// onMainThread is what forkExecJoined did when TestMain called it on the
// main thread: the one case that cannot be had from a test function.
var onMainThread struct {
	joinTID int
	ws      syscall.WaitStatus
	err     error
}

// Locked in init, TestMain runs on the main thread.
func init() { goruntime.LockOSThread() }

func TestMain(m *testing.M) {
	done := make(chan forkResult, 1)
	tr, err := exec.LookPath("true")
	if err != nil {
		onMainThread.err = err
	} else {
		forkExecJoined(func() (func() error, error) {
			onMainThread.joinTID = unix.Gettid()
			return func() error { return nil }, nil
		}, tr, []string{"true"}, &syscall.ProcAttr{}, done)
		r := <-done
		onMainThread.err = r.err
		if r.err == nil {
			_, onMainThread.err = syscall.Wait4(r.pid, &onMainThread.ws, 0, nil)
		}
	}
	os.Exit(m.Run())
}

// TestForkExecJoinsOffTheMainThread: the thread that joins a container's
// cgroups must end afterwards; Go never ends the main thread but parks it,
// and parked in the container's cgroups it would be frozen with them at
// `delete` (nsrun run hung so). Called on the main thread, forkExecJoined
// does the work on another.
func TestForkExecJoinsOffTheMainThread(t *testing.T) {
	require.NoError(t, onMainThread.err)
	ws := onMainThread.ws
	assert.True(t, ws.Exited() && ws.ExitStatus() == 0, "the child ran: %v", ws)
	assert.NotZero(t, onMainThread.joinTID)
	assert.NotEqual(t, unix.Getpid(), onMainThread.joinTID, "join ran on the main thread")
}

// TestForkExecJoinError: a failed join starts nothing, still goes back,
// and says so.
func TestForkExecJoinError(t *testing.T) {
	left := false
	_, err := forkExec(func() (func() error, error) {
		return func() error { left = true; return nil }, os.ErrPermission
	}, "/nonexistent", []string{"x"}, &syscall.ProcAttr{})
	assert.ErrorIs(t, err, os.ErrPermission)
	assert.True(t, left, "leave ran after a failed join")
}

// TestForkExecLeaveError: a child whose cloning thread cannot go back is
// killed and reaped, and the error says why.
func TestForkExecLeaveError(t *testing.T) {
	sl, err := exec.LookPath("sleep")
	require.NoError(t, err)
	pid, err := forkExec(func() (func() error, error) {
		return func() error { return os.ErrPermission }, nil
	}, sl, []string{"sleep", "60"}, &syscall.ProcAttr{})
	assert.ErrorIs(t, err, os.ErrPermission)
	assert.Zero(t, pid)
}
