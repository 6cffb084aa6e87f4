//go:build cgo

package nsenter

// #cgo CFLAGS: -Wall -Wextra -Werror -std=gnu11
// #include "nsenter.h"
import "C"

// cNames returns nsenter.h's names in the order of TestCNamesMatch.
func cNames() []string {
	return []string{C.NSENTER_ENV, C.NSENTER_ENV_SYNC_FD, C.NSENTER_MSG_IDMAP, C.NSENTER_MSG_PID, C.NSENTER_MSG_ERROR, string(rune(C.NSENTER_ACK))}
}

// Linked reports whether the constructor is part of this binary.
const Linked = true
