package probe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What the probe reports for the hostile-image invariants. It never writes
// anything it looks at: whether a write would be allowed is read from the
// file's type and mount, or from whether an open for writing succeeds
// (closed again at once).

// MaskReport is one masked path as the container sees it.
type MaskReport struct {
	Path string `json:"path"`
	// Kind is "char 1:3" for /dev/null, else what the path is.
	Kind string `json:"kind"`
	// WriteOpen is the error of opening it for writing, empty when that
	// succeeded (nothing is written either way).
	WriteOpen string `json:"writeOpen"`
}

// Masks describes each of paths (those that exist).
func Masks(paths []string) []MaskReport {
	var out []MaskReport
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			continue
		}
		m := MaskReport{Path: p, Kind: kind(st)}
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		m.WriteOpen = errText(err)
		out = append(out, m)
	}
	return out
}

func kind(st unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return fmt.Sprintf("char %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFREG:
		return fmt.Sprintf("regular file, dev %d:%d ino %d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	}
	return fmt.Sprintf("mode %#o", st.Mode)
}

// ProcFS says what /proc is: "procfs" when it is the root of a procfs
// mount, else what was found there.
func ProcFS(dir string) string {
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		return "error: " + errText(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "error: " + errText(err)
	}
	if sfs.Type == unix.PROC_SUPER_MAGIC && st.Ino == 1 {
		return "procfs"
	}
	return fmt.Sprintf("filesystem %#x, inode %d", sfs.Type, st.Ino)
}

// CgroupMounts lists the cgroup and cgroup2 mounts of the process as
// "mountpoint options" from its mountinfo.
func CgroupMounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{"error: " + errText(err)}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 6 || len(b) < 1 || (b[0] != "cgroup" && b[0] != "cgroup2") {
			continue
		}
		out = append(out, a[4]+" "+a[5])
	}
	return out
}

// ExeReport is what /proc/PID/exe of a process led to.
type ExeReport struct {
	// DevIno is "dev:ino" of the file, as stat shows it on the host.
	DevIno string `json:"devIno,omitempty"`
	// FSType is the filesystem's magic number, ReadOnly its ST_RDONLY.
	FSType   string `json:"fsType,omitempty"`
	ReadOnly bool   `json:"readOnly"`
	// Sealed: a memfd whose F_SEAL_WRITE is set.
	Sealed bool `json:"sealed"`
	// Error is why it could not be opened (then it is out of reach).
	Error string `json:"error,omitempty"`
}

// Exe opens path (a /proc/PID/exe) for reading only and describes the file.
func Exe(path string) ExeReport {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ExeReport{Error: errText(err)}
	}
	defer unix.Close(fd)
	var r ExeReport
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return ExeReport{Error: "fstat: " + errText(err)}
	}
	r.DevIno = fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err == nil {
		r.FSType = fmt.Sprintf("%#x", sfs.Type)
		r.ReadOnly = sfs.Flags&unix.ST_RDONLY != 0
	}
	if seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0); err == nil {
		r.Sealed = seals&unix.F_SEAL_WRITE != 0
	}
	return r
}

// HookReport is what a startContainer hook from the image saw.
type HookReport struct {
	UID, EUID                              int
	CapEff, CapPrm, CapBnd, CapInh, CapAmb uint64
	NoNewPrivs                             bool
	// ParentExe is its parent's /proc/PID/exe: the runtime's process that
	// runs the hook.
	ParentExe ExeReport `json:"parentExe"`
}

// Hook runs as an OCI hook: it reads the state from stdin, looks at its
// own privileges and its parent's executable, and writes its report to
// out, renamed into place whole. It tries nothing with its privileges: a
// runtime that wrongly ran it in the host's namespaces must not have a
// probe changing the host.
func Hook(stdin io.Reader, out string) error {
	_, _ = io.Copy(io.Discard, stdin)
	r := HookReport{UID: os.Getuid(), EUID: os.Geteuid()}
	st := status("/proc")
	r.CapEff, r.CapPrm, r.CapBnd, r.CapInh, r.CapAmb, r.NoNewPrivs = st.CapEff, st.CapPrm, st.CapBnd, st.CapInh, st.CapAmb, st.NoNewPrivs
	r.ParentExe = Exe("/proc/" + strconv.Itoa(os.Getppid()) + "/exe")
	return WriteReport(out, r)
}

// WriteReport writes v as JSON to path, renamed into place whole, so the
// host never reads half a report.
func WriteReport(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// procStatus is the part of /proc/self/status the probe reports.
type procStatus struct {
	CapEff, CapPrm, CapBnd, CapInh, CapAmb uint64
	NoNewPrivs                             bool
	// Seccomp is the seccomp mode: 0 none, 2 a filter.
	Seccomp string
}

// status reads the process's capability sets, no_new_privs and seccomp
// mode from the procfs at proc.
func status(proc string) procStatus {
	var s procStatus
	for _, line := range strings.Split(read(filepath.Join(proc, "self/status")), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		n, _ := strconv.ParseUint(v, 16, 64)
		switch k {
		case "CapEff":
			s.CapEff = n
		case "CapPrm":
			s.CapPrm = n
		case "CapBnd":
			s.CapBnd = n
		case "CapInh":
			s.CapInh = n
		case "CapAmb":
			s.CapAmb = n
		case "NoNewPrivs":
			s.NoNewPrivs = v == "1"
		case "Seccomp":
			s.Seccomp = v
		}
	}
	return s
}
