package net

import (
	"path/filepath"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
)

// FuzzParse: any iperf3 output is refused or gives measurements that encode as
// JSON. Seeds: the captured runs of testdata/iperf3.
func FuzzParse(f *testing.F) {
	testutil.FuzzToolOutput(f, filepath.Join("iperf3", "*.json"), Parse)
}
