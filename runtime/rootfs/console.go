package rootfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// BindConsole bind-mounts the container's terminal (slave, /dev/pts/N)
// onto /dev/console, creating it as an empty file if missing, as runc does
// for process.terminal. It runs after pivot_root: both paths are the
// container's.
func BindConsole(slave string) error {
	const console = "/dev/console"
	st, err := os.Lstat(console)
	switch {
	case os.IsNotExist(err):
		f, err := os.OpenFile(console, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create %s for the terminal: %w", console, err)
		}
		f.Close()
	case err != nil:
		return fmt.Errorf("stat %s: %w", console, err)
	case st.Mode()&os.ModeSymlink != 0 || st.IsDir():
		// A mount through a link could land anywhere in the container.
		return fmt.Errorf("%s is a %s in the rootfs: remove it, the terminal is bound there", console, st.Mode().Type())
	}
	if err := unix.Mount(slave, console, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s onto %s: %w", slave, console, err)
	}
	return nil
}
