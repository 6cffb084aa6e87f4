//go:build cgo

package sigforward

// #cgo CFLAGS: -Wall -Wextra -Werror -std=gnu11
// #include <stdlib.h>
// #include "sigforward.h"
import "C"

import "unsafe"

// Linked reports whether the constructor is part of this binary.
const Linked = true

func constructorBlocked() (bool, uint64) {
	return C.nsrun_sigforward_blocked != 0, uint64(C.nsrun_sigforward_orig)
}

// Subcommand is the constructor's reading of an nsrun command line (args
// without the program name): the word it takes for the command, or "".
func Subcommand(args []string) string {
	argv := make([]*C.char, len(args)+1)
	argv[0] = C.CString("nsrun")
	for i, a := range args {
		argv[i+1] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	cmd := C.nsrun_sigforward_subcommand(C.int(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])))
	if cmd == nil {
		return ""
	}
	return C.GoString(cmd)
}
