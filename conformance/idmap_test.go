package conformance

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDAllocatorDisjoint(t *testing.T) {
	a := NewIDAllocator(100000)
	maps := map[string][]specs.LinuxIDMapping{}
	for _, id := range []string{"a", "b", "c"} {
		maps[id] = a.Allocate(65536)
	}
	assert.NoError(t, CheckMaps(maps))
	assert.Equal(t, uint32(100000+65536), maps["b"][0].HostID)
}

func TestCheckMapsFlags(t *testing.T) {
	m := func(host, size uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: size}}
	}
	err := CheckMaps(map[string][]specs.LinuxIDMapping{"a": m(100000, 1000), "b": m(100500, 1000)})
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrSharedRange), "overlapping configs are detected: %v", err)

	err = CheckMaps(map[string][]specs.LinuxIDMapping{"a": m(0, 1)})
	assert.True(t, errors.Is(err, ErrHostRoot), "host uid 0 mapped in is flagged: %v", err)

	assert.NoError(t, CheckMaps(map[string][]specs.LinuxIDMapping{"a": m(100000, 1000), "b": m(101000, 1000)}), "adjacent is not overlapping")
}
