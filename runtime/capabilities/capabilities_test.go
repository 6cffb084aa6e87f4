package capabilities

import (
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	s, err := Parse(&specs.LinuxCapabilities{
		Bounding: []string{"CAP_KILL", "CAP_NET_ADMIN"}, Effective: []string{"CAP_KILL"}, Ambient: []string{"CAP_BPF"},
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(1<<unix.CAP_KILL|1<<unix.CAP_NET_ADMIN), s.Bounding)
	assert.Equal(t, uint64(1<<unix.CAP_KILL), s.Effective)
	assert.Equal(t, uint64(1)<<unix.CAP_BPF, s.Ambient, "capabilities above 31 land in the high word")
	assert.Zero(t, s.Permitted)

	_, err = Parse(&specs.LinuxCapabilities{Permitted: []string{"CAP_FLY"}})
	assert.ErrorContains(t, err, `capabilities.permitted: unknown capability "CAP_FLY"`)

	s, err = Parse(nil)
	require.NoError(t, err)
	assert.Equal(t, &Set{}, s)
}

func TestLastCap(t *testing.T) {
	assert.GreaterOrEqual(t, LastCap(), unix.CAP_AUDIT_READ)
	// The host's /proc is procfs here: the kernel's own answer matches.
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(data)), strconv.Itoa(LastCap()))
}
