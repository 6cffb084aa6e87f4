//go:build !amd64

package seccomp

// call32: a Go arm64 process cannot run arm (A32) code, so no 32-bit call.
func call32(uint32, [6]uint64) (int32, bool) { return 0, false }
