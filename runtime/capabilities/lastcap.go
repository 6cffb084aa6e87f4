//go:build !nsrun_naive

package capabilities

import "golang.org/x/sys/unix"

// LastCap is the highest capability the running kernel knows, asked of the
// kernel itself: PR_CAPBSET_READ fails with EINVAL past the last one. Not
// read from /proc/sys/kernel/cap_last_cap: the init reads it after
// pivot_root, when /proc is the container's and may be a file of the
// image's (a "0" there left every capability but one in the bounding set).
// The known ones are 0..last, so a binary search asks six times.
func LastCap() int {
	lo, hi := 0, 63 // cap 0 always exists; the sets are 64 bits wide
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(mid), 0, 0, 0); err != nil {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo
}
