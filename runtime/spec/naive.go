//go:build nsrun_naive

// This file is the deliberately naive twin of hardened.go, built only with
// -tags nsrun_naive for the conformance self-test: confinement fields are
// dropped silently and a symlinked root.path is followed. Never build a
// runtime for use with that tag.

package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

func unconfinable(*specs.Process) []error { return nil }

func unlabelable(*specs.Linux) []error { return nil }

func rootSymlink(string, string) error { return nil }
