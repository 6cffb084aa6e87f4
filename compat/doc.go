// Package compat measures how nsrun stands in for runc, the runtime engines
// are built for, in two ways:
//
//   - bundles: the same bundle, a change to `runc spec`'s own default
//     config (testdata/compat/bundles), run by runc and by nsrun; what each
//     prints from inside (identity, capabilities, mounts, devices, cgroups,
//     limits) and its exit status are compared. A case where nsrun differs
//     on purpose says why; that text is the README's compatibility table.
//   - engines: the everyday flows of docker (containerd-shim-runc-v2) and
//     podman (conmon) with runc and with nsrun as the OCI runtime, each
//     engine private (internal/engine).
//
// Results are JSON (Result), written by cmd/nscompat and read back to make
// the README's tables; the tests of this package run the same and check
// that nsrun passes wherever runc does.
package compat
