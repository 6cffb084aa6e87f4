// Package sysprobe makes system calls a seccomp profile may deny, with
// arguments that make the kernel itself refuse them with a different errno
// (or do nothing harmful): so the result tells a filter's answer from the
// kernel's. The seccomp tests, the conformance probe and the nsrun tests
// share these calls.
package sysprobe

import (
	"golang.org/x/sys/unix"
)

// Call is one probe: the syscall it makes and with which arguments.
type Call struct {
	// Name identifies the probe ("clone-newuser").
	Name string
	// Syscall is the kernel's name of the call made ("clone").
	Syscall string
	// Nr is the call's number on this build's architecture.
	Nr uintptr
	// Args as the filter sees them.
	Args [6]uint64
	// Kernel is what the kernel alone answers, for the record.
	Kernel string
}

// Calls are the probes, in a fixed order.
func Calls() []Call {
	return []Call{
		{Name: "getpid", Syscall: "getpid", Nr: unix.SYS_GETPID, Kernel: "the pid"},
		{Name: "unshare", Syscall: "unshare", Nr: unix.SYS_UNSHARE, Args: [6]uint64{0x1}, Kernel: "EINVAL (0x1 is no unshare flag)"},
		{Name: "keyctl", Syscall: "keyctl", Nr: unix.SYS_KEYCTL, Args: [6]uint64{0x7fff}, Kernel: "EOPNOTSUPP (no such keyctl command)"},
		{Name: "add_key", Syscall: "add_key", Nr: unix.SYS_ADD_KEY, Kernel: "EFAULT (NULL key type)"},
		{Name: "vmsplice", Syscall: "vmsplice", Nr: unix.SYS_VMSPLICE, Args: [6]uint64{0xffffffffffffffff}, Kernel: "EBADF (fd -1)"},
		{Name: "clone3", Syscall: "clone3", Nr: unix.SYS_CLONE3, Kernel: "EINVAL (size 0)"},
		// CLONE_THREAD without CLONE_SIGHAND is invalid: no process is made.
		{Name: "clone-newuser", Syscall: "clone", Nr: unix.SYS_CLONE, Args: [6]uint64{unix.CLONE_NEWUSER | unix.CLONE_THREAD}, Kernel: "EINVAL (CLONE_THREAD without CLONE_SIGHAND)"},
		{Name: "socket-vsock", Syscall: "socket", Nr: unix.SYS_SOCKET, Args: [6]uint64{unix.AF_VSOCK, unix.SOCK_STREAM | unix.SOCK_CLOEXEC}, Kernel: "a socket, or EAFNOSUPPORT without vsock"},
		{Name: "personality-query", Syscall: "personality", Nr: unix.SYS_PERSONALITY, Args: [6]uint64{0xffffffff}, Kernel: "the current persona"},
	}
}

// Result is a probe's outcome.
type Result struct {
	Name string `json:"name"`
	// Errno is the error's name (EPERM), empty on success.
	Errno string `json:"errno,omitempty"`
}

// Run makes the call on the calling thread.
func (c Call) Run() Result {
	a := c.Args
	r, _, errno := unix.RawSyscall6(c.Nr, uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
	if errno != 0 {
		return Result{Name: c.Name, Errno: ErrnoName(errno)}
	}
	if c.Syscall == "socket" {
		unix.Close(int(r))
	}
	return Result{Name: c.Name}
}

// RunAll runs every probe.
func RunAll() []Result {
	var out []Result
	for _, c := range Calls() {
		out = append(out, c.Run())
	}
	return out
}

// ErrnoName is an errno's symbolic name (EPERM), or its number.
func ErrnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return e.Error()
}
