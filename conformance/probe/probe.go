// Package probe is what the conformance suite runs inside a container: it
// looks at the container from within and reports, as JSON, what it sees
// and which escapes it managed. It must not trust anything it reports on.
package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/sysprobe"
)

// Report is one look from inside.
type Report struct {
	Pid      int    `json:"pid"`
	Procs    []int  `json:"procs"`
	UIDMap   string `json:"uidMap"`
	GIDMap   string `json:"gidMap"`
	Setgroup string `json:"setgroups"`
	// Capability sets and no_new_privs from /proc/self/status, as numbers.
	CapEff, CapPrm, CapBnd, CapInh, CapAmb uint64
	NoNewPrivs                             bool `json:"noNewPrivs"`
	// NetNS is the readlink of /proc/self/ns/net ("net:[4026531992]").
	NetNS      string   `json:"netns"`
	Hostname   string   `json:"hostname"`
	Domainname string   `json:"domainname"`
	Interfaces []string `json:"interfaces"`
	Cgroup     []string `json:"cgroup"`
	FDs        []int    `json:"fds"`
	// Root and RootParent are dev:ino of "/" and "/.."; Proc1Root of
	// /proc/1/root: all must be the container's root.
	Root, RootParent, Proc1Root string
	// Attempts: empty means it worked (an escape, mostly); else the error.
	Mknod         string `json:"mknod"`
	WriteSys      string `json:"writeSys"`
	WriteReadonly string `json:"writeReadonly"`
	SetHostname   string `json:"setHostname"`
	KillHost      string `json:"killHost,omitempty"`
	PtraceHost    string `json:"ptraceHost,omitempty"`
	MqLookup      string `json:"mqLookup,omitempty"`
	// Cmdlines of every process /proc shows.
	Cmdlines  []string `json:"cmdlines"`
	ShmLookup string   `json:"shmLookup,omitempty"`
	Chroot    string   `json:"chrootEscape"`
	// MaskedBytes is how much of /proc/kcore and /proc/timer_list could be
	// read (masked: 0).
	MaskedBytes int `json:"maskedBytes"`
	// Files lists what a host-made directory (-watch) holds when the probe
	// looks, to observe mount propagation.
	Watch []string `json:"watch,omitempty"`
	// Bind is what a bind mount given with -bind allowed: writing, executing,
	// remounting it writable (empty: allowed), and its statfs flags.
	Bind *BindReport `json:"bind,omitempty"`
	// Touched is the error of creating the -touch file (empty: created).
	Touched string `json:"touched,omitempty"`
	// WalkOut lists the inherited directories (the cwd, any directory
	// descriptor) from which walking ".." led somewhere other than the
	// container's root, with where it led. Empty: none did.
	WalkOut []string `json:"walkOut,omitempty"`
	// Setuid is what a setuid binary given with -setuid saw after exec.
	Setuid *IDs `json:"setuid,omitempty"`
	// SetUTS is the error of changing the hostname and domainname to the
	// -set-uts name (empty: changed).
	SetUTS string `json:"setUTS,omitempty"`
	// OpenDev is the error of opening the -open-dev device node for
	// reading (empty: it opened).
	OpenDev string `json:"openDev,omitempty"`
	// Cwd is what getcwd says ("(unreachable)/..." when the cwd lies
	// outside the root).
	Cwd string `json:"cwd"`
	// ProcFS says whether /proc is a procfs root (see ProcFS).
	ProcFS string `json:"procfs"`
	// LSM is the process's LSM label (/proc/self/attr/current), or the
	// error reading it: none on a host without an LSM that labels.
	LSM string `json:"lsm"`
	// CgroupMounts are the cgroup filesystems inside, with their options.
	CgroupMounts []string `json:"cgroupMounts,omitempty"`
	// Masks describe the -mask-check paths.
	Masks []MaskReport `json:"masks,omitempty"`
	// Seccomp is /proc/self/status's seccomp mode: 0 none, 2 a filter.
	Seccomp string `json:"seccomp"`
	// Syscalls are sysprobe's calls and what they answered (-syscalls).
	Syscalls []sysprobe.Result `json:"syscalls,omitempty"`
	// Stdio is where descriptors 0, 1 and 2 lead (readlink).
	Stdio []string `json:"stdio"`
}

