// Package testpause stops a command for good at a named step, for the
// fault tests: they start nsrun or nsnet with the step named (cmd/ reads
// it from the environment and passes it down), wait for the line this
// prints, SIGKILL the process there and check what it left.
package testpause

import (
	"fmt"
	"os"
	"time"
)

// At blocks forever when want names step, after telling stderr
// "<prog>: paused at <step>"; otherwise it returns at once.
func At(prog, want, step string) {
	if want == "" || want != step {
		return
	}
	fmt.Fprintf(os.Stderr, "%s: paused at %s\n", prog, step)
	for {
		time.Sleep(time.Hour)
	}
}
