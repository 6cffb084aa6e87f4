package guest

import (
	"errors"
	"net"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/testutil"
)

func TestParse(t *testing.T) {
	assert.Equal(t, Info{InGuest: true, Variant: "hardened", Arch: "arm64"}, Parse("console=ttyS0 nsbench.variant=hardened nsbench.arch=arm64 quiet"))
	assert.Equal(t, Info{}, Parse("BOOT_IMAGE=/vmlinuz root=/dev/vda1"))
	assert.False(t, Detect().InGuest, "the tests run on a host, not in an nsbench guest")
}

// loopbackUp brings a fresh network namespace's lo (down, as a booted
// kernel leaves it) up. The namespace is this test's thread's own, and the
// thread ends with the test goroutine (it stays locked).
func TestLoopbackUp(t *testing.T) {
	testutil.NeedRoot(t, "a network namespace of the test's own")
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		up := func() bool {
			i, err := net.InterfaceByName("lo")
			return err == nil && i.Flags&net.FlagUp != 0
		}
		if up() {
			done <- errors.New("lo is up in a new namespace before the call")
			return
		}
		if err := loopbackUp(); err != nil {
			done <- err
			return
		}
		if !up() {
			done <- errors.New("lo is still down")
			return
		}
		done <- nil
	}()
	require.NoError(t, <-done)
}
