// Package engineprofile gives docker's and podman's default seccomp
// profiles as those engines hand them to a runtime: converted for a spec's
// capabilities and this host's architecture. Tests and the conformance
// suite use them; see README.md for where each comes from.
package engineprofile

import (
	_ "embed"
	"fmt"

	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:embed podman-seccomp.json
var podmanJSON string

// Docker is docker's default profile (moby/profiles, as Go data) for s.
func Docker(s *specs.Spec) (*specs.LinuxSeccomp, error) {
	p, err := moby.GetDefaultProfile(s)
	if err != nil {
		return nil, fmt.Errorf("docker's default seccomp profile: %w", err)
	}
	return p, nil
}

// Podman is Debian 12's podman default profile for s, converted the way
// the engines do (containers/common's format is moby's).
func Podman(s *specs.Spec) (*specs.LinuxSeccomp, error) {
	p, err := moby.LoadProfile(podmanJSON, s)
	if err != nil {
		return nil, fmt.Errorf("podman's default seccomp profile: %w", err)
	}
	return p, nil
}

// Profile gives an engine's default profile for a spec.
type Profile func(*specs.Spec) (*specs.LinuxSeccomp, error)

// ByEngine returns the default profile of "docker" or "podman".
func ByEngine(engine string) (Profile, error) {
	switch engine {
	case "docker":
		return Docker, nil
	case "podman":
		return Podman, nil
	}
	return nil, fmt.Errorf("no default seccomp profile for engine %q: want docker or podman", engine)
}
