//go:build !cgo

package sigforward

// Linked reports whether the constructor is part of this binary: without
// cgo nothing is blocked and Catch enables every signal with os/signal.
const Linked = false

func constructorBlocked() (bool, uint64) { return false, 0 }

// Subcommand is "" without the constructor.
func Subcommand(args []string) string { return "" }
