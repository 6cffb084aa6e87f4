// Package kfeatures tells what the running kernel offers the container
// tests, and what its policy forbids. A missing feature makes a test skip
// with the reason; a policy that denies isolation (user namespaces switched
// off, say) is its own outcome, not a skip and not a runtime bug.
package kfeatures

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/go-version"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/cgroups"
)

// Features is one reading of the running kernel.
type Features struct {
	// Release is uname -r; Version its numeric part.
	Release string
	Version *version.Version
	// Namespaces the kernel has (/proc/self/ns entries).
	Namespaces map[string]bool
	// MaxUserNamespaces is user.max_user_namespaces (-1 if unreadable).
	MaxUserNamespaces int
	// UnprivilegedUsernsClone is Debian's kernel.unprivileged_userns_clone
	// (-1 where the kernel lacks the knob).
	UnprivilegedUsernsClone int
	// AppArmorRestrictsUserns is Ubuntu's
	// kernel.apparmor_restrict_unprivileged_userns (-1 if absent).
	AppArmorRestrictsUserns         int
	Clone3, PidfdOpen, MountSetattr bool
	// Cgroup is "v1", "hybrid", "v2" or "none" (cgroups.Mode).
	Cgroup string
	Root   bool
}

var releaseNum = regexp.MustCompile(`^\d+(\.\d+){0,2}`)

// ParseRelease turns a uname release ("6.1.0-28-amd64",
// "6.18.44-fc-v595") into its version number.
func ParseRelease(release string) (*version.Version, error) {
	m := releaseNum.FindString(release)
	if m == "" {
		return nil, fmt.Errorf("kernel release %q: no version number at its start", release)
	}
	return version.NewVersion(m)
}

// Detect reads the running kernel's features.
func Detect() (*Features, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, fmt.Errorf("uname: %w", err)
	}
	f := &Features{Release: unix.ByteSliceToString(u.Release[:]), Namespaces: map[string]bool{}, Root: os.Geteuid() == 0}
	v, err := ParseRelease(f.Release)
	if err != nil {
		return nil, err
	}
	f.Version = v
	entries, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/ns: %w", err)
	}
	for _, e := range entries {
		f.Namespaces[strings.TrimSuffix(e.Name(), "_for_children")] = true
	}
	f.MaxUserNamespaces = sysctlInt("user/max_user_namespaces")
	f.UnprivilegedUsernsClone = sysctlInt("kernel/unprivileged_userns_clone")
	f.AppArmorRestrictsUserns = sysctlInt("kernel/apparmor_restrict_unprivileged_userns")
	// A syscall that exists answers EFAULT/EINVAL/EBADF to bad arguments;
	// one that does not answers ENOSYS.
	f.Clone3 = exists(unix.Syscall(unix.SYS_CLONE3, 0, 0, 0))
	f.PidfdOpen = exists(unix.Syscall(unix.SYS_PIDFD_OPEN, ^uintptr(0), 0, 0))
	f.MountSetattr = exists(unix.Syscall6(unix.SYS_MOUNT_SETATTR, ^uintptr(0), 0, 0, 0, 0, 0))
	l, err := cgroups.HostLayout()
	if err != nil {
		return nil, err
	}
	f.Cgroup = string(l.Mode())
	return f, nil
}

func exists(_, _ uintptr, errno unix.Errno) bool { return errno != unix.ENOSYS }

func sysctlInt(name string) int {
	data, err := os.ReadFile(filepath.Join("/proc/sys", name))
	if err != nil {
		return -1
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return -1
	}
	return v
}

// ErrMissing marks a feature the kernel does not have: tests skip.
var ErrMissing = errors.New("kernel feature missing")

// ErrPolicy marks isolation the kernel could give but its configuration
// forbids: reported as a policy outcome.
var ErrPolicy = errors.New("kernel policy denies it")

// UserNamespaces says whether the caller can create a user namespace, and
// if not whether the kernel lacks them (ErrMissing) or a sysctl forbids
// them (ErrPolicy). The error names the knob to change.
func (f *Features) UserNamespaces() error {
	if !f.Namespaces["user"] {
		return fmt.Errorf("%w: user namespaces (CONFIG_USER_NS) on %s", ErrMissing, f.Release)
	}
	if f.MaxUserNamespaces == 0 {
		return fmt.Errorf("%w: user.max_user_namespaces=0 forbids every new user namespace", ErrPolicy)
	}
	if !f.Root {
		if f.UnprivilegedUsernsClone == 0 {
			return fmt.Errorf("%w: kernel.unprivileged_userns_clone=0 forbids user namespaces to unprivileged users", ErrPolicy)
		}
		if f.AppArmorRestrictsUserns == 1 {
			return fmt.Errorf("%w: kernel.apparmor_restrict_unprivileged_userns=1 forbids user namespaces to unconfined unprivileged users", ErrPolicy)
		}
	}
	return nil
}

// Namespace says whether the kernel has the namespace type ("time",
// "cgroup", ... as named in /proc/self/ns).
func (f *Features) Namespace(name string) error {
	if !f.Namespaces[name] {
		return fmt.Errorf("%w: %s namespaces on %s (no /proc/self/ns/%s)", ErrMissing, name, f.Release, name)
	}
	return nil
}

// AtLeast reports whether the kernel is v or newer.
func (f *Features) AtLeast(v string) bool {
	want, err := version.NewVersion(v)
	if err != nil {
		return false
	}
	return f.Version.GreaterThanOrEqual(want)
}

// String summarises the reading in one line for reports.
func (f *Features) String() string {
	return fmt.Sprintf("kernel %s, cgroup %s, user.max_user_namespaces=%d, clone3=%t pidfd=%t mount_setattr=%t",
		f.Release, f.Cgroup, f.MaxUserNamespaces, f.Clone3, f.PidfdOpen, f.MountSetattr)
}
