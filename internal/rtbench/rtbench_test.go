package rtbench

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/testutil"
)

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	assert.Equal(t, 3*time.Millisecond, Quantile(ms(5, 1, 3, 2, 4), 0.5))
	assert.Equal(t, 1*time.Millisecond, Quantile(ms(5, 1, 3, 2, 4), 0))
	assert.Equal(t, 5*time.Millisecond, Quantile(ms(5, 1, 3, 2, 4), 1))
	assert.Zero(t, Quantile(nil, 0.5))
}

func TestPrint(t *testing.T) {
	var b bytes.Buffer
	Print(&b, []*Result{
		{Runtime: "a", Version: "a 1", Samples: []time.Duration{2 * time.Millisecond, 4 * time.Millisecond, 3 * time.Millisecond}},
		{Runtime: "b", Err: errors.New("boom")},
	})
	assert.Contains(t, b.String(), "3.0 ms")
	assert.Contains(t, b.String(), "error: boom")
}

func TestRunRunc(t *testing.T) {
	testutil.NeedRoot(t, "runc runs containers from a root-owned bundle here only as root")
	r, err := oci.New("runc", t.TempDir())
	if err != nil {
		t.Skipf("runc not installed: %v", err)
	}
	res, err := Run(context.Background(), []*oci.Runtime{r}, t.TempDir(), 2)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Len(t, res[0].Samples, 2)
	assert.Positive(t, res[0].Median())
}
