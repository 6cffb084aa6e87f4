package images

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/guest"
)

// Tool is a program of the guest's arch taken from a Debian package, with
// every shared library it needs.
type Tool struct {
	Package string // Debian package
	Path    string // where the package installs it (and where the guest finds it)
}

// Guest paths of the default tools.
const (
	GuestRunc   = "/usr/sbin/runc"
	GuestCrun   = "/usr/bin/crun"
	GuestFio    = "/usr/bin/fio"
	GuestIperf3 = "/usr/bin/iperf3"
)

// DefaultTools are the other OCI runtimes the suite runs against and the
// perf smoke's fio and iperf3.
func DefaultTools() []Tool {
	return []Tool{
		{"runc", GuestRunc},
		{"crun", GuestCrun},
		{"fio", GuestFio},
		{"iperf3", GuestIperf3},
	}
}

// toolEntries fetches the tools' packages and the library packages they
// depend on, and returns the tools, their loader and their libraries as
// archive entries at the paths Debian installs them.
func toolEntries(ctx context.Context, repo *debpkg.Repo, tools []Tool) ([]Entry, error) {
	if len(tools) == 0 {
		return nil, nil
	}
	var names, bins []string
	for _, t := range tools {
		names = append(names, t.Package)
		bins = append(bins, t.Path)
	}
	closure, err := repo.LibClosure(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("dependencies of %v for %s: %w", names, repo.Arch.Name, err)
	}
	pkgs, err := repo.Fetch(ctx, closure...)
	if err != nil {
		return nil, fmt.Errorf("fetch tools for %s: %w", repo.Arch.Name, err)
	}
	files, err := debpkg.Resolve(debpkg.RootsOf(pkgs), repo.Arch, bins...)
	if err != nil {
		return nil, fmt.Errorf("tools for the %s guest: %w", repo.Arch.Name, err)
	}
	es := make([]Entry, 0, len(files))
	for _, f := range files {
		if f.Link != "" {
			es = append(es, Entry{Path: f.Path, Link: f.Link})
			continue
		}
		data, err := os.ReadFile(f.Source)
		if err != nil {
			return nil, fmt.Errorf("read %s for %s: %w", f.Source, f.Path, err)
		}
		// Libraries ship 0644; the loader and programs need x, the rest
		// does no harm with it.
		es = append(es, Entry{Path: f.Path, Mode: f.Mode | 0o555, Data: data})
	}
	return es, nil
}

// moduleEntries puts the modules under guest.ModuleDir and their names, in
// load order, into guest.ModuleList for the guest init.
func moduleEntries(mods []Module) ([]Entry, error) {
	if len(mods) == 0 {
		return nil, nil
	}
	var list strings.Builder
	es := make([]Entry, 0, len(mods)+1)
	for _, m := range mods {
		data, err := os.ReadFile(m.Path)
		if err != nil {
			return nil, fmt.Errorf("read module %s: %w", m.Path, err)
		}
		es = append(es, Entry{Path: path.Join(guest.ModuleDir, m.Name+".ko"), Mode: 0o644, Data: data})
		list.WriteString(m.Name + "\n")
	}
	return append(es, Entry{Path: guest.ModuleList, Mode: 0o644, Data: []byte(list.String())}), nil
}
