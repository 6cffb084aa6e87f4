package seccomp

import "github.com/nsbench/nsbench/runtime/seccomp/internal/int80"

// call32 makes an i386 call (int $0x80); ok is false where a build cannot.
func call32(nr uint32, a [6]uint64) (ret int32, ok bool) {
	return int80.Syscall(nr, uint32(a[0]), uint32(a[1]), uint32(a[2]), uint32(a[3]), uint32(a[4]), uint32(a[5])), true
}
