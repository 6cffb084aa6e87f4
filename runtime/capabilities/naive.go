//go:build nsrun_naive

// This file is the deliberately naive twin of lastcap.go, built only with
// -tags nsrun_naive for the conformance self-test. Never build a runtime
// for use with that tag.

package capabilities

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LastCap reads /proc/sys/kernel/cap_last_cap, wherever /proc is.
func LastCap() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return unix.CAP_LAST_CAP
	}
	return v
}
