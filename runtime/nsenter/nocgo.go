//go:build !cgo

package nsenter

// Linked reports whether the constructor is part of this binary: without
// cgo it is not, and nsrun refuses what needs it (joining namespaces by
// path, exec) with that reason.
const Linked = false
