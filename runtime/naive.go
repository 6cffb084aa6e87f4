//go:build nsrun_naive

// This file is the deliberately naive twin of hardened.go, built only with
// -tags nsrun_naive: the conformance self-test runs such an nsrun to show
// that the hostile-image invariants catch a runtime without these
// defenses. Never build a runtime for use with that tag.

package runtime

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sealedExe is the running executable itself.
func sealedExe(string) (*os.File, error) {
	fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/proc/self/exe"), nil
}

// undumpable leaves the init dumpable.
func undumpable() error { return nil }

// hooksAfterCredentials: startContainer hooks run with the init's
// privileges.
const hooksAfterCredentials = false

// chdirInRoot is chdir(2) of cwd, magic links followed.
func chdirInRoot(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to process.cwd %s: %w", cwd, err)
	}
	return nil
}

// executable is a stat of path.
func executable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
