// Package nsenter is the part of nsrun's init that runs before the Go
// runtime: a C constructor (nsenter.c) that joins namespaces by path (user,
// mount and time ones can only be joined by a single-threaded process),
// creates new ones in the right order after them, and forks into a pid
// namespace. This file is the Go side: the request the parent sends and
// the names both sides share. The constructor is linked into every binary
// that imports this package when cgo is on; it does nothing unless the
// environment asks it to.
package nsenter

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The names nsenter.h defines for the C side; TestCNamesMatch keeps both
// in step.
const (
	// Env is set (to "1") when the constructor has a request to carry
	// out; the constructor removes it once done.
	Env = "_NSRUN_NSENTER"
	// EnvSyncFD names the descriptor of the socket to the parent.
	EnvSyncFD = "_NSRUN_SYNC_FD"
	// MsgIDMap asks the parent to write the maps of a new user namespace
	// and answer with Ack.
	MsgIDMap = "idmap"
	// MsgPid names the process that goes on (the forked child, or the
	// constructor's own process).
	MsgPid = "pid"
	// MsgError carries a failure, already naming the operation and path.
	MsgError = "error"
	// Ack is the byte that answers MsgIDMap.
	Ack = '1'
)

// Join is one namespace to setns into.
type Join struct {
	Flag int    // CLONE_NEW*
	Name string // the OCI type, for messages
	Path string
}

// Request is what the constructor does, in this order: join every
// namespace in Joins (the user namespace when the others allow it: see
// nsenter.c), create the namespaces in Unshare (a user namespace first,
// with maps written by the parent), turn dumpable off, fork.
type Request struct {
	Joins   []Join
	Unshare uintptr
	NoDump  bool
	Fork    bool
}

// Encode returns the request as the constructor reads it: a host-order
// 4-byte length and newline-separated lines.
func (r *Request) Encode() ([]byte, error) {
	var b strings.Builder
	for _, j := range r.Joins {
		if !strings.HasPrefix(j.Path, "/") || strings.ContainsAny(j.Path, "\n\x00") {
			return nil, fmt.Errorf("%s namespace path %q: must be absolute, without newlines", j.Name, j.Path)
		}
		if j.Name == "" || strings.ContainsAny(j.Name, " \n") || len(j.Name) > 15 {
			return nil, fmt.Errorf("namespace type %q: not a single word of at most 15 bytes", j.Name)
		}
		fmt.Fprintf(&b, "join %d %s %s\n", j.Flag, j.Name, j.Path)
	}
	if r.Unshare != 0 {
		fmt.Fprintf(&b, "unshare %d\n", r.Unshare)
	}
	if r.NoDump {
		b.WriteString("nodump\n")
	}
	if r.Fork {
		b.WriteString("fork\n")
	}
	if b.Len() > maxRequest {
		return nil, fmt.Errorf("nsenter request of %d bytes is over the limit of %d", b.Len(), maxRequest)
	}
	out := binary.NativeEndian.AppendUint32(nil, uint32(b.Len()))
	return append(out, b.String()...), nil
}

// maxRequest is MAX_REQUEST of nsenter.c.
const maxRequest = 65536
