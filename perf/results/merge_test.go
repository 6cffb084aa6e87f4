package results

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMergeKeepsEachShardsFailuresAndCalibration: what is a shard's own
// (its failures, its calibration on its machine) is kept per shard, named
// by it; an unsharded file's keys stay as they are.
func TestMergeKeepsEachShardsFailuresAndCalibration(t *testing.T) {
	shard := func(s string, size int) *File {
		return &File{Version: Version, Config: "c", Shard: s,
			Failed:      map[string]Failure{"podman": {Cell: "cpu jobs=1 env=podman", Error: "boom " + s}},
			Calibration: map[string]Calibration{"cpu": {Param: "particles", Value: size}}}
	}
	m, err := Merge(shard("1/2", 100), shard("2/2", 200))
	require.NoError(t, err)
	assert.Equal(t, map[string]Failure{
		"podman (shard 1/2)": {Cell: "cpu jobs=1 env=podman", Error: "boom 1/2"},
		"podman (shard 2/2)": {Cell: "cpu jobs=1 env=podman", Error: "boom 2/2"},
	}, m.Failed)
	assert.Equal(t, map[string]Calibration{
		"cpu (shard 1/2)": {Param: "particles", Value: 100},
		"cpu (shard 2/2)": {Param: "particles", Value: 200},
	}, m.Calibration)

	one, err := Merge(shard("", 300))
	require.NoError(t, err)
	assert.Equal(t, map[string]Calibration{"cpu": {Param: "particles", Value: 300}}, one.Calibration)
	assert.Contains(t, one.Failed, "podman")

	none, err := Merge(&File{Version: Version, Config: "c"})
	require.NoError(t, err)
	assert.Nil(t, none.Failed, "no failures: none recorded")
}
