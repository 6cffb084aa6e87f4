//go:build amd64

// Package int80 makes i386 system calls from an x86_64 process with
// `int $0x80`: the kernel then runs them as a 32-bit (AUDIT_ARCH_I386) task
// would, which is how the seccomp tests reach a filter's x86 section. Only
// pointer-free calls make sense: pointers are cut to 32 bits. A kernel without ia32 emulation answers
// int $0x80 with SIGSEGV, so callers probe it in a child process.
package int80

// Syscall makes i386 call nr with up to six 32-bit arguments and returns
// eax: the result, or -errno.
func Syscall(nr uint32, a0, a1, a2, a3, a4, a5 uint32) int32
