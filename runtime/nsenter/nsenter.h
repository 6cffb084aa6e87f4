// The names nsenter.c shares with Go: nsenter.go turns each into a Go
// constant, and runtime's init protocol uses those.
#ifndef NSRUN_NSENTER_H
#define NSRUN_NSENTER_H

// Set (to anything) when the constructor has a request to carry out.
#define NSENTER_ENV "_NSRUN_NSENTER"
// The descriptor number of the sync socket, shared with the Go init.
#define NSENTER_ENV_SYNC_FD "_NSRUN_SYNC_FD"
// Message types of the init protocol the constructor sends.
#define NSENTER_MSG_IDMAP "idmap"
#define NSENTER_MSG_PID "pid"
#define NSENTER_MSG_ERROR "error"
// The byte the parent answers an idmap message with once the maps are
// written.
#define NSENTER_ACK '1'

#endif
