package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/genjson"
	"github.com/nsbench/nsbench/runtime/seccomp"
)

// Load reads bundleDir/config.json. JSON errors name the line.
func Load(bundleDir string) (*specs.Spec, error) {
	path := filepath.Join(bundleDir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read bundle config %s: %w (make one with `nsrun spec`)", path, err)
	}
	return Parse(path, data)
}

// Parse decodes the text of a config.json; path names it in errors. One
// JSON object and nothing after it: text after the object (a second
// object pasted in, a stray brace) would otherwise be ignored.
func Parse(path string, data []byte) (*specs.Spec, error) {
	s, d := decode(data)
	if err := d.Err(); err != nil {
		var te *genjson.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("parse %s: line %d: field %s: %w", path, lineOf(data, te.Offset), te.Field, err)
		}
		return nil, fmt.Errorf("parse %s: line %d: %w", path, lineOf(data, d.Offset()), err)
	}
	if !d.End() {
		return nil, fmt.Errorf("parse %s: line %d: text after the configuration's JSON object (one object per config.json)", path, lineOf(data, d.Offset()))
	}
	return s, nil
}

//go:generate go run ./internal/jsongen/gen -o json_gen.go

// decode decodes a config with the generated decoders (json_gen.go):
// encoding/json's result without its reflection, which costs a process
// that decodes or encodes one config about 1 ms of CPU (nsrun, and again
// its init, each on a container's start path). The decoder tells whether
// it ended in an error, and where.
func decode(data []byte) (*specs.Spec, *genjson.Decoder) {
	var s specs.Spec
	d := genjson.New(data)
	if !d.Null() {
		decodeSpec(d, &s)
	}
	return &s, d
}

// Encode encodes s byte for byte as json.Marshal does, with the generated
// encoders; nil is null.
func Encode(s *specs.Spec) ([]byte, error) {
	var e genjson.Encoder
	if s == nil {
		e.Raw("null")
	} else {
		encodeSpec(&e, s)
	}
	if err := e.Err(); err != nil {
		return nil, err
	}
	return e.Bytes(), nil
}

// DecodeRaw decodes a config embedded in other JSON (json.RawMessage): an
// absent one or null is nil, as encoding/json leaves a *specs.Spec.
func DecodeRaw(data []byte) (*specs.Spec, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	return Decode(data)
}

// Decode decodes one config from data, as json.Unmarshal would.
func Decode(data []byte) (*specs.Spec, error) {
	s, d := decode(data)
	if err := d.Err(); err != nil {
		return nil, err
	}
	if !d.End() {
		return nil, fmt.Errorf("text after the configuration's JSON object at offset %d", d.Offset())
	}
	return s, nil
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return strings.Count(string(data[:off]), "\n") + 1
}

// Error is a problem in a bundle's config: Field is the JSON path
// ("linux.uidMappings[1]"), Msg what is wrong and how to fix it.
type Error struct {
	Field, Msg string
	// Source names the file; empty means config.json.
	Source string
}

func (e *Error) Error() string {
	src := e.Source
	if src == "" {
		src = "config.json"
	}
	return src + ": " + e.Field + ": " + e.Msg
}

func bad(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace: true, specs.NetworkNamespace: true, specs.MountNamespace: true, specs.IPCNamespace: true,
	specs.UTSNamespace: true, specs.UserNamespace: true, specs.CgroupNamespace: true, specs.TimeNamespace: true,
}

