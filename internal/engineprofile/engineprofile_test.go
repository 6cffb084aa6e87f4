package engineprofile

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestByEngine(t *testing.T) {
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}}}
	for _, engine := range []string{"docker", "podman"} {
		get, err := ByEngine(engine)
		require.NoError(t, err, engine)
		p, err := get(s)
		require.NoError(t, err, engine)
		assert.Equal(t, specs.ActErrno, p.DefaultAction, engine)
		assert.NotEmpty(t, p.Syscalls, engine)
	}
	_, err := ByEngine("lxc")
	assert.EqualError(t, err, `no default seccomp profile for engine "lxc": want docker or podman`)
}
