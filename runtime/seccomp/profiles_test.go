package seccomp

import (
	"os"
	"testing"

	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/runtime/spec"
)

// dockerProfile is what docker passes for nsrun's default spec (its
// capabilities decide some rules): moby's default profile, as Go data.
func dockerProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	p, err := moby.GetDefaultProfile(spec.Default(false))
	require.NoError(t, err)
	return p
}

// podmanProfile is Debian's podman default profile (testdata/README.md),
// converted the way engines do for nsrun's default spec.
func podmanProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile("testdata/podman-seccomp.json")
	require.NoError(t, err)
	p, err := moby.LoadProfile(string(data), spec.Default(false))
	require.NoError(t, err)
	return p
}