// MountFlags maps the mount options the runtime knows to their flags; the
// second value says whether the option clears the flag.
var MountFlags = map[string]struct {
	Clear bool
	Flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"bind": {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"nosymfollow": {false, unix.MS_NOSYMFOLLOW},
}

// PropagationFlags are the propagation options of mounts and of
// linux.rootfsPropagation.
var PropagationFlags = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// Signals maps signal names, with and without "SIG", to numbers.
func Signal(name string) (unix.Signal, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "" {
		return 0, errors.New("empty signal name")
	}
	if v, err := parseUint(n); err == nil {
		if v == 0 || v > 64 {
			return 0, fmt.Errorf("signal %s out of range 1-64", name)
		}
		return unix.Signal(v), nil
	}
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if s := unix.SignalNum(n); s != 0 {
		return s, nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name such as TERM, SIGKILL or a number)", name)
}

func parseUint(s string) (uint64, error) {
	var v uint64
	if s == "" {
		return 0, errors.New("empty")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		v = v*10 + uint64(c-'0')
		if v > 1<<20 {
			return 0, errors.New("too large")
		}
	}
	return v, nil
}

var rlimits = map[string]bool{
	"RLIMIT_AS": true, "RLIMIT_CORE": true, "RLIMIT_CPU": true, "RLIMIT_DATA": true, "RLIMIT_FSIZE": true,
	"RLIMIT_LOCKS": true, "RLIMIT_MEMLOCK": true, "RLIMIT_MSGQUEUE": true, "RLIMIT_NICE": true,
	"RLIMIT_NOFILE": true, "RLIMIT_NPROC": true, "RLIMIT_RSS": true, "RLIMIT_RTPRIO": true,
	"RLIMIT_RTTIME": true, "RLIMIT_SIGPENDING": true, "RLIMIT_STACK": true,
}

// Rlimit returns the resource number of an RLIMIT_ name.
func Rlimit(name string) (int, bool) {
	m := map[string]int{
		"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
		"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": 10,
		"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
		"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
		"RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": unix.RLIMIT_STACK,
	}
	v, ok := m[name]
	return v, ok
}

// Validate checks everything the runtime can check before it touches the
// host. bundleDir resolves a relative root.path.
func Validate(s *specs.Spec, bundleDir string) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if !strings.HasPrefix(s.Version, "1.") {
		add(bad("ociVersion", "%q is not a 1.x runtime-spec version (use e.g. %q)", s.Version, specs.Version))
	}
	if s.Root == nil || s.Root.Path == "" {
		add(bad("root.path", "missing: name the root filesystem directory (usually \"rootfs\")"))
	} else if _, err := RootfsPath(s, bundleDir); err != nil {
		add(err)
	}
	if s.Process == nil {
		add(bad("process", "missing: nsrun runs a process; give process.args"))
	} else {
		add(validateProcess(s.Process))
	}
	if s.Linux == nil {
		add(bad("linux", "missing: nsrun runs Linux containers only"))
	} else {
		add(validateLinux(s))
	}
	for i, m := range s.Mounts {
		add(validateMount(fmt.Sprintf("mounts[%d]", i), m))
	}
	for _, err := range validateExtras(s) {
		add(err)
	}
	if s.Hooks != nil {
		for name, hs := range map[string][]specs.Hook{
			//lint:ignore SA1019 legacy prestart hooks are still valid config and are run
			"prestart": s.Hooks.Prestart, "createRuntime": s.Hooks.CreateRuntime, "createContainer": s.Hooks.CreateContainer,
			"startContainer": s.Hooks.StartContainer, "poststart": s.Hooks.Poststart, "poststop": s.Hooks.Poststop,
		} {
			for i, h := range hs {
				add(validateHook(fmt.Sprintf("hooks.%s[%d]", name, i), name, h))
			}
		}
	}
	return errors.Join(errs...)
}

// RootfsPath returns the root filesystem directory of s: root.path, taken
// relative to the bundle directory (itself resolved) when not absolute. A
// root.path that is, or passes through, a symlink is refused, as runc
// refuses it: the link could make any directory of the host the
// container's root.
func RootfsPath(s *specs.Spec, bundleDir string) (string, error) {
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		base, err := filepath.EvalSymlinks(bundleDir)
		if err != nil {
			return "", bad("root.path", "resolve the bundle directory %s: %v", bundleDir, err)
		}
		root = filepath.Join(base, root)
	}
	root = filepath.Clean(root)
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", bad("root.path", "%s: %v (create the root filesystem there)", root, err)
	}
	if err := rootSymlink(root, real); err != nil {
		return "", err
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", bad("root.path", "%s: %v", root, err)
	}
	if !st.IsDir() {
		return "", bad("root.path", "%s is not a directory", root)
	}
	return real, nil
}

func validateProcess(p *specs.Process) error {
	var errs []error
	errs = append(errs, unconfinable(p)...)
	if len(p.Args) == 0 || p.Args[0] == "" {
		errs = append(errs, bad("process.args", "empty: give the program to run, e.g. [\"sh\"]"))
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		errs = append(errs, bad("process.cwd", "%q must be an absolute path", p.Cwd))
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") {
			errs = append(errs, bad(fmt.Sprintf("process.env[%d]", i), "%q is not NAME=value", e))
		}
	}
	seen := map[string]bool{}
	for i, r := range p.Rlimits {
		f := fmt.Sprintf("process.rlimits[%d]", i)
		switch {
		case !rlimits[r.Type]:
			errs = append(errs, bad(f, "unknown rlimit type %q (use RLIMIT_NOFILE, RLIMIT_NPROC, ...)", r.Type))
		case seen[r.Type]:
			errs = append(errs, bad(f, "%s given twice", r.Type))
		case r.Soft > r.Hard:
			errs = append(errs, bad(f, "%s soft limit %d above hard limit %d", r.Type, r.Soft, r.Hard))
		}
		seen[r.Type] = true
	}
	// Unknown capability names are not refused: runc skips them with a
	// warning (a config written for a newer kernel), and so does nsrun
	// (runtime.normalize).
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		errs = append(errs, bad("process.oomScoreAdj", "%d outside -1000..1000", *p.OOMScoreAdj))
	}
	return errors.Join(errs...)
}

