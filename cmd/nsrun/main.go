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
)

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
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
