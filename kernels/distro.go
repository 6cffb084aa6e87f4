package kernels

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/debpkg"
)

// Module is a kernel module the guest loads before its job, in order.
type Module struct {
	Name string `json:"name"`
	Path string `json:"path"` // uncompressed .ko on the host
}

// DistroModules are what the guests need from a distribution kernel that
// builds them as modules: the virtio PCI transport and 9p for the share,
// veth and bridge for nsnet, overlayfs, and virtio-blk with ext4 (and the
// crc32c ext4 asks for by name, not by dependency) for a benchmark's
// scratch disk. Names a kernel has built in are skipped; their
// dependencies come from each module's modinfo.
func DistroModules() []string {
	return []string{"virtio_pci", "virtio_mmio", "9pnet_virtio", "9p", "veth", "bridge", "overlay", "virtio_rng", "virtio_blk", "crc32c_generic", "ext4"}
}

// DistroOptions select Debian's prebuilt kernel for an arch.
type DistroOptions struct {
	Arch string // x86_64 or arm64
	// DebCache is debpkg's cache; empty means its default.
	DebCache string
	// Mirror is the Debian mirror the packages come from (Debian 12,
	// whatever the host runs); empty means debpkg.DefaultMirror.
	Mirror string
	// Modules to load in the guest; nil means DistroModules().
	Modules []string
	Log     io.Writer
}

// distroMeta is Debian's kernel metapackage of a guest arch: it depends
// on the current ABI's linux-image-<abi>-<flavour>.
func distroMeta(arch string) (string, bool) {
	switch arch {
	case "x86_64":
		return "linux-image-amd64", true
	case "arm64":
		return "linux-image-arm64", true
	}
	return "", false
}

// Distro fetches Debian's generic kernel for o.Arch (the "what users
// actually run" reference) and returns it with the modules the suite
// needs, dependencies first.
func Distro(ctx context.Context, o DistroOptions) (*Kernel, error) {
	meta, ok := distroMeta(o.Arch)
	if !ok {
		return nil, fmt.Errorf("distro kernel: unknown arch %q: want x86_64 or arm64", o.Arch)
	}
	repo, err := debpkg.NewRepo(debpkg.Bookworm(o.Mirror), o.Arch, o.DebCache, o.Log)
	if err != nil {
		return nil, err
	}
	if err := repo.Update(ctx); err != nil {
		return nil, err
	}
	info, err := repo.Show(ctx, meta)
	if err != nil {
		return nil, fmt.Errorf("distro kernel: %w", err)
	}
	var image string
	if m, ok := info[meta]; ok {
		for _, d := range m.Depends {
			if strings.HasPrefix(d, "linux-image-") {
				image = d
				break
			}
		}
	}
	if image == "" {
		return nil, fmt.Errorf("distro kernel: %s:%s names no linux-image-* package (apt-cache show %s:%s)", meta, repo.Arch.Name, meta, repo.Arch.Name)
	}
	pkgs, err := repo.Fetch(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("distro kernel: %w", err)
	}
	root := pkgs[0].Root
	vmlinuz, err := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if err != nil || len(vmlinuz) != 1 {
		return nil, fmt.Errorf("distro kernel: want one boot/vmlinuz-* in %s, found %v", root, vmlinuz)
	}
	release := strings.TrimPrefix(filepath.Base(vmlinuz[0]), "vmlinuz-")
	modDir := filepath.Join(root, "lib", "modules", release)
	names := o.Modules
	if names == nil {
		names = DistroModules()
	}
	mods, err := ModuleClosure(modDir, names, filepath.Join(filepath.Dir(root), "modules-"+filepath.Base(root)))
	if err != nil {
		return nil, fmt.Errorf("distro kernel %s: %w", release, err)
	}
	return &Kernel{
		Image: vmlinuz[0], Version: release + " (Debian " + pkgs[0].Version + ")", Variant: "distro", Arch: o.Arch,
		ConfigPath: filepath.Join(root, "boot", "config-"+release), Key: pkgs[0].Name + "_" + pkgs[0].Version,
		Modules: mods,
	}, nil
}

// modName is how the kernel names a module: file name without .ko and
// compression suffix, '-' read as '_'.
func modName(file string) string {
	base := filepath.Base(file)
	for _, s := range []string{".xz", ".zst", ".gz"} {
		base = strings.TrimSuffix(base, s)
	}
	return strings.ReplaceAll(strings.TrimSuffix(base, ".ko"), "-", "_")
}

// ModuleClosure returns the named modules of the tree modDir
// (lib/modules/<release>) and everything they depend on, dependencies
// before their users, as the guest must load them. Dependencies come
// from each module's .modinfo "depends=" (Debian ships no modules.dep:
// depmod writes it at install time). Modules built into the kernel
// (modules.builtin) are left out. Compressed modules are unpacked into
// unpackDir, because the guest init loads plain .ko files.
func ModuleClosure(modDir string, names []string, unpackDir string) ([]Module, error) {
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".ko") {
			files[modName(p)] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list modules in %s: %w", modDir, err)
	}
	builtin := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(modDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(data)) {
			builtin[modName(l)] = true
		}
	}
	var order []Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, by string) error
	visit = func(name, by string) error {
		name = strings.ReplaceAll(name, "-", "_")
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle through %s", name)
		case 2:
			return nil
		}
		if builtin[name] {
			state[name] = 2
			return nil
		}
		path, ok := files[name]
		if !ok {
			if by != "" {
				return fmt.Errorf("module %s (needed by %s) is neither in %s nor built in", name, by, modDir)
			}
			return fmt.Errorf("module %s is neither in %s nor built in", name, modDir)
		}
		state[name] = 1
		plain, err := uncompressed(path, unpackDir)
		if err != nil {
			return err
		}
		deps, err := modDepends(plain)
		if err != nil {
			return err
		}
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, Module{Name: name, Path: plain})
		return nil
	}
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// modDepends reads "depends=" from a module's .modinfo section.
func modDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .modinfo of %s: %w", path, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var out []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					out = append(out, d)
				}
			}
			return out, nil
		}
	}
	return nil, nil
}

// uncompressed returns path itself for a plain .ko, else the module
// unpacked into dir (xz and zstd through their tools, gzip in Go).
func uncompressed(path, dir string) (string, error) {
	var tool string
	switch {
	case strings.HasSuffix(path, ".ko"):
		return path, nil
	case strings.HasSuffix(path, ".ko.xz"):
		tool = "xz"
	case strings.HasSuffix(path, ".ko.zst"):
		tool = "zstd"
	case strings.HasSuffix(path, ".ko.gz"):
	default:
		return "", fmt.Errorf("module %s: unknown compression", path)
	}
	out := filepath.Join(dir, modName(path)+".ko")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	var data []byte
	var err error
	if tool == "" {
		data, err = gunzip(path)
	} else {
		data, err = exec.Command(tool, "-dc", path).Output()
	}
	if err != nil {
		return "", fmt.Errorf("decompress %s: %w", path, err)
	}
	if err := atomicfile.Write(out, data, 0o644); err != nil {
		return "", err
	}
	return out, nil
}

func gunzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(gz)
}