// IDs are a process's real and effective user ids, or why they are unknown.
type IDs struct {
	UID   int    `json:"uid"`
	EUID  int    `json:"euid"`
	Error string `json:"error,omitempty"`
}

// OwnIDs are the calling process's ids (what nsprobe -ids prints).
func OwnIDs() IDs { return IDs{UID: os.Getuid(), EUID: os.Geteuid()} }

// BindReport is one bind mount seen from inside.
type BindReport struct {
	Write, Exec, Remount  string
	NoSuid, NoDev, RdOnly bool
}

// Options name host objects the probe tries to reach.
type Options struct {
	HostPid int
	ShmKey  int
	// Mqueue is a host POSIX message queue name (without the leading /).
	Mqueue string
	Watch  string
	// Bind is a bind-mount destination to try; it holds an executable "exe".
	Bind string
	// Touch is a file to create (for host ownership checks).
	Touch string
	// Setuid is a setuid binary (a copy of nsprobe) to run with -ids.
	Setuid string
	// SetUTS is a name to set as hostname and domainname from inside.
	SetUTS string
	// OpenDev is a device node to open for reading.
	OpenDev string
	// MaskCheck are masked paths to describe (MaskReport).
	MaskCheck []string
	// Proc is where procfs is mounted inside (default /proc): the
	// probe's capability sets are read from there.
	Proc string
	// Syscalls: make sysprobe's calls (what a seccomp filter denies).
	Syscalls bool
}

func (o Options) procOrDefault() string {
	if o.Proc == "" {
		return "/proc"
	}
	return o.Proc
}

