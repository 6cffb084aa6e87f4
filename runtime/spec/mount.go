package spec

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// IsBind reports whether m is a bind mount: of type "bind", or with a bind
// or rbind option (the older form runc also takes).
func IsBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// IsData reports whether a mount option is filesystem data (key=value, such
// as mode=755 or size=64m) rather than a flag or a propagation.
func IsData(o string) bool { return strings.Contains(o, "=") }
