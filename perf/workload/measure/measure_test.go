package measure

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheck(t *testing.T) {
	assert.NoError(t, Check("x", map[string]float64{"a": 0, "b": 1e9}))
	for name, v := range map[string]float64{"nan": math.NaN(), "inf": math.Inf(1), "-inf": math.Inf(-1), "negative": -1} {
		assert.ErrorContains(t, Check("tool", map[string]float64{"ok": 1, "bad": v}), "parse tool output: bad is", name)
	}
}
