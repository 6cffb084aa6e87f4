package seccomp

import (
	"slices"
	"strings"
)

//go:generate go run ./internal/mksyscalls -o zsyscalls.go

// syscallEntry is one call's number on each ABI of syscallTable.
type syscallEntry struct {
	name string
	nr   [numTabs]int32
}

// lookup finds a syscall by name; the table is sorted, so this costs a
// binary search and no map built at start-up (nsrun starts once per
// container command).
func lookup(name string) (*syscallEntry, bool) {
	i, ok := slices.BinarySearchFunc(syscallTable[:], name, func(e syscallEntry, name string) int { return strings.Compare(e.name, name) })
	if !ok {
		return nil, false
	}
	return &syscallTable[i], true
}
