// Package guest tells code whether it runs inside an nsbench VM guest, and
// on which kernel variant, so tests use the same files on host and guest.
package guest

import (
	"os"
	"strings"
)

// Info is what the guest's kernel command line says about the run.
type Info struct {
	InGuest bool
	Variant string
	Arch    string
}

// Detect reads /proc/cmdline for the nsbench.* parameters vmtest boots with.
func Detect() Info {
	data, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return Info{}
	}
	return Parse(string(data))
}

// Parse reads nsbench.variant= and nsbench.arch= from a kernel command line.
func Parse(cmdline string) Info {
	var in Info
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "nsbench.variant="); ok {
			in.InGuest, in.Variant = true, v
		}
		if v, ok := strings.CutPrefix(f, "nsbench.arch="); ok {
			in.Arch = v
		}
	}
	return in
}
