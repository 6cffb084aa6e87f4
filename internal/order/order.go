// Package order decides the order in which a benchmark runs its n
// conditions (runtimes, environments, kernels) in each round.
//
// Rotating a fixed list by one place per round (A B C, B C A, C A B) puts
// each condition in every position, but B still always runs right after A:
// whatever A leaves behind (warm page cache and CPU caches for its binary,
// or under QEMU's TCG the translated code of that binary, a dirty disk, a
// busy allocator) always helps or hurts B. Measured in a TCG guest, a build
// of nsrun that always followed crun started ~2x slower than the same code
// following another nsrun. Balanced uses a Williams design instead: over one
// period of rounds every condition runs in every position, and right after
// every other condition, equally often.
package order

// Period is the number of rounds after which Balanced(n, ·) repeats and over
// which it is balanced: n for an even n, 2n for an odd one (an odd n needs
// the mirrored square as well).
func Period(n int) int {
	if n%2 == 1 && n > 1 {
		return 2 * n
	}
	return max(n, 1)
}

// Balanced returns the order of conditions 0..n-1 in round k (k >= 0).
func Balanced(n, k int) []int {
	if n <= 0 {
		return nil
	}
	// The first row of a Williams square: 0, 1, n-1, 2, n-2, ...
	base := make([]int, n)
	lo, hi := 1, n-1
	for i := 1; i < n; i++ {
		if i%2 == 1 {
			base[i], lo = lo, lo+1
		} else {
			base[i], hi = hi, hi-1
		}
	}
	k %= Period(n)
	mirrored := k >= n
	shift := k % n
	out := make([]int, n)
	for i := range out {
		j := i
		if mirrored {
			j = n - 1 - i
		}
		out[i] = (base[j] + shift) % n
	}
	return out
}

// Of returns xs in the order of round k.
func Of[T any](xs []T, k int) []T {
	out := make([]T, 0, len(xs))
	for _, i := range Balanced(len(xs), k) {
		out = append(out, xs[i])
	}
	return out
}
