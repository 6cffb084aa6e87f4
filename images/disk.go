package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/debpkg"
)

// A tool disk carries what is too big for the initramfs: the container
// engines (dockerd, containerd, podman, conmon: ~250 MB) would be unpacked
// into the guest's RAM and then copied into its tmpfs root, so every
// megabyte would count twice. The disk is a read-only ext4 image the guest
// mounts and lays over its own root, directory by directory (Disk.Tops),
// so the tools sit at the paths Debian installs them.

// DiskOptions select what a tool disk holds.
type DiskOptions struct {
	// Arch, CacheDir, DebCache, Mirror and Log mean what they mean in
	// Options; the disks are cached beside the images.
	Arch, CacheDir, DebCache, Mirror string
	Log                              io.Writer
	// Tools are programs, put in with their shared libraries.
	Tools []Tool
	// Files are other files of the same packages (configuration), put in
	// as the package ships them.
	Files []Tool
}

// Disk is a built tool disk.
type Disk struct {
	// Path is the ext4 image.
	Path string
	// Tops are the disk's top-level directories ("etc", "usr", ...): the
	// guest lays each over its own directory of that name.
	Tops []string
}

// BuildDisk makes (or finds in the cache, by the hash of its contents) the
// tool disk of o.
func BuildDisk(ctx context.Context, o DiskOptions) (*Disk, error) {
	ga, err := goarch(o.Arch)
	if err != nil {
		return nil, err
	}
	if len(o.Tools)+len(o.Files) == 0 {
		return nil, fmt.Errorf("tool disk for %s: no tools or files given", o.Arch)
	}
	o.CacheDir = cacheDir(o.CacheDir)
	repo, err := debpkg.NewRepo(debpkg.Bookworm(o.Mirror), ga, o.DebCache, o.Log)
	if err != nil {
		return nil, err
	}
	entries, err := toolEntries(ctx, repo, o.Tools)
	if err != nil {
		return nil, err
	}
	files, err := fileEntries(ctx, repo, o.Files)
	if err != nil {
		return nil, err
	}
	entries = append(entries, files...)
	// The archive form is canonical (sorted, fixed times and owners): its
	// hash names the disk, whose own bytes mkfs makes differently each time.
	h := sha256.New()
	if err := Write(h, entries); err != nil {
		return nil, err
	}
	d := &Disk{Path: filepath.Join(o.CacheDir, hex.EncodeToString(h.Sum(nil)[:12])+"-"+o.Arch+".ext4"), Tops: tops(entries)}
	if _, err := os.Stat(d.Path); err == nil {
		now := time.Now()
		_ = os.Chtimes(d.Path, now, now)
		return d, nil
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create image cache %s: %w", o.CacheDir, err)
	}
	if err := makeExt4(ctx, d.Path, entries); err != nil {
		return nil, err
	}
	pruneGlob(o.CacheDir, "*-"+o.Arch+".ext4", keepDisks)
	return d, nil
}

// keepDisks is how many tool disks per arch the cache keeps (~300 MB each).
const keepDisks = 2

func cacheDir(dir string) string {
	if dir != "" {
		return dir
	}
	if c := os.Getenv("NSBENCH_CACHE"); c != "" {
		return filepath.Join(c, "images")
	}
	return "/var/cache/nsbench/images"
}

// fileEntries are the named files of their packages, symlinks followed the
// way the guest will.
func fileEntries(ctx context.Context, repo *debpkg.Repo, files []Tool) ([]Entry, error) {
	if len(files) == 0 {
		return nil, nil
	}
	var names []string
	for _, f := range files {
		if !slices.Contains(names, f.Package) {
			names = append(names, f.Package)
		}
	}
	pkgs, err := repo.Fetch(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("fetch %v for %s: %w", names, repo.Arch.Name, err)
	}
	roots := debpkg.RootsOf(pkgs)
	var es []Entry
	for _, f := range files {
		links, host, err := roots.Lookup(f.Path)
		if err != nil {
			return nil, fmt.Errorf("file %s of package %s: %w", f.Path, f.Package, err)
		}
		for _, l := range links {
			es = append(es, Entry{Path: l.Path, Link: l.Link})
		}
		data, err := os.ReadFile(host)
		if err != nil {
			return nil, fmt.Errorf("read %s for %s: %w", host, f.Path, err)
		}
		target := f.Path
		if len(links) > 0 {
			last := links[len(links)-1]
			target = last.Link
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(last.Path), target)
			}
		}
		es = append(es, Entry{Path: target, Mode: 0o644, Data: data})
	}
	return es, nil
}

// tops are the top-level directories of entries.
func tops(entries []Entry) []string {
	seen := map[string]bool{}
	for _, e := range entries {
		p := strings.TrimPrefix(path.Clean("/"+e.Path), "/")
		top, _, _ := strings.Cut(p, "/")
		seen[top] = true
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// makeExt4 writes entries into a staging tree and makes an ext4 image of
// it with mkfs.ext4 -d (no loop mount, nothing mounted on the host). The
// disk is only ever read: no journal, no reserved blocks.
func makeExt4(ctx context.Context, out string, entries []Entry) (err error) {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		return fmt.Errorf("make the tool disk: %w (apt-get install e2fsprogs)", err)
	}
	stage, err := os.MkdirTemp(filepath.Dir(out), ".stage-")
	if err != nil {
		return fmt.Errorf("tool disk: %w", err)
	}
	defer os.RemoveAll(stage)
	var size int64
	for _, e := range entries {
		p := filepath.Join(stage, path.Clean("/"+e.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("tool disk: %w", err)
		}
		switch {
		case e.Link != "":
			_ = os.Remove(p)
			if err := os.Symlink(e.Link, p); err != nil {
				return fmt.Errorf("tool disk: %w", err)
			}
		case e.Data == nil && e.Mode.IsDir():
			if err := os.MkdirAll(p, e.Mode.Perm()); err != nil {
				return fmt.Errorf("tool disk: %w", err)
			}
		default:
			// Chmod too: the umask must not change the mode.
			if err := os.WriteFile(p, e.Data, e.Mode.Perm()); err != nil {
				return fmt.Errorf("tool disk: %w", err)
			}
			if err := os.Chmod(p, e.Mode.Perm()); err != nil {
				return fmt.Errorf("tool disk: %w", err)
			}
			size += int64(len(e.Data))
		}
	}
	// Room for ext4's metadata and each file's last block.
	mib := (size*5/4)>>20 + 32 + int64(len(entries))/256
	tmp := out + ".tmp"
	defer os.Remove(tmp)
	cmd := exec.CommandContext(ctx, mkfs, "-q", "-F", "-L", "nsbench-tools", "-O", "^has_journal", "-m", "0",
		"-E", "root_owner=0:0", "-d", stage, tmp, strconv.FormatInt(mib, 10)+"M")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 -d %s %s: %w: %s", stage, tmp, err, strings.TrimSpace(string(b)))
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("tool disk: %w", err)
	}
	return nil
}
