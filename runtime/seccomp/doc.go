// Package seccomp compiles an OCI linux.seccomp profile into a classic BPF
// program for seccomp(2) and loads it, without cgo or libseccomp: nsrun is a
// static binary. Compile runs once per container on the host side (`create`);
// the container's init only loads the bytes, on the thread that then execs.
//
// The filter checks the architecture word first (x86_64 with x86 and x32,
// aarch64 with arm), then finds the syscall number by binary search over
// ranges of numbers with the same outcome, and compares arguments as
// 32-bit halves. Syscall numbers come from zsyscalls.go, generated from
// golang.org/x/sys and the kernel source (go generate; see
// internal/systables).
package seccomp
