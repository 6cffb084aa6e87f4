//go:build nsrun_naive

// This file is the deliberately naive twin of hardened.go, built only with
// -tags nsrun_naive: the conformance self-test runs such an nsrun to show
// that the hostile-image invariants catch a runtime without these checks.
// Never build a runtime for use with that tag.

package rootfs

import (
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/inroot"
)

// checkDestination mounts proc wherever the image's /proc leads.
func checkDestination(*inroot.Root, int, specs.Mount, string) error { return nil }

// readOnlyBelow leaves the mounts under an rbind,ro as they are.
func readOnlyBelow(*inroot.Root, string) error { return nil }

// needDevices makes device nodes only on a /dev the config mounts.
func needDevices(ms []specs.Mount) bool {
	for _, m := range ms {
		if filepath.Clean(m.Destination) == "/dev" {
			return true
		}
	}
	return false
}

// checkDevNull masks with whatever /dev/null is.
func checkDevNull(*os.File) error { return nil }
