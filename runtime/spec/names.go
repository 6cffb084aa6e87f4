package spec

import (
	"slices"
	"sort"
)

// Namespaces lists the namespace types the runtime knows, sorted.
func Namespaces() []string {
	var out []string
	for t := range namespaceTypes {
		out = append(out, string(t))
	}
	sort.Strings(out)
	return out
}

// Capabilities lists the capability names the runtime knows, in the
// kernel's order (CAP_CHOWN first).
func Capabilities() []string {
	out := make([]string, 0, len(capNames))
	for name := range capNames {
		out = append(out, "CAP_"+name)
	}
	slices.SortFunc(out, func(a, b string) int {
		x, _ := Capability(a)
		y, _ := Capability(b)
		return x - y
	})
	return out
}

// MountOptions lists the mount options the runtime understands as flags,
// recursive flags, propagation or runc's tmpcopyup, sorted; other options
// are passed to the filesystem as data.
func MountOptions() []string {
	var out []string
	for o := range MountFlags {
		out = append(out, o)
	}
	for o := range PropagationFlags {
		out = append(out, o)
	}
	for o := range RecursiveFlags {
		out = append(out, o)
	}
	out = append(out, "tmpcopyup")
	sort.Strings(out)
	return out
}
