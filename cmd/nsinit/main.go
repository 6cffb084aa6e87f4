// Command nsinit is PID 1 of an nsbench VM guest: it mounts the basics and
// the 9p share, runs the job's tests, writes their results to the share and
// powers off (internal/guest). images puts it into every initramfs as /init.
package main

import (
	"os"

	"github.com/nsbench/nsbench/internal/guest"
)

func main() {
	guest.Init(os.Stdout)
}