func validateLinux(s *specs.Spec) error {
	l := s.Linux
	var errs []error
	errs = append(errs, unlabelable(l)...)
	seen := map[specs.LinuxNamespaceType]bool{}
	userns := false
	for i, ns := range l.Namespaces {
		f := fmt.Sprintf("linux.namespaces[%d]", i)
		if !namespaceTypes[ns.Type] {
			errs = append(errs, bad(f, "unknown namespace type %q (pid, network, mount, ipc, uts, user, cgroup, time)", ns.Type))
			continue
		}
		if seen[ns.Type] {
			errs = append(errs, bad(f, "namespace %q listed twice", ns.Type))
		}
		seen[ns.Type] = true
		if ns.Type == specs.UserNamespace && ns.Path == "" {
			// A joined user namespace has its maps already.
			userns = true
		}
		if ns.Path != "" {
			if !filepath.IsAbs(ns.Path) {
				errs = append(errs, bad(f+".path", "%q must be an absolute path (e.g. /proc/PID/ns/net)", ns.Path))
				continue
			}
			if _, err := os.Stat(ns.Path); err != nil {
				errs = append(errs, bad(f+".path", "%v", err))
			} else if ns.Type == specs.MountNamespace && sameFile(ns.Path, "/proc/self/ns/mnt") {
				// The rootfs is pivoted inside a joined mount namespace (as
				// runc does): in the runtime's own that is the host's root,
				// switched under every process of the host.
				errs = append(errs, bad(f+".path", "%s is the runtime's own mount namespace: the container's root would replace the root of every process in it; join another container's mount namespace or leave path empty for a new one", ns.Path))
			}
		}
	}
	if !seen[specs.MountNamespace] {
		errs = append(errs, bad("linux.namespaces", "no mount namespace: nsrun needs one to give the container its own root"))
	}
	if userns {
		if len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0 {
			errs = append(errs, bad("linux.uidMappings", "a user namespace needs uidMappings and gidMappings (map at least the container's root)"))
		}
	} else if !seen[specs.UserNamespace] && (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) {
		errs = append(errs, bad("linux.uidMappings", "id mappings given without a user namespace: add {\"type\": \"user\"} to linux.namespaces or drop the mappings"))
	}
	errs = append(errs, validateMappings("linux.uidMappings", l.UIDMappings), validateMappings("linux.gidMappings", l.GIDMappings))
	if l.RootfsPropagation != "" {
		if _, ok := PropagationFlags[l.RootfsPropagation]; !ok {
			errs = append(errs, bad("linux.rootfsPropagation", "%q is not one of private, rprivate, shared, rshared, slave, rslave, unbindable, runbindable", l.RootfsPropagation))
		}
	}
	for i, p := range append(append([]string(nil), l.MaskedPaths...), l.ReadonlyPaths...) {
		if !filepath.IsAbs(p) {
			errs = append(errs, bad(fmt.Sprintf("linux.maskedPaths/readonlyPaths[%d]", i), "%q must be absolute", p))
		}
	}
	for i, d := range l.Devices {
		f := fmt.Sprintf("linux.devices[%d]", i)
		if !filepath.IsAbs(d.Path) || !strings.HasPrefix(filepath.Clean(d.Path), "/dev/") {
			errs = append(errs, bad(f+".path", "%q must be an absolute path under /dev", d.Path))
		}
		if d.Type != "c" && d.Type != "b" && d.Type != "u" && d.Type != "p" {
			errs = append(errs, bad(f+".type", "%q is not c, b, u or p", d.Type))
		}
	}
	// A joined namespace counts as the container's own, as with runc
	// (which checks only that a joined network namespace is not its own).
	errs = append(errs, validateSysctl(l, func(t specs.LinuxNamespaceType) bool { return seen[t] })...)
	if r := l.Resources; r != nil {
		for i, d := range r.Devices {
			switch d.Type {
			case "", "a", "b", "c":
			default:
				errs = append(errs, bad(fmt.Sprintf("linux.resources.devices[%d].type", i), "%q is not a, b or c: device cgroup rules cover block and character devices only (runc refuses it too)", d.Type))
			}
		}
	}
	if s.Domainname != "" && !seen[specs.UTSNamespace] || s.Hostname != "" && !seen[specs.UTSNamespace] {
		errs = append(errs, bad("hostname", "setting hostname or domainname needs a uts namespace in linux.namespaces"))
	}
	if l.CgroupsPath != "" && strings.Contains(l.CgroupsPath, "..") {
		errs = append(errs, bad("linux.cgroupsPath", "%q must not contain \"..\"", l.CgroupsPath))
	}
	if err := seccomp.Validate(l.Seccomp); err != nil {
		var se *seccomp.Error
		if errors.As(err, &se) {
			err = bad(se.Field, "%s", se.Msg)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateMappings rejects empty ranges and ranges that overlap on either
// side: the kernel would refuse them, after the namespace already exists.
func validateMappings(field string, ms []specs.LinuxIDMapping) error {
	var errs []error
	for i, m := range ms {
		if m.Size == 0 {
			errs = append(errs, bad(fmt.Sprintf("%s[%d]", field, i), "size 0 maps nothing"))
		}
		for j := 0; j < i; j++ {
			o := ms[j]
			if overlap(m.ContainerID, m.Size, o.ContainerID, o.Size) {
				errs = append(errs, bad(fmt.Sprintf("%s[%d]", field, i), "containerID range %d+%d overlaps %s[%d]", m.ContainerID, m.Size, field, j))
			}
			if overlap(m.HostID, m.Size, o.HostID, o.Size) {
				errs = append(errs, bad(fmt.Sprintf("%s[%d]", field, i), "hostID range %d+%d overlaps %s[%d]", m.HostID, m.Size, field, j))
			}
		}
	}
	if len(ms) > 340 {
		errs = append(errs, bad(field, "%d ranges: the kernel accepts at most 340", len(ms)))
	}
	return errors.Join(errs...)
}

func overlap(a, an, b, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

func validateMount(field string, m specs.Mount) error {
	var errs []error
	if !filepath.IsAbs(m.Destination) {
		errs = append(errs, bad(field+".destination", "%q must be an absolute path inside the container", m.Destination))
	}
	bind := IsBind(m)
	for _, o := range m.Options {
		if o == "" || strings.ContainsAny(o, " \t\n") {
			errs = append(errs, bad(field+".options", "option %q is empty or has white space", o))
			continue
		}
		_, flag := MountFlags[o]
		_, prop := PropagationFlags[o]
		if _, rec := RecursiveFlags[o]; rec {
			flag = true
		}
		// key=value data is dropped with a warning (the kernel ignores it
		// on a bind, as with runc); a bare word that is no flag is refused,
		// so that a typo such as "readonly" cannot leave a writable mount.
		if bind && !flag && !prop && !IsData(o) && o != "idmap" && o != "ridmap" {
			errs = append(errs, bad(field+".options", "unknown option %q for a bind mount (bind mounts take flags such as ro, nosuid, nodev, noexec, rprivate)", o))
		}
	}
	if bind {
		if m.Source == "" || !filepath.IsAbs(m.Source) {
			errs = append(errs, bad(field+".source", "bind mount source %q must be an absolute host path", m.Source))
		} else if _, err := os.Stat(m.Source); err != nil {
			errs = append(errs, bad(field+".source", "%v", err))
		}
	} else if m.Type == "" {
		errs = append(errs, bad(field+".type", "missing: give a filesystem type (proc, tmpfs, ...) or \"bind\""))
	}
	return errors.Join(errs...)
}

func validateHook(field, kind string, h specs.Hook) error {
	if !filepath.IsAbs(h.Path) {
		return bad(field+".path", "%q must be an absolute path", h.Path)
	}
	if h.Timeout != nil && *h.Timeout <= 0 {
		return bad(field+".timeout", "%d: must be a positive number of seconds", *h.Timeout)
	}
	if kind == "startContainer" {
		// Resolved inside the container, which does not exist yet.
		return nil
	}
	st, err := os.Stat(h.Path)
	if err != nil {
		return bad(field+".path", "%v", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return bad(field+".path", "%s is not an executable file", h.Path)
	}
	return nil
}

// sameFile says whether a and b name the same inode (a namespace, here).
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
