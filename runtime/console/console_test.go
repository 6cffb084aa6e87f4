package console

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestSendReceiveMaster: a pty's master passed over a unix socket is the
// same terminal: what is written to the received master reads from the
// slave.
func TestSendReceiveMaster(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	master, slave, path, err := OpenPty("/dev/ptmx")
	require.NoError(t, err)
	defer master.Close()
	defer slave.Close()
	assert.True(t, strings.HasPrefix(path, "/dev/pts/"), path)

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	defer b.Close()
	require.NoError(t, SendMaster(a, master))
	got, err := RecvMaster(b)
	require.NoError(t, err)
	defer got.Close()
	assert.Equal(t, masterName, got.Name())
	n, err := unix.IoctlGetInt(int(got.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	assert.Equal(t, path, "/dev/pts/"+strconv.Itoa(n), "the same pty")

	_, err = got.Write([]byte("hi\n"))
	require.NoError(t, err)
	buf := make([]byte, 16)
	k, err := unix.Read(int(slave.Fd()), buf)
	require.NoError(t, err)
	assert.Equal(t, "hi\n", string(buf[:k]))
}

func TestRecvMasterWithoutDescriptor(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	defer b.Close()
	_, err = a.Write([]byte("no fd"))
	require.NoError(t, err)
	_, err = RecvMaster(b)
	assert.ErrorContains(t, err, "no descriptor")
}

func TestDialMissingSocket(t *testing.T) {
	_, err := Dial("/nonexistent/console.sock")
	assert.ErrorContains(t, err, "connect to --console-socket /nonexistent/console.sock")
}
