package debpkg

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// File is one file of a resolved binary in the guest: a regular file
// copied from Source, or a symlink (Link) as the package ships it.
type File struct {
	Path   string // absolute path in the guest
	Source string // host path of the content; empty for a symlink
	Link   string
	Mode   os.FileMode
}

// Roots are unpacked package trees, searched in order as if they were one
// root filesystem (what the guest will see).
type Roots []string

// RootsOf returns the unpacked trees of pkgs.
func RootsOf(pkgs []*Package) Roots {
	rs := make(Roots, 0, len(pkgs))
	for _, p := range pkgs {
		rs = append(rs, p.Root)
	}
	return rs
}

// maxLinks bounds symlink chains, as the kernel's ELOOP does.
const maxLinks = 40

// Lookup finds guestPath in the roots, following symlinks across them the
// way the guest will. It returns the links on the way and the host path
// of the final regular file.
func (rs Roots) Lookup(guestPath string) ([]File, string, error) {
	var links []File
	p := path.Clean("/" + guestPath)
	for hop := 0; hop < maxLinks; hop++ {
		found := false
		for _, r := range rs {
			host := filepath.Join(r, p)
			st, err := os.Lstat(host)
			if err != nil {
				continue
			}
			found = true
			if st.Mode()&fs.ModeSymlink == 0 {
				if !st.Mode().IsRegular() {
					return nil, "", fmt.Errorf("look up %s: %s is not a regular file", guestPath, host)
				}
				return links, host, nil
			}
			target, err := os.Readlink(host)
			if err != nil {
				return nil, "", fmt.Errorf("look up %s: %w", guestPath, err)
			}
			links = append(links, File{Path: p, Link: target})
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(p), target)
			}
			p = path.Clean(target)
			break
		}
		if !found {
			return nil, "", fmt.Errorf("look up %s: %w in %d package tree(s)", p, fs.ErrNotExist, len(rs))
		}
	}
	return nil, "", fmt.Errorf("look up %s: more than %d symlinks", guestPath, maxLinks)
}

// MissingLibError names every shared library that no package provided,
// and which object needed it.
type MissingLibError struct {
	Arch    string
	Missing []string // "libfoo.so.1 (needed by /usr/bin/tool)"
}

func (e *MissingLibError) Error() string {
	return fmt.Sprintf("shared libraries for %s not found in the given packages: %s (add the Debian package that ships each)", e.Arch, strings.Join(e.Missing, ", "))
}

// machine is the ELF machine of a Debian arch.
func machine(arch string) elf.Machine {
	if arch == "arm64" {
		return elf.EM_AARCH64
	}
	return elf.EM_X86_64
}

// Resolve returns the binaries (guest paths inside the roots), their
// program interpreter and every shared library they need, recursively,
// as files to put into a guest of arch. Libraries are searched like
// ld.so does without a cache: DT_RPATH/DT_RUNPATH ($ORIGIN expanded), then
// the multiarch and plain lib directories. Every DT_NEEDED must be found,
// or a *MissingLibError names each missing one.
func Resolve(rs Roots, arch Arch, binaries ...string) ([]File, error) {
	files := map[string]File{}
	add := func(links []File, host, guest string) {
		for _, l := range links {
			files[l.Path] = l
		}
		st, err := os.Stat(host)
		mode := os.FileMode(0o755)
		if err == nil {
			mode = st.Mode().Perm()
		}
		files[guest] = File{Path: guest, Source: host, Mode: mode}
	}
	defaults := []string{"/lib/" + arch.Triplet, "/usr/lib/" + arch.Triplet, "/lib", "/usr/lib"}
	type object struct{ guest, host string }
	var queue []object
	done := map[string]bool{}
	var missing []string
	for _, b := range binaries {
		links, host, err := rs.Lookup(b)
		if err != nil {
			return nil, fmt.Errorf("resolve %s for %s: %w", b, arch.Name, err)
		}
		final := b
		if len(links) > 0 {
			final = resolvedPath(links)
		}
		add(links, host, final)
		queue = append(queue, object{final, host})
	}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		if done[o.host] {
			continue
		}
		done[o.host] = true
		interp, needed, search, err := readELF(o.host, machine(arch.Name))
		if err != nil {
			return nil, fmt.Errorf("resolve libraries of %s (%s): %w", o.guest, o.host, err)
		}
		if interp != "" {
			links, host, err := rs.Lookup(interp)
			if err != nil {
				missing = append(missing, fmt.Sprintf("%s (interpreter of %s)", interp, o.guest))
			} else {
				add(links, host, resolvedPathOr(links, interp))
				queue = append(queue, object{resolvedPathOr(links, interp), host})
			}
		}
		dirs := make([]string, 0, len(search)+len(defaults))
		for _, s := range search {
			dirs = append(dirs, strings.ReplaceAll(strings.ReplaceAll(s, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", path.Dir(o.guest)))
		}
		dirs = append(dirs, defaults...)
		for _, lib := range needed {
			found := false
			for _, d := range dirs {
				guest := path.Join(d, lib)
				links, host, err := rs.Lookup(guest)
				if err != nil {
					continue
				}
				add(links, host, resolvedPathOr(links, guest))
				queue = append(queue, object{resolvedPathOr(links, guest), host})
				found = true
				break
			}
			if !found {
				missing = append(missing, fmt.Sprintf("%s (needed by %s)", lib, o.guest))
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, &MissingLibError{Arch: arch.Name, Missing: dedupe(missing)}
	}
	out := make([]File, 0, len(files))
	for _, f := range files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// resolvedPath is where the last link of a chain points.
func resolvedPath(links []File) string {
	last := links[len(links)-1]
	if path.IsAbs(last.Link) {
		return path.Clean(last.Link)
	}
	return path.Join(path.Dir(last.Path), last.Link)
}

func resolvedPathOr(links []File, p string) string {
	if len(links) == 0 {
		return p
	}
	return resolvedPath(links)
}

// readELF returns an ELF file's program interpreter, DT_NEEDED entries and
// DT_RPATH/DT_RUNPATH directories, and checks it is built for machine.
func readELF(host string, machine elf.Machine) (string, []string, []string, error) {
	f, err := elf.Open(host)
	if err != nil {
		return "", nil, nil, fmt.Errorf("open ELF %s: %w", host, err)
	}
	defer f.Close()
	if f.Machine != machine {
		return "", nil, nil, fmt.Errorf("%s is built for %s, want %s", host, f.Machine, machine)
	}
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				return "", nil, nil, fmt.Errorf("read PT_INTERP of %s: %w", host, err)
			}
			interp = strings.TrimRight(string(data), "\x00")
		}
	}
	needed, err := f.DynString(elf.DT_NEEDED)
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return "", nil, nil, fmt.Errorf("read DT_NEEDED of %s: %w", host, err)
	}
	var search []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			search = append(search, strings.Split(v, ":")...)
		}
	}
	return interp, needed, search, nil
}
