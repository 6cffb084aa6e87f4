package conformance

import (
	"context"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/spec"
)

// Invariant is one isolation property and the check that proves it.
type Invariant struct {
	Name string
	// Doc is the one line the README and the matrix show.
	Doc   string
	Check func(ctx context.Context, e *Env) Result
}

// defaultSpec is the isolation the suite asks of every runtime: the default
// bundle's. Checks compare against this, not against whatever config a
// (possibly broken) bundle carried.
func defaultSpec() *specs.Spec { return spec.Default(os.Geteuid() != 0) }

// Invariants is the suite, in matrix order.
func Invariants() []Invariant {
	all := []Invariant{
		{"mount-leak", "no mount made for or inside the container is ever in the host's mount table, before or after delete", checkMountLeak},
		{"pivot-root", "/, /.., /proc/1/root and .. from the cwd or any inherited descriptor all end at the container's root", checkPivotRoot},
		{"chroot-escape", "the chroot-in-chroot escape fails", checkChroot},
		{"propagation", "a host mount made after start shows inside with rslave/rshared roots, never with rprivate; a mount made inside reaches the host only with rshared", checkPropagation},
		{"bind-flags", "a bind mount's ro, nosuid, nodev, noexec hold and it cannot be remounted from inside", checkBindFlags},
		{"pid-ns", "the first process is PID 1 and /proc lists only the container's processes", checkPidNS},
		{"pid-lifecycle", "orphans reparent to the container's PID 1, and all processes die with it", checkPidLifecycle},
		{"pid-host-view", "the host sees the container's init under its host PID, and the container can neither signal nor ptrace a host process", checkPidHostView},
		{"pid-sibling", "a container sees none of a sibling container's processes", checkSibling},
		{"uts-ns", "the hostname is the config's inside, and changing hostname and domainname inside leaves the host's alone", checkUTS},
		{"ipc-ns", "a SysV shared memory segment and a POSIX message queue of the host are invisible inside", checkIPC},
		{"net-ns", "only lo exists inside: host interfaces are invisible", checkNet},
		{"net-hook", "with the nsnet hook, only lo and the hook's eth0 exist inside, and after delete its veth is gone", checkNetHook},
		{"cgroup-ns", "/proc/self/cgroup is rooted at the container's cgroup", checkCgroupNS},
		{"capabilities", "effective, permitted and bounding sets are exactly the default config's", checkCaps},
		{"no-new-privs", "noNewPrivileges is set, and a setuid-root binary run by a non-root user inside does not raise its euid", checkNNP},
		{"masked-paths", "maskedPaths (/proc/kcore, /proc/timer_list) read nothing", checkMasked},
		{"readonly-paths", "readonlyPaths (/proc/sys) and /sys cannot be written", checkReadonly},
		{"devices", "mknod fails inside, and a device node the config does not allow cannot be opened", checkMknod},
		{"fd-leak", "no descriptor beyond stdio reaches the process", checkFDs},
		{"exec", "a process exec'd into the container is in all its namespaces and its cgroup, with its capabilities, no_new_privs and seccomp mode and no extra descriptor", checkExec},
		{"id-ranges", "containers with user namespaces get the configured maps, and concurrent ones share no host id", checkIDRanges},
		{"user-ns-maps", "in a user namespace, uid/gid maps are the config's and setgroups is deny", checkUserNS},
		{"user-ns-owner", "a file root creates inside is owned on the host by the mapped uid", checkOwnership},
		{"teardown", "after delete no process, cgroup or state of the container is left", checkTeardown},
		{"seccomp", "under docker's default seccomp profile the calls it denies fail with its errno, in a child and after exec, and /proc/self/status says Seccomp: 2", checkSeccomp},
	}
	return append(all, Hostile()...)
}

// Hostile is the hostile-image family: attacks an image or a bundle makes
// on the runtime itself, named after the class of advisory each covers.
func Hostile() []Invariant {
	return []Invariant{
		{"mount-dest-symlink", "mount destinations through the image's symlinks and '..' land inside the rootfs, never on the host", checkMountDestSymlink},
		{"dev-symlink", "an image whose /dev is a symlink to a host directory gets nothing made, replaced or mounted there", checkDevSymlink},
		{"proc-redirect", "an image's /proc (a symlink into a volume, fake files) redirects no runtime write and widens no capability", checkProcRedirect},
		{"devnull-mask", "with the image's /dev/null a symlink to a sysctl, masked files are still the null device", checkDevNullMask},
		{"cwd-escape", "a process.cwd through /proc/self/fd/N, with a host directory handed in as fd 3, never puts the process outside its root", checkCwdEscape},
		{"runtime-exe", "the runtime's binary is never reachable writable through /proc/PID/exe of its processes, from the host or a hook of the image", checkRuntimeExe},
		{"hook-privileges", "a startContainer hook of the image runs with no capability the process lacks and with its no_new_privs", checkHookPrivileges},
		{"root-path-symlink", "a root.path that is a symlink out of the bundle is refused, not followed", checkRootPathSymlink},
		{"confinement-dropped", "an AppArmor profile or SELinux label in the config is applied or refused, never dropped silently", checkConfinementDropped},
		{"inheritable-caps", "the inheritable and ambient sets are the config's (empty by default)", checkInheritableCaps},
		{"cgroupfs-readonly", "every cgroup filesystem inside is read-only", checkCgroupfsReadonly},
	}
}
