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
	var c cursor
	return c.find(name)
}

// cursor looks names up one after another. Profiles list them
// alphabetically (docker's and podman's allow lists do), so the next name
// is usually a few entries past the last one found.
type cursor struct{ at int }

func (c *cursor) find(name string) (*syscallEntry, bool) {
	for i := c.at; i < len(syscallTable) && i < c.at+4; i++ {
		if n := syscallTable[i].name; n == name {
			c.at = i + 1
			return &syscallTable[i], true
		} else if n > name {
			break
		}
	}
	i, ok := slices.BinarySearchFunc(syscallTable[:], name, func(e syscallEntry, name string) int { return strings.Compare(e.name, name) })
	if !ok {
		return nil, false
	}
	c.at = i + 1
	return &syscallTable[i], true
}
