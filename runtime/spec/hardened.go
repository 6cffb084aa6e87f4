//go:build !nsrun_naive

package spec

// The refusals that the deliberately naive nsrun of the conformance
// self-test leaves out (naive.go, -tags nsrun_naive).

import specs "github.com/opencontainers/runtime-spec/specs-go"

// unconfined is how a refusal of confinement nsrun cannot give ends.
const unconfined = "nsrun cannot apply it and will not run the container without it; drop the field, or use a runtime that applies it"

// unconfinable refuses the process confinement nsrun cannot give rather
// than run the container without it.
func unconfinable(p *specs.Process) []error {
	var errs []error
	if p.ApparmorProfile != "" {
		errs = append(errs, bad("process.apparmorProfile", "%q: AppArmor confinement: %s", p.ApparmorProfile, unconfined))
	}
	if p.SelinuxLabel != "" {
		errs = append(errs, bad("process.selinuxLabel", "%q: SELinux confinement: %s", p.SelinuxLabel, unconfined))
	}
	return errs
}

// unlabelable refuses SELinux labels for the container's mounts.
func unlabelable(l *specs.Linux) []error {
	if l.MountLabel != "" {
		return []error{bad("linux.mountLabel", "%q: SELinux labels for the container's mounts: %s", l.MountLabel, unconfined)}
	}
	return nil
}

// rootSymlink refuses a root.path that resolves through a symlink.
func rootSymlink(root, real string) error {
	if real != root {
		return bad("root.path", "%s resolves through a symlink to %s: nsrun takes only a real directory (a symlink could make any host directory the container's root); give %s itself", root, real, real)
	}
	return nil
}
