package conformance

// The user-namespace family: id maps and ownership (rootless runs).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func checkUserNS(ctx context.Context, e *Env) Result {
	if os.Geteuid() == 0 {
		// Root runs use no user namespace by default; the rootless run of
		// the suite checks the maps.
		exp := defaultSpec()
		hasUser := slices.ContainsFunc(exp.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.UserNamespace })
		if !hasUser {
			return skip("the root configuration has no user namespace; run the suite unprivileged to check id maps")
		}
	}
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	want := fmt.Sprintf("0 %d 1", os.Geteuid())
	if r.UIDMap != want {
		return fail("uid_map inside is %q, want %q", r.UIDMap, want)
	}
	if r.Setgroup != "deny" {
		return fail("setgroups is %q, want deny for a rootless container", r.Setgroup)
	}
	return pass("uid_map %q, setgroups deny", r.UIDMap)
}

// checkOwnership: with a user namespace, a file created inside as root is
// owned on the host by the mapped id, not by root.
func checkOwnership(ctx context.Context, e *Env) Result {
	if os.Geteuid() == 0 {
		return skip("the root configuration has no user namespace; run the suite unprivileged (make conformance-rootless)")
	}
	d, err := e.hostDir("own")
	if err != nil {
		return fail("%v", err)
	}
	r, err := e.RunProbe(ctx, func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount(d, "/own")) }, "--touch", "/own/f")
	if err != nil {
		return fail("%v", err)
	}
	if r.Touched != "" {
		return fail("create /own/f inside: %s", r.Touched)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(d, "f"), &st); err != nil {
		return fail("the file made inside is not on the host: %v", err)
	}
	if int(st.Uid) != os.Geteuid() {
		return fail("a file made by root inside is owned by uid %d on the host, want the mapped %d", st.Uid, os.Geteuid())
	}
	return pass("root inside wrote a file owned by uid %d on the host", st.Uid)
}
