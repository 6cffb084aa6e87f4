// Command nsrun is nsbench's OCI runtime. It speaks runc's command line:
//
//	nsrun [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...
//	nsrun spec [--rootless] [--bundle B]
//	nsrun create --bundle B [--pid-file F] [--preserve-fds N] [--console-socket S] ID
//	nsrun start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
//	nsrun run --bundle B [--detach] [--timeout D] [--pid-file F] [--console-socket S] ID
//	nsrun exec [--process F] [--tty] [--detach] [...] ID [COMMAND [ARG...]]
//	nsrun pause ID | resume ID | update [-r FILE|-] [--memory N ...] ID
//	nsrun list | ps [--format json] ID | features | --version
package main

import (
	"os"
	goruntime "runtime"

	"github.com/nsbench/nsbench/runtime"
	"github.com/nsbench/nsbench/runtime/timeline"
)

// envTrace names a file nsrun appends a trace of its work to (JSON lines
// of package timeline: when each step of create, start and delete ended,
// the init's included), for `nsbench startcost`'s breakdown. Unset, nothing
// is recorded.
const envTrace = "NSRUN_TRACE"

func init() {
	// The container's init must stay on the main thread: its namespace,
	// credential and capability calls are per-thread, and execve keeps only
	// the calling thread.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		goruntime.LockOSThread()
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		err := runtime.Init()
		// Init returns only on failure; create has been told why.
		os.Stderr.WriteString("nsrun init: " + err.Error() + "\n")
		os.Exit(1)
	}
	var trace *timeline.Recorder
	if path := os.Getenv(envTrace); path != "" {
		start := timeline.Now()
		t, err := timeline.Open(path)
		if err != nil {
			os.Stderr.WriteString("nsrun: " + envTrace + ": " + err.Error() + "\n")
			os.Exit(2)
		}
		t.MarkAt(timeline.Main, start)
		trace = t
	}
	code := run(os.Args[1:], os.Stdout, os.Stderr, trace)
	trace.Close()
	os.Exit(code)
}
