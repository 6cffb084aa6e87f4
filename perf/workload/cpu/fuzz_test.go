package cpu

import (
	"path/filepath"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
)

// FuzzParseSysbench: any sysbench output is refused or gives measurements that encode as
// JSON. Seeds: the captured runs of testdata/sysbench.
func FuzzParseSysbench(f *testing.F) {
	testutil.FuzzToolOutput(f, filepath.Join("sysbench", "*.txt"), ParseSysbench)
}
