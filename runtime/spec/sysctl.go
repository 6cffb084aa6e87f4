package spec

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ipcSysctls are the kernel.* sysctls an ipc namespace owns (with
// fs.mqueue.*).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// validateSysctl accepts what runc accepts: only sysctls the container's own
// namespaces hold, since any other would change the host.
func validateSysctl(l *specs.Linux, own func(specs.LinuxNamespaceType) bool) []error {
	var errs []error
	for key := range l.Sysctl {
		f := fmt.Sprintf("linux.sysctl[%q]", key)
		switch {
		case strings.ContainsRune(key, 0) || strings.Contains(key, "..") || key == "":
			errs = append(errs, bad(f, "not a sysctl name (dotted, as net.ipv4.ip_forward)"))
		case ipcSysctls[key] || strings.HasPrefix(key, "fs.mqueue."):
			if !own(specs.IPCNamespace) {
				errs = append(errs, bad(f, "needs an ipc namespace of the container's own (it would change the host's)"))
			}
		case strings.HasPrefix(key, "net."):
			if !own(specs.NetworkNamespace) {
				errs = append(errs, bad(f, "needs a network namespace of the container's own (it would change the host's)"))
			}
		case key == "kernel.domainname" && own(specs.UTSNamespace):
		case key == "kernel.hostname" && own(specs.UTSNamespace):
			errs = append(errs, bad(f, "set the hostname with the config's hostname field instead (runc refuses it too)"))
		default:
			errs = append(errs, bad(f, "not held by any namespace of the container: it would change the host"))
		}
	}
	return errs
}
