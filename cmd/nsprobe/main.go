// Command nsprobe runs inside a container under test and prints, as JSON,
// what the container looks like from within. The conformance suite puts it
// into every bundle it makes.
//
//	nsprobe [--host-pid N] [--shm-key K] [--watch DIR] [--mount-inside DIR --mounted FILE] [--wait-for FILE] [--syscalls]
//	        [--mask-check P1,P2] [--proc DIR] ...
//	nsprobe --hook-report FILE   (as an OCI hook)
//
// Since Go 1.25 the runtime reads the cgroup CPU limit at start and keeps
// the cgroup files open to follow changes; the probe would then report its
// own descriptors as leaked by the runtime under test. It is switched off.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nsbench/nsbench/conformance/probe"
)

func main() {
	var o probe.Options
	flag.IntVar(&o.HostPid, "host-pid", 0, "a host pid the container must not be able to signal")
	flag.IntVar(&o.ShmKey, "shm-key", 0, "a host SysV shm key the container must not find")
	flag.StringVar(&o.Mqueue, "mqueue", "", "a host POSIX message queue name (no leading /) the container must not find")
	flag.StringVar(&o.Watch, "watch", "", "a directory whose entries to report (mount propagation)")
	flag.StringVar(&o.Bind, "bind", "", "a bind mount to try writing, executing and remounting")
	flag.StringVar(&o.Touch, "touch", "", "a file to create (host ownership check)")
	mountInside := flag.String("mount-inside", "", "mount a tmpfs here first, before waiting (propagation from inside)")
	mounted := flag.String("mounted", "", "with --mount-inside: the file to write when the mount is made (its error, or empty)")
	flag.StringVar(&o.Setuid, "setuid", "", "a setuid copy of nsprobe to run with -ids (no_new_privs)")
	flag.StringVar(&o.SetUTS, "set-uts", "", "a name to set as hostname and domainname from inside")
	flag.StringVar(&o.OpenDev, "open-dev", "", "a device node to try opening for reading (device access control)")
	flag.BoolVar(&o.Syscalls, "syscalls", false, "make the calls a seccomp profile may deny, and report their errnos")
	ids := flag.Bool("ids", false, "print only this process's uid and euid, as JSON")
	maskCheck := flag.String("mask-check", "", "comma-separated masked paths to describe (type, and whether they open for writing)")
	flag.StringVar(&o.Proc, "proc", "/proc", "where procfs is mounted inside, to read the process's own status from")
	report := flag.String("report", "", "write the report to this file (renamed into place whole) instead of stdout: a hostile image can make the runtime point stdout elsewhere")
	hookReport := flag.String("hook-report", "", "run as an OCI hook: read the state on stdin, write what the hook sees to this file")
	waitFor := flag.String("wait-for", "", "wait until this file exists before looking (at most 60s)")
	flag.Parse()
	if *maskCheck != "" {
		o.MaskCheck = strings.Split(*maskCheck, ",")
	}
	if *hookReport != "" {
		if err := probe.Hook(os.Stdin, *hookReport); err != nil {
			fmt.Fprintln(os.Stderr, "nsprobe:", err)
			os.Exit(1)
		}
		return
	}
	if *ids {
		if err := json.NewEncoder(os.Stdout).Encode(probe.OwnIDs()); err != nil {
			os.Exit(1)
		}
		return
	}
	if *mountInside != "" {
		if *mounted == "" {
			fmt.Fprintln(os.Stderr, "nsprobe: --mount-inside needs --mounted FILE")
			os.Exit(2)
		}
		// A failed mount is the host's evidence (in the --mounted file), not
		// the probe's failure.
		_ = probe.MountInside(*mountInside, *mounted)
	}
	if *waitFor != "" {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(*waitFor); err == nil {
				break
			}
		}
	}
	r := probe.Collect(o)
	if *report != "" {
		if err := probe.WriteReport(*report, r); err != nil {
			fmt.Fprintln(os.Stderr, "nsprobe:", err)
			os.Exit(1)
		}
		return
	}
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		os.Exit(1)
	}
}
