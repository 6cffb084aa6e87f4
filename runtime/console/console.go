// Package console gives a container's process a pseudo-terminal the way
// runc does, so the engines that drive runc (containerd's shim, podman's
// conmon) drive nsrun alike: the process opens the pty inside the
// container, makes the slave its controlling terminal and stdio, and sends
// the master over the caller's "console socket" with SCM_RIGHTS. For a
// caller without a socket (`nsrun run` in the foreground) Proxy copies
// between the master and the caller's own terminal.
package console

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// masterName is the name sent with the master descriptor; receivers such
// as containerd's console package use it only to name the file.
const masterName = "/dev/ptmx"

// OpenPty opens a new pseudo-terminal from ptmx (the container's
// /dev/ptmx, after pivot_root) and returns its master, its slave and the
// slave's path (/dev/pts/N in the container).
func OpenPty(ptmx string) (master, slave *os.File, slavePath string, err error) {
	mfd, err := unix.Open(ptmx, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("open %s: %w", ptmx, err)
	}
	master = os.NewFile(uintptr(mfd), masterName)
	defer func() {
		if err != nil {
			master.Close()
		}
	}()
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return nil, nil, "", fmt.Errorf("unlock pty of %s: %w", ptmx, err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		return nil, nil, "", fmt.Errorf("pty number of %s: %w", ptmx, err)
	}
	// TIOCGPTPEER opens the slave from the master itself: no path lookup a
	// container's files could redirect.
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return nil, nil, "", fmt.Errorf("open the slave of %s (TIOCGPTPEER): %w", ptmx, errno)
	}
	slavePath = "/dev/pts/" + strconv.Itoa(n)
	return master, os.NewFile(sfd, slavePath), slavePath, nil
}

// SendMaster sends master over the connected unix socket sock.
func SendMaster(sock, master *os.File) error {
	oob := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte(masterName), oob, nil, 0); err != nil {
		return fmt.Errorf("send the pty master over the console socket: %w", err)
	}
	return nil
}

// RecvMaster receives one descriptor sent with SendMaster.
func RecvMaster(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive the pty master from the console socket: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive the pty master from the console socket: no descriptor in the message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive the pty master from the console socket: want one descriptor, got %d (%v)", len(fds), err)
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// Dial connects to the console socket at path (a listening unix stream
// socket, as `--console-socket` names).
func Dial(path string) (*os.File, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("connect to --console-socket %s: %w", path, err)
	}
	defer c.Close()
	f, err := c.File() // a dup, blocking, close-on-exec
	if err != nil {
		return nil, fmt.Errorf("connect to --console-socket %s: %w", path, err)
	}
	return f, nil
}

// SetControlling makes slave the calling process's controlling terminal
// and its stdin, stdout and stderr. The caller must lead its session.
func SetControlling(slave *os.File) error {
	fd := int(slave.Fd())
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal: %w", slave.Name(), err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("dup %s onto descriptor %d: %w", slave.Name(), i, err)
		}
	}
	return nil
}
