// Package images builds what an nsbench VM guest boots: the compressed
// initramfs (busybox, the guest init, this module's static programs, test
// binaries and Debian's tools of the guest's arch) and, for programs too big
// for it, a read-only ext4 tool disk (disk.go). The archive is reproducible
// (sorted entries, fixed times and owners), so the same inputs give the same
// bytes; both are cached by content hash.
package images

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/debpkg"
)

// Entry is one file of the archive: a regular file (Data), a symlink
// (Link) or, with neither, a directory.
type Entry struct {
	Path string
	Mode os.FileMode
	Data []byte
	Link string
}

// Write writes entries as a gzip-compressed newc cpio archive. Entries are
// sorted, parent directories added, and every time, owner and gzip header
// field fixed, so the same entries always give the same bytes.
func Write(w io.Writer, entries []Entry) error {
	byPath := map[string]Entry{}
	for _, e := range entries {
		p := strings.TrimPrefix(path.Clean("/"+e.Path), "/")
		e.Path = p
		byPath[p] = e
		for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = Entry{Path: d, Mode: os.ModeDir | 0o755}
			}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	gz.ModTime = time.Time{}
	cw := cpio.NewWriter(gz)
	for _, p := range paths {
		e := byPath[p]
		h := &cpio.Header{Name: p, ModTime: time.Unix(0, 0)}
		var body []byte
		switch {
		case e.Link != "":
			h.Mode = cpio.TypeSymlink | 0o777
			body = []byte(e.Link)
		case e.Mode.IsDir() || (e.Data == nil && e.Mode&os.ModeDir != 0):
			h.Mode = cpio.TypeDir | cpio.FileMode(e.Mode.Perm())
		default:
			h.Mode = cpio.TypeReg | cpio.FileMode(e.Mode.Perm())
			body = e.Data
		}
		h.Size = int64(len(body))
		if err := cw.WriteHeader(h); err != nil {
			return fmt.Errorf("write cpio header for %s: %w", p, err)
		}
		if _, err := cw.Write(body); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// Options select what a guest image holds.
type Options struct {
	// Arch is x86_64 or arm64.
	Arch string
	// CacheDir keeps built images by content hash; empty means
	// $NSBENCH_CACHE/images or /var/cache/nsbench/images.
	CacheDir string
	// Busybox is a static busybox for Arch; empty means the one in
	// Debian's busybox-static of Arch, fetched through DebCache.
	Busybox string
	// DebCache keeps Debian packages of the guest's arch; empty means
	// debpkg.DefaultCacheDir().
	DebCache string
	// Mirror is the Debian mirror the packages come from (Debian 12,
	// whatever the host runs); empty means debpkg.DefaultMirror.
	Mirror string
	// Tools are programs of the guest's arch from Debian packages, put in
	// with their shared libraries (DefaultTools: runc, crun, fio, iperf3).
	Tools []Tool
	// Modules are kernel modules the guest init loads, in this order.
	Modules []Module
	// Programs are this module's static programs for the guest, by guest
	// path: GuestInit, GuestNsrun, ... (see Programs), built for Arch by
	// the caller (cmd/: internal/gobuild), plus any test binary.
	Programs map[string]string
	// Log receives apt's progress; nil discards it.
	Log io.Writer
}

// Module is a kernel module for the guest: its name and the host path of
// its uncompressed .ko.
type Module struct {
	Name, Path string
}

// GOARCH of a guest arch.
func goarch(arch string) (string, error) {
	switch arch {
	case "x86_64", "":
		return "amd64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("unknown guest arch %q: want x86_64 or arm64", arch)
}

// Paths inside the image.
const (
	GuestInit        = "/init"
	GuestNsrun       = "/usr/local/bin/nsrun"
	GuestProbe       = "/usr/local/bin/nsprobe"
	GuestNsnet       = "/usr/local/bin/nsnet"
	GuestNsbench     = "/usr/local/bin/nsbench"
	GuestCPU         = "/usr/local/bin/nsbench-cpu"
	GuestConformance = "/tests/conformance.test"
)

// Programs are the module's commands every guest image carries, by guest
// path, named as internal/gobuild knows them: the init, nsrun, nsnet, the
// probe, and nsbench with its CPU workload (the guest side of a kernel
// benchmark run).
func Programs() map[string]string {
	return map[string]string{GuestInit: "nsinit", GuestNsrun: "nsrun", GuestProbe: "nsprobe", GuestNsnet: "nsnet",
		GuestNsbench: "nsbench", GuestCPU: "nsbench-cpu"}
}

// Build makes (or finds in the cache) the image with busybox, the given
// programs and tools, and returns its path. Every program of Programs must
// be given.
func Build(ctx context.Context, o Options) (string, error) {
	ga, err := goarch(o.Arch)
	if err != nil {
		return "", err
	}
	for gp, name := range Programs() {
		if o.Programs[gp] == "" {
			return "", fmt.Errorf("guest image: no %s binary given for %s", name, gp)
		}
	}
	o.CacheDir = cacheDir(o.CacheDir)
	repo, err := debpkg.NewRepo(debpkg.Bookworm(o.Mirror), ga, o.DebCache, o.Log)
	if err != nil {
		return "", err
	}
	bb := o.Busybox
	if bb == "" {
		// Debian's busybox-static of the guest's arch, on every arch, so
		// the image does not depend on what the host has installed.
		pkgs, err := repo.Fetch(ctx, "busybox-static")
		if err != nil {
			return "", fmt.Errorf("busybox for the %s guest: %w", o.Arch, err)
		}
		bb = filepath.Join(pkgs[0].Root, "bin", "busybox")
	}
	entries, err := baseEntries(bb)
	if err != nil {
		return "", err
	}
	tools, err := toolEntries(ctx, repo, o.Tools)
	if err != nil {
		return "", err
	}
	entries = append(entries, tools...)
	mods, err := moduleEntries(o.Modules)
	if err != nil {
		return "", err
	}
	entries = append(entries, mods...)
	for guestPath, hostPath := range o.Programs {
		data, err := os.ReadFile(hostPath)
		if err != nil {
			return "", err
		}
		entries = append(entries, Entry{Path: guestPath, Mode: 0o755, Data: data})
	}
	var buf bytes.Buffer
	if err := Write(&buf, entries); err != nil {
		return "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	out := filepath.Join(o.CacheDir, hex.EncodeToString(sum[:12])+"-"+o.Arch+".cpio.gz")
	if _, err := os.Stat(out); err == nil {
		// Used now: prune keeps the recently used ones.
		now := time.Now()
		_ = os.Chtimes(out, now, now)
		return out, nil
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create image cache %s: %w", o.CacheDir, err)
	}
	if err := atomicfile.Write(out, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	// With the tools an image is ~55 MB, and every change to the suite
	// makes a new one: keep only the newest few per arch.
	pruneGlob(o.CacheDir, "*-"+o.Arch+".cpio.gz", keepImages)
	return out, nil
}

// keepImages is how many images per arch the cache keeps.
const keepImages = 3

// pruneGlob removes all but the newest keep files matching pattern from
// dir. A VM that still boots a removed image keeps its open file.
func pruneGlob(dir, pattern string, keep int) {
	matches, _ := filepath.Glob(filepath.Join(dir, pattern))
	type img struct {
		path string
		mod  time.Time
	}
	var imgs []img
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil {
			imgs = append(imgs, img{m, st.ModTime()})
		}
	}
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].mod.After(imgs[j].mod) })
	for i := keep; i < len(imgs); i++ {
		_ = os.Remove(imgs[i].path)
	}
}

// baseEntries are busybox, the directories and the /etc files a guest
// needs. The guest init makes busybox's applet links (busybox --install),
// and /bin/sh here, for scripts that run before it.
func baseEntries(busybox string) ([]Entry, error) {
	data, err := os.ReadFile(busybox)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", busybox, err)
	}
	es := []Entry{{Path: "/bin/busybox", Mode: 0o755, Data: data}, {Path: "/bin/sh", Link: "/bin/busybox"}}
	for _, d := range []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/share", "/root"} {
		es = append(es, Entry{Path: d, Mode: os.ModeDir | 0o755})
	}
	es = append(es,
		Entry{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnsbench-user:x:1000:1000::/tmp:/bin/sh\n")},
		Entry{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnsbench-user:x:1000:\n")},
	)
	return es, nil
}
