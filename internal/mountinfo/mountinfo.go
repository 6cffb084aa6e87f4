// Package mountinfo parses /proc/PID/mountinfo, the kernel's mount table of
// a mount namespace. It is the one parser of that file in nsbench: the
// runtime (cgroup hierarchies, the propagation of the rootfs's parent), the
// perf engines' clean-up and the conformance suite's leftover checks all
// read it through here.
//
// It is written here rather than taken from a library such as
// moby/sys/mountinfo: the parser is a hundred lines, the runtime's init
// reads it before pivot_root and so wants nothing beyond the standard
// library, and the fuzz target checks our own escaping both ways (a parsed
// table prints back to the same text), which a library's parser alone
// cannot offer.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of mountinfo (see proc(5)). Paths are unescaped.
type Mount struct {
	ID, Parent int
	// Major:Minor of the filesystem's device ("0:25").
	Device string
	// Root is the path inside the filesystem mounted at Mountpoint ("/"
	// unless a subtree was bind-mounted).
	Root       string
	Mountpoint string
	// Options are the per-mount options ("rw,nosuid,relatime").
	Options string
	// Optional are the tagged fields: "shared:N", "master:N",
	// "propagate_from:N", "unbindable".
	Optional []string
	FSType   string
	Source   string
	// SuperOptions are the per-superblock options (for cgroup v1, the
	// controllers).
	SuperOptions string
}

// Shared tells whether the mount is in a shared peer group.
func (m *Mount) Shared() bool {
	for _, o := range m.Optional {
		if strings.HasPrefix(o, "shared:") {
			return true
		}
	}
	return false
}

// String prints the mount as the kernel does, escapes included: Parse of
// the result gives m back.
func (m *Mount) String() string {
	fields := []string{
		strconv.Itoa(m.ID), strconv.Itoa(m.Parent), m.Device, Escape(m.Root), Escape(m.Mountpoint), m.Options,
	}
	fields = append(fields, m.Optional...)
	fields = append(fields, "-", m.FSType, Escape(m.Source), m.SuperOptions)
	return strings.Join(fields, " ")
}

// Under tells whether the mount point is dir or lies below it.
func (m *Mount) Under(dir string) bool { return within(m.Mountpoint, dir) }

// within: p is dir or below it (both clean and absolute).
func within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}

// Parse reads a mountinfo text. A malformed line is an error naming it:
// the kernel never writes one, so it means the input is not mountinfo.
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	// A line holds up to four paths of PATH_MAX each.
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		m, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("parse mountinfo line %d %q: %w", n, sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

func parseLine(line string) (Mount, error) {
	f := strings.Split(line, " ")
	// 6 fixed fields, optional ones, "-", then 3 more.
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 10 || sep < 0 {
		return Mount{}, fmt.Errorf("want 6 fields, optional ones, \"-\" and 3 more")
	}
	if len(f) != sep+4 {
		return Mount{}, fmt.Errorf("want 3 fields after \"-\", got %d", len(f)-sep-1)
	}
	var m Mount
	var err error
	if m.ID, err = strconv.Atoi(f[0]); err != nil || m.ID < 0 {
		return Mount{}, fmt.Errorf("mount id %q is not a number", f[0])
	}
	if m.Parent, err = strconv.Atoi(f[1]); err != nil || m.Parent < 0 {
		return Mount{}, fmt.Errorf("parent id %q is not a number", f[1])
	}
	if !validDevice(f[2]) {
		return Mount{}, fmt.Errorf("device %q is not major:minor", f[2])
	}
	m.Device, m.Options, m.FSType, m.SuperOptions = f[2], f[5], f[sep+1], f[sep+3]
	if m.Options == "" || m.FSType == "" {
		return Mount{}, fmt.Errorf("empty options or filesystem type")
	}
	for i, p := range []*string{&m.Root, &m.Mountpoint, &m.Source} {
		raw := []string{f[3], f[4], f[sep+2]}[i]
		if *p, err = Unescape(raw); err != nil {
			return Mount{}, err
		}
	}
	if m.Root == "" || m.Mountpoint == "" {
		return Mount{}, fmt.Errorf("empty root or mount point")
	}
	for _, o := range f[6:sep] {
		if o == "" {
			return Mount{}, fmt.Errorf("empty optional field")
		}
		m.Optional = append(m.Optional, o)
	}
	return m, nil
}

func validDevice(s string) bool {
	maj, min, ok := strings.Cut(s, ":")
	_, err1 := strconv.ParseUint(maj, 10, 32)
	_, err2 := strconv.ParseUint(min, 10, 32)
	return ok && err1 == nil && err2 == nil
}

// escaped are the bytes the kernel writes as \ooo in mountinfo's paths
// (fs/proc_namespace.c: " \t\n\\", and "#" too in a source). Escaping "#"
// everywhere still parses back to the same path.
const escaped = " \t\n\\#"

// Unescape undoes the kernel's octal escapes (\040 for a space). A
// backslash not followed by three octal digits of a byte is an error.
func Unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("path %q: truncated escape at byte %d", s, i)
		}
		v, err := strconv.ParseUint(s[i+1:i+4], 8, 8)
		if err != nil {
			return "", fmt.Errorf("path %q: bad escape %q at byte %d", s, s[i:i+4], i)
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), nil
}

// Escape writes s as the kernel does in mountinfo.
func Escape(s string) string {
	if !strings.ContainsAny(s, escaped) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(escaped, s[i]) >= 0 {
			fmt.Fprintf(&b, `\%03o`, s[i])
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Read parses the mount table of process pid ("self" for the caller).
func Read(pid string) ([]Mount, error) {
	path := "/proc/" + pid + "/mountinfo"
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	ms, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ms, nil
}

// Self parses the calling process's mount table.
func Self() ([]Mount, error) { return Read("self") }

// Holding returns the mount whose mount point is the longest prefix of
// path: the mount path lies on. The last such line wins, as the kernel
// lists a mount stacked on another after it.
func Holding(ms []Mount, path string) (Mount, bool) {
	best, found := Mount{}, false
	for _, m := range ms {
		if within(path, m.Mountpoint) && len(m.Mountpoint) >= len(best.Mountpoint) {
			best, found = m, true
		}
	}
	return best, found
}