// Collect looks around. It never fails: what it cannot read stays empty.
func Collect(o Options) *Report {
	r := &Report{Pid: os.Getpid(), FDs: openFDs()}
	for fd := 0; fd <= 2; fd++ {
		l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if err != nil {
			l = "error: " + errText(err)
		}
		r.Stdio = append(r.Stdio, l)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			r.Procs = append(r.Procs, pid)
			cl := strings.ReplaceAll(strings.TrimRight(read("/proc/"+e.Name()+"/cmdline"), "\x00"), "\x00", " ")
			r.Cmdlines = append(r.Cmdlines, cl)
		}
	}
	r.UIDMap = squash(read("/proc/self/uid_map"))
	r.GIDMap = squash(read("/proc/self/gid_map"))
	r.Setgroup = strings.TrimSpace(read("/proc/self/setgroups"))
	st := status(o.procOrDefault())
	r.CapEff, r.CapPrm, r.CapBnd, r.CapInh, r.CapAmb, r.NoNewPrivs = st.CapEff, st.CapPrm, st.CapBnd, st.CapInh, st.CapAmb, st.NoNewPrivs
	r.Seccomp = st.Seccomp
	r.NetNS, _ = os.Readlink("/proc/self/ns/net")
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		r.Hostname = unix.ByteSliceToString(u.Nodename[:])
		r.Domainname = unix.ByteSliceToString(u.Domainname[:])
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			r.Interfaces = append(r.Interfaces, i.Name)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(read("/proc/self/cgroup")), "\n") {
		if l != "" {
			r.Cgroup = append(r.Cgroup, l)
		}
	}
	// getcwd(2) itself, not $PWD: it says "(unreachable)" for a cwd
	// outside the root.
	r.Cwd, _ = unix.Getwd()
	r.Root, r.RootParent, r.Proc1Root = devIno("/"), devIno("/.."), devIno("/proc/1/root")
	r.WalkOut = walkOut(r.Root, r.FDs)
	r.Mknod = errText(unix.Mknod("/dev/probe-mknod", unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	_ = os.Remove("/dev/probe-mknod")
	r.WriteSys = errText(os.WriteFile("/sys/kernel/probe", []byte("x"), 0o600))
	r.WriteReadonly = errText(os.WriteFile("/proc/sys/kernel/hostname", []byte("escaped"), 0))
	r.SetHostname = errText(unix.Sethostname([]byte(r.Hostname)))
	if o.HostPid > 0 {
		r.KillHost = errText(unix.Kill(o.HostPid, 0))
		if err := unix.PtraceAttach(o.HostPid); err != nil {
			r.PtraceHost = errText(err)
		} else {
			_ = unix.PtraceDetach(o.HostPid)
		}
	}
	if o.Mqueue != "" {
		r.MqLookup = errText(mqOpen(o.Mqueue, unix.O_RDONLY, 0))
	}
	if o.ShmKey != 0 {
		_, err := unix.SysvShmGet(o.ShmKey, 0, 0)
		r.ShmLookup = errText(err)
	}
	r.ProcFS = ProcFS("/proc")
	if data, err := os.ReadFile(filepath.Join(o.procOrDefault(), "self/attr/current")); err != nil {
		r.LSM = "error: " + errText(err)
	} else {
		r.LSM = strings.TrimRight(string(data), "\x00\n")
	}
	r.CgroupMounts = CgroupMounts()
	r.Masks = Masks(o.MaskCheck)
	// A successful escape changes the process's root: the looks above
	// must come before it.
	r.Chroot = chrootEscape()
	// kcore needs CAP_SYS_RAWIO anyway; timer_list is readable by root
	// unless masked, so it shows whether masking happened.
	for _, p := range []string{"/proc/kcore", "/proc/timer_list"} {
		if f, err := os.Open(p); err == nil {
			buf := make([]byte, 64)
			n, _ := f.Read(buf)
			r.MaskedBytes += n
			f.Close()
		}
	}
	if o.Bind != "" {
		b := &BindReport{}
		b.Write = errText(os.WriteFile(filepath.Join(o.Bind, "probe-write"), []byte("x"), 0o644))
		// access(X_OK) answers EACCES for a file on a noexec mount.
		b.Exec = errText(unix.Access(filepath.Join(o.Bind, "exe"), unix.X_OK))
		var st unix.Statfs_t
		if unix.Statfs(o.Bind, &st) == nil {
			b.NoSuid, b.NoDev, b.RdOnly = st.Flags&unix.ST_NOSUID != 0, st.Flags&unix.ST_NODEV != 0, st.Flags&unix.ST_RDONLY != 0
		}
		b.Remount = errText(unix.Mount("", o.Bind, "", unix.MS_REMOUNT|unix.MS_BIND, ""))
		r.Bind = b
	}
	if o.Setuid != "" {
		r.Setuid = runSetuid(o.Setuid)
	}
	if o.SetUTS != "" {
		err := unix.Sethostname([]byte(o.SetUTS))
		if err == nil {
			err = unix.Setdomainname([]byte(o.SetUTS))
		}
		r.SetUTS = errText(err)
	}
	if o.OpenDev != "" {
		fd, err := unix.Open(o.OpenDev, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		r.OpenDev = errText(err)
	}
	if o.Touch != "" {
		r.Touched = errText(os.WriteFile(o.Touch, []byte("x"), 0o644))
	}
	if o.Watch != "" {
		ents, _ := os.ReadDir(o.Watch)
		for _, e := range ents {
			r.Watch = append(r.Watch, e.Name())
		}
	}
	if o.Syscalls {
		r.Syscalls = sysprobe.RunAll()
	}
	return r
}

func read(p string) string {
	data, _ := os.ReadFile(p)
	return string(data)
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func errText(err error) string {
	if err == nil {
		return ""
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func devIno(p string) string {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return "error: " + errText(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// openFDs lists the descriptors open at start. It must run before anything
// else: Go's poller opens an epoll descriptor and an eventfd on the first
// os.Open, which would look like a leak. Raw syscalls keep it out.
func openFDs() []int {
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(dfd)
	buf := make([]byte, 8192)
	var fds []int
	for {
		n, err := unix.ReadDirent(dfd, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			if fd, err := strconv.Atoi(name); err == nil && fd != dfd {
				fds = append(fds, fd)
			}
		}
	}
	sort.Ints(fds)
	return fds
}

// walkOut changes into every directory the process inherited, its cwd and
// any directory descriptor, climbs ".." as far as it goes and reports where
// it ended when that is not root (the container's root, dev:ino). A
// runtime that leaves a host directory open (runc's CVE-2024-21626 leaked
// one of the host's cgroup directories) or a cwd outside the new root lets
// the process walk to the host's root this way.
func walkOut(root string, fds []int) []string {
	back, err := unix.Open(".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{"open cwd: " + errText(err)}
	}
	defer unix.Close(back)
	defer unix.Fchdir(back)
	paths := []string{"/proc/self/cwd"}
	for _, fd := range fds {
		paths = append(paths, "/proc/self/fd/"+strconv.Itoa(fd))
	}
	var out []string
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		if unix.Chdir(p) != nil {
			continue
		}
		for i := 0; i < 64; i++ {
			_ = unix.Chdir("..")
		}
		if at := devIno("."); at != root {
			out = append(out, p+" leads to "+at)
		}
		_ = unix.Fchdir(back)
	}
	return out
}

// runSetuid runs a setuid copy of nsprobe with -ids and returns the ids it
// ran with: with no_new_privs the exec must not have raised them.
func runSetuid(path string) *IDs {
	out, err := exec.Command(path, "-ids").Output()
	if err != nil {
		return &IDs{UID: -1, EUID: -1, Error: fmt.Sprintf("run %s -ids: %v", path, err)}
	}
	var ids IDs
	if err := json.Unmarshal(out, &ids); err != nil {
		return &IDs{UID: -1, EUID: -1, Error: fmt.Sprintf("parse %s -ids output %q: %v", path, out, err)}
	}
	return &ids
}

// chrootEscape tries the classic chroot-in-chroot escape and reports
// "escaped" if it saw a root other than its own, else the error that
// stopped it (EPERM without CAP_SYS_CHROOT).
func chrootEscape() string {
	dir, err := os.MkdirTemp("/tmp", "probe-chroot-")
	if err != nil {
		dir = "/dev/shm"
	} else {
		defer os.Remove(dir)
	}
	before := devIno("/")
	cwd, _ := os.Open("/")
	if cwd != nil {
		defer cwd.Close()
	}
	if err := unix.Chroot(dir); err != nil {
		return errText(err)
	}
	// Walk up from the old root, now outside the new one.
	if cwd != nil {
		_ = unix.Fchdir(int(cwd.Fd()))
	}
	for i := 0; i < 64; i++ {
		_ = unix.Chdir("..")
	}
	_ = unix.Chroot(".")
	after := devIno("/")
	if after != before {
		return "escaped to " + after + " from " + before + " (" + filepath.Clean("/") + ")"
	}
	return "contained"
}

// mqOpen opens (or with O_CREAT makes) a POSIX message queue and closes it
// again; x/sys/unix has no wrapper. name has no leading slash, as the
// system call wants it.
func mqOpen(name string, flags int, mode uint32) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	fd, _, errno := unix.Syscall6(unix.SYS_MQ_OPEN, uintptr(unsafe.Pointer(p)), uintptr(flags), uintptr(mode), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return unix.Close(int(fd))
}

// MqCreate makes a host message queue for the ipc check; MqUnlink removes it.
func MqCreate(name string) error { return mqOpen(name, unix.O_CREAT|unix.O_RDONLY, 0o600) }

// MqUnlink removes a message queue made by MqCreate.
func MqUnlink(name string) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_MQ_UNLINK, uintptr(unsafe.Pointer(p)), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// MarkerFromInside is the file MountInside puts on the tmpfs it mounts.
const MarkerFromInside = "from-inside"

// MountInside mounts a tmpfs on dir holding MarkerFromInside, then writes
// done (which must lie outside dir) with the mount's error, empty when it
// worked. done tells the host when to look whether the mount reached it;
// writing it even on failure keeps the host from waiting for nothing.
func MountInside(dir, done string) error {
	err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k")
	if err != nil {
		err = fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	} else if werr := os.WriteFile(filepath.Join(dir, MarkerFromInside), nil, 0o644); werr != nil {
		err = fmt.Errorf("write marker in %s: %w", dir, werr)
	}
	// Renamed into place so that the host never reads it half-written.
	if werr := atomicfile.Write(done, []byte(errText(err)), 0o644); werr != nil {
		return werr
	}
	return err
}
