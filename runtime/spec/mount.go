package spec

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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

// RecursiveFlag is a mount attribute runc's r-prefixed options set (or
// clear) on a mount and every mount under it, with mount_setattr(2).
type RecursiveFlag struct {
	Clear bool
	Attr  uint64
	// Atime marks the access-time modes, which share one field of the
	// kernel's attributes (relatime is the value 0 there).
	Atime bool
}

// RecursiveFlags are runc's recursive mount options ("rro", "rnosuid", ...).
var RecursiveFlags = map[string]RecursiveFlag{
	"rro": {false, unix.MOUNT_ATTR_RDONLY, false}, "rrw": {true, unix.MOUNT_ATTR_RDONLY, false},
	"rnosuid": {false, unix.MOUNT_ATTR_NOSUID, false}, "rsuid": {true, unix.MOUNT_ATTR_NOSUID, false},
	"rnodev": {false, unix.MOUNT_ATTR_NODEV, false}, "rdev": {true, unix.MOUNT_ATTR_NODEV, false},
	"rnoexec": {false, unix.MOUNT_ATTR_NOEXEC, false}, "rexec": {true, unix.MOUNT_ATTR_NOEXEC, false},
	"rnodiratime": {false, unix.MOUNT_ATTR_NODIRATIME, false}, "rdiratime": {true, unix.MOUNT_ATTR_NODIRATIME, false},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW, false}, "rsymfollow": {true, unix.MOUNT_ATTR_NOSYMFOLLOW, false},
	// The kernel takes one access-time mode for the whole field, so the
	// negations pick one too, as mount(8) reads them: atime and
	// nostrictatime mean the default relatime, norelatime strictatime.
	"rnoatime": {false, unix.MOUNT_ATTR_NOATIME, true}, "ratime": {false, unix.MOUNT_ATTR_RELATIME, true},
	"rrelatime": {false, unix.MOUNT_ATTR_RELATIME, true}, "rnorelatime": {false, unix.MOUNT_ATTR_STRICTATIME, true},
	"rstrictatime": {false, unix.MOUNT_ATTR_STRICTATIME, true}, "rnostrictatime": {false, unix.MOUNT_ATTR_RELATIME, true},
}

// RecursiveAttr folds a mount's recursive options into mount_setattr's
// struct; ok is false when there are none. Setting an access-time mode
// clears the kernel's atime field first, as the kernel requires.
func RecursiveAttr(opts []string) (attr unix.MountAttr, ok bool) {
	for _, o := range opts {
		f, found := RecursiveFlags[o]
		if !found {
			continue
		}
		ok = true
		switch {
		case f.Atime:
			attr.Attr_clr |= unix.MOUNT_ATTR__ATIME
			attr.Attr_set = attr.Attr_set&^unix.MOUNT_ATTR__ATIME | f.Attr
		case f.Clear:
			attr.Attr_clr |= f.Attr
			attr.Attr_set &^= f.Attr
		default:
			attr.Attr_set |= f.Attr
			attr.Attr_clr &^= f.Attr
		}
	}
	return attr, ok
}
