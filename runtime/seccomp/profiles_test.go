package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/engineprofile"
	"github.com/nsbench/nsbench/runtime/spec"
)

// dockerProfile is what docker passes for nsrun's default spec (its
// capabilities decide some rules).
func dockerProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	p, err := engineprofile.Docker(spec.Default(false))
	require.NoError(t, err)
	return p
}

// podmanProfile is what podman passes for nsrun's default spec.
func podmanProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	p, err := engineprofile.Podman(spec.Default(false))
	require.NoError(t, err)
	return p
}
