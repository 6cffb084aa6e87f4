//go:build !nsrun_naive

package runtime

// The defenses of the init that the deliberately naive nsrun of the
// conformance self-test leaves out (naive.go, -tags nsrun_naive).

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/exeseal"
	"github.com/nsbench/nsbench/runtime/inroot"
)

// sealedExe is what the container's init is executed from: a sealed copy
// of this executable, never the host's file itself (see package exeseal).
func sealedExe(scratch string) (*os.File, error) {
	exe, _, err := exeseal.Open(scratch)
	return exe, err
}

// undumpable keeps everything in the container out of the init's /proc
// files (its exe, its descriptors) until its execve: hooks and the
// program run with the container's credentials, as the init will, and
// non-dumpable is what keeps them out. execve makes the program dumpable
// again.
func undumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("nsrun init: prctl PR_SET_DUMPABLE: %w", err)
	}
	return nil
}

// hooksAfterCredentials: startContainer hooks come with the image (their
// paths resolve in the container), so they run as the container's process
// will, with its user, capabilities and no_new_privs, as runc runs them.
const hooksAfterCredentials = true

// chdirInRoot changes to cwd resolved inside the container's root: a cwd
// through a /proc magic link (/proc/self/fd/N naming a descriptor that
// leads out, runc's CVE-2024-21626) is refused, not followed.
func chdirInRoot(cwd string) error {
	root, err := inroot.Open("/")
	if err != nil {
		return err
	}
	defer root.Close()
	h, err := root.Lookup(cwd)
	if err != nil {
		return fmt.Errorf("chdir to process.cwd %s: %w", cwd, err)
	}
	defer h.Close()
	if err := unix.Fchdir(int(h.Fd())); err != nil {
		return fmt.Errorf("chdir to process.cwd %s: %w", cwd, err)
	}
	return nil
}

// executable checks that path, resolved inside the container's root (no
// magic link to a descriptor leading out), is an executable file.
func executable(path string) error {
	root, err := inroot.Open("/")
	if err != nil {
		return err
	}
	defer root.Close()
	h, err := root.Lookup(path)
	if err != nil {
		return err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
