package seccomp

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs the filter on the calling thread (and, with TSYNC, on the
// process's other threads). The caller must hold the thread locked
// (runtime.LockOSThread) and exec from it: a filter is per thread, and
// execve keeps only the calling thread's. Without no_new_privs the thread
// needs CAP_SYS_ADMIN in its user namespace.
func (f *Filter) Load() error {
	n := f.Len()
	if n == 0 || n > maxInsns {
		return fmt.Errorf("load seccomp filter: %d instructions (want 1 to %d)", n, maxInsns)
	}
	insns := make([]unix.SockFilter, n)
	for i, r := range f.Instructions() {
		insns[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(n), Filter: &insns[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(insns)
	if errno != 0 {
		hint := ""
		switch errno {
		case unix.EACCES:
			hint = " (without noNewPrivileges the process needs CAP_SYS_ADMIN)"
		case unix.ESRCH:
			hint = " (TSYNC: another thread has a different filter)"
		}
		return fmt.Errorf("load seccomp filter (%d instructions, flags %#x): %w%s", n, f.Flags, errno, hint)
	}
	return nil
}

// Check asks the running kernel whether it can load the filter: every
// action it returns (SECCOMP_GET_ACTION_AVAIL, Linux 4.14) and its flags.
// `create` calls it on the host, so that a filter the kernel would refuse
// fails there, not after `start`.
func (f *Filter) Check() error {
	for _, a := range f.actions {
		base := a & unix.SECCOMP_RET_ACTION_FULL
		_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&base)))
		switch errno {
		case 0:
		case unix.EOPNOTSUPP:
			return fmt.Errorf("linux.seccomp: this kernel does not support the action %s", actionName(base))
		case unix.EINVAL:
			// A kernel before 4.14 cannot be asked. It has the classic
			// actions, treats KILL_PROCESS (the bad-arch return) as the
			// kill it is, and lacks LOG.
			if base == unix.SECCOMP_RET_LOG {
				return fmt.Errorf("linux.seccomp: this kernel (before 4.14) does not support SCMP_ACT_LOG")
			}
		default:
			return fmt.Errorf("check seccomp action %s: %w", actionName(base), errno)
		}
	}
	if f.Flags != 0 {
		if err := kernelTakesFlags(f.Flags); err != nil {
			return fmt.Errorf("linux.seccomp.flags: %w", err)
		}
	}
	return nil
}

// kernelTakesFlags asks the kernel about SECCOMP_FILTER_FLAG_ bits: with a
// NULL program it checks the flags first and then fails to read the
// program, so EFAULT means it knows them.
func kernelTakesFlags(bits uint) error {
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(bits), 0)
	if errno != unix.EFAULT {
		return fmt.Errorf("this kernel refuses seccomp flags %#x: %v", bits, errno)
	}
	return nil
}

func actionName(a uint32) string {
	switch a {
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "SCMP_ACT_KILL_PROCESS"
	case unix.SECCOMP_RET_KILL_THREAD:
		return "SCMP_ACT_KILL_THREAD"
	case unix.SECCOMP_RET_TRAP:
		return "SCMP_ACT_TRAP"
	case unix.SECCOMP_RET_ERRNO:
		return "SCMP_ACT_ERRNO"
	case unix.SECCOMP_RET_TRACE:
		return "SCMP_ACT_TRACE"
	case unix.SECCOMP_RET_LOG:
		return "SCMP_ACT_LOG"
	case unix.SECCOMP_RET_ALLOW:
		return "SCMP_ACT_ALLOW"
	}
	return fmt.Sprintf("%#x", a)
}
