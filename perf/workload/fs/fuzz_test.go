package fs

import (
	"path/filepath"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
)

// FuzzParse: any fio output is refused or gives measurements that encode as
// JSON. Seeds: the captured runs of testdata/fio.
func FuzzParse(f *testing.F) {
	testutil.FuzzToolOutput(f, filepath.Join("fio", "*.json"), Parse)
}
