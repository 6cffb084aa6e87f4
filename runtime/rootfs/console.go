package rootfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/inroot"
)

// BindConsole bind-mounts the container's terminal, the pty slave the init
// holds, onto /dev/console, as runc does for process.terminal. It runs
// after pivot_root, before the masked and read-only paths. The bind is
// made from the slave descriptor itself, never from its /dev/pts/N path,
// which an image without a devpts mounted there controls (runc's
// CVE-2025-52565 bound whatever that path led to, a sysctl say, writable at
// /dev/console); and /dev/console is resolved inside the root, replaced
// when it is anything but a directory.
func BindConsole(slave *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
		return fmt.Errorf("stat the terminal %s: %w", slave.Name(), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("the terminal %s is not a character device (mode %#o)", slave.Name(), st.Mode)
	}
	root, err := inroot.Open("/")
	if err != nil {
		return err
	}
	defer root.Close()
	target, err := root.ReplaceFile("/dev/console", 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console for the terminal: %w", err)
	}
	defer target.Close()
	if err := bindOnto(slave, target, false); err != nil {
		return fmt.Errorf("bind the terminal %s onto /dev/console: %w", slave.Name(), err)
	}
	return nil
}
