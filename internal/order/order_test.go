package order

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBalanced: over one period every condition runs once per round, in
// every position equally often, and right after every other condition
// equally often. A plain rotation (A B C, B C A, ...) passes the first two
// and fails the third for every n > 2.
func TestBalanced(t *testing.T) {
	for n := 1; n <= 9; n++ {
		p := Period(n)
		pos := make([][]int, n)
		for i := range pos {
			pos[i] = make([]int, n)
		}
		follows := map[[2]int]int{}
		for k := 0; k < p; k++ {
			o := Balanced(n, k)
			require.Len(t, o, n)
			seen := make([]bool, n)
			for i, c := range o {
				require.True(t, c >= 0 && c < n && !seen[c], "n=%d round %d: %v is not a permutation", n, k, o)
				seen[c] = true
				pos[c][i]++
				if i > 0 {
					follows[[2]int{o[i-1], c}]++
				}
			}
		}
		for c := range pos {
			for i := range pos[c] {
				assert.Equal(t, p/n, pos[c][i], "n=%d: condition %d in position %d", n, c, i)
			}
		}
		if n < 2 {
			continue
		}
		want := p * (n - 1) / (n * (n - 1))
		for a := 0; a < n; a++ {
			for b := 0; b < n; b++ {
				if a != b {
					assert.Equal(t, want, follows[[2]int{a, b}], "n=%d: %d right before %d", n, a, b)
				}
			}
		}
	}
}

func TestBalancedRepeatsWithItsPeriod(t *testing.T) {
	for n := 1; n <= 6; n++ {
		for k := 0; k < Period(n); k++ {
			assert.Equal(t, Balanced(n, k), Balanced(n, k+Period(n)), "n=%d k=%d", n, k)
		}
	}
	assert.Nil(t, Balanced(0, 3))
}

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		xs   []string
		k    int
		want []string
	}{
		{[]string{"a", "b"}, 0, []string{"a", "b"}},
		{[]string{"a", "b"}, 1, []string{"b", "a"}},
		{[]string{"a", "b", "c", "d"}, 0, []string{"a", "b", "d", "c"}},
		{[]string{"a", "b", "c", "d"}, 1, []string{"b", "c", "a", "d"}},
		{[]string{"a", "b", "c"}, 3, []string{"c", "b", "a"}},
		{nil, 2, []string{}},
	} {
		assert.Equal(t, tc.want, Of(tc.xs, tc.k), "%v round %d", tc.xs, tc.k)
	}
}
