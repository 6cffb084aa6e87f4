package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/engineprofile"
)

// engineSpec has docker's default capabilities (moby's oci/caps; podman's
// are a subset), which decide some of the profiles' rules. runtime/spec
// validates with this package, so its default spec is not at hand here.
func engineSpec() *specs.Spec {
	caps := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
		"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
}

func dockerProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	p, err := engineprofile.Docker(engineSpec())
	require.NoError(t, err)
	return p
}

func podmanProfile(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	p, err := engineprofile.Podman(engineSpec())
	require.NoError(t, err)
	return p
}
