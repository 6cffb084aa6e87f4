// Package hostdeps knows which distribution packages each purpose of
// nsbench (bench, test, kernel, vm) needs on each supported host release,
// from one table (mk/packages.tsv), and installs the missing ones with apt
// only after checking that every one of them exists on this host: a host
// that lacks a package gets a message saying which, for what, and what to
// do, before anything is installed.
package hostdeps

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

// Table is the parsed package table.
type Table struct {
	// Releases are the host releases the table has a column for, in order
	// ("debian-12", "debian-13", "ubuntu-24.04").
	Releases []string
	Rows     []Row
}

// Row is one package.
type Row struct {
	Purposes []string
	Package  string
	// Names per release: the name there, or "" when it has none.
	Names map[string]string
	// Optional marks the releases ("~" in the table) that have no such
	// package and do without it: what needs it skips, saying why.
	Optional map[string]bool
	Note     string
	Line     int
}

// ParseTable reads the table. name is used in error messages.
func ParseTable(name string, r io.Reader) (*Table, error) {
	t := &Table{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "#purposes") {
			f := strings.Fields(line)
			if len(f) < 3 {
				return nil, fmt.Errorf("%s:%d: header names no release columns", name, n)
			}
			t.Releases = f[2:]
			continue
		}
		body, note, _ := strings.Cut(line, "#")
		f := strings.Fields(body)
		if len(f) == 0 {
			continue
		}
		if t.Releases == nil {
			return nil, fmt.Errorf("%s:%d: package line before the #purposes header", name, n)
		}
		if len(f) != 2+len(t.Releases) {
			return nil, fmt.Errorf("%s:%d: %d columns, want %d (purposes, package, %s)", name, n, len(f), 2+len(t.Releases), strings.Join(t.Releases, ", "))
		}
		row := Row{Purposes: strings.Split(f[0], ","), Package: f[1], Names: map[string]string{}, Note: strings.TrimSpace(note), Line: n}
		for i, rel := range t.Releases {
			switch v := f[2+i]; v {
			case "=":
				row.Names[rel] = row.Package
			case "-":
				row.Names[rel] = ""
			case "~":
				row.Names[rel] = ""
				if row.Optional == nil {
					row.Optional = map[string]bool{}
				}
				row.Optional[rel] = true
			default:
				row.Names[rel] = v
			}
		}
		t.Rows = append(t.Rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if t.Releases == nil {
		return nil, fmt.Errorf("%s: no #purposes header line", name)
	}
	return t, nil
}

// Purposes lists every purpose the table names, sorted.
func (t *Table) Purposes() []string {
	var out []string
	for _, r := range t.Rows {
		for _, p := range r.Purposes {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Need is one package a host must have.
type Need struct {
	Name     string   // the host release's package name
	Purposes []string // which of the asked purposes need it
}

// Unavailable is a package a release has no name for.
type Unavailable struct {
	Package, Note string
	Purposes      []string
	// Optional: the purposes go on without it (the table's "~").
	Optional bool
}

// Required returns the packages of u that a purpose cannot do without.
func Required(u []Unavailable) []Unavailable {
	var out []Unavailable
	for _, x := range u {
		if !x.Optional {
			out = append(out, x)
		}
	}
	return out
}

// ReleaseError is a host the table has no column for.
type ReleaseError struct {
	Release string
	Known   []string
}

func (e *ReleaseError) Error() string {
	return fmt.Sprintf("host release %q has no column in the package table (known: %s); set NSBENCH_HOST_RELEASE to the nearest known release to use its package names, or add a column", e.Release, strings.Join(e.Known, ", "))
}

// Packages returns what release needs for purposes: the packages by their
// names there, sorted, and those it has none for. An unknown purpose or
// release is an error.
func (t *Table) Packages(release string, purposes ...string) ([]Need, []Unavailable, error) {
	if !slices.Contains(t.Releases, release) {
		return nil, nil, &ReleaseError{Release: release, Known: t.Releases}
	}
	known := t.Purposes()
	for _, p := range purposes {
		if !slices.Contains(known, p) {
			return nil, nil, fmt.Errorf("unknown purpose %q: want one of %s", p, strings.Join(known, ", "))
		}
	}
	byName := map[string]*Need{}
	var missing []Unavailable
	for _, r := range t.Rows {
		var why []string
		for _, p := range purposes {
			if slices.Contains(r.Purposes, p) {
				why = append(why, p)
			}
		}
		if len(why) == 0 {
			continue
		}
		name := r.Names[release]
		if name == "" {
			missing = append(missing, Unavailable{Package: r.Package, Note: r.Note, Purposes: why, Optional: r.Optional[release]})
			continue
		}
		n := byName[name]
		if n == nil {
			n = &Need{Name: name}
			byName[name] = n
		}
		for _, w := range why {
			if !slices.Contains(n.Purposes, w) {
				n.Purposes = append(n.Purposes, w)
			}
		}
	}
	out := make([]Need, 0, len(byName))
	for _, n := range byName {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, missing, nil
}

// Release names a host from its /etc/os-release: "<ID>-<VERSION_ID>", e.g.
// debian-12, debian-13, ubuntu-24.04. Debian testing/sid has no VERSION_ID
// and is named "debian-<VERSION_CODENAME>".
func Release(osRelease []byte) (string, error) {
	kv := map[string]string{}
	for _, line := range strings.Split(string(osRelease), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		kv[k] = strings.Trim(v, `"'`)
	}
	id := kv["ID"]
	if id == "" {
		return "", fmt.Errorf("os-release has no ID= line")
	}
	ver := kv["VERSION_ID"]
	if ver == "" {
		ver = kv["VERSION_CODENAME"]
	}
	if ver == "" {
		return "", fmt.Errorf("os-release of %s has neither VERSION_ID nor VERSION_CODENAME", id)
	}
	return id + "-" + ver, nil
}

// UnavailableError lists the packages a host lacks, with what to do.
type UnavailableError struct {
	Release  string
	Packages []Unavailable
}

func (e *UnavailableError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s has no package for:", e.Release)
	for _, u := range e.Packages {
		fmt.Fprintf(&b, "\n  %s (needed for %s)", u.Package, strings.Join(u.Purposes, ", "))
		if u.Note != "" {
			fmt.Fprintf(&b, ": %s", u.Note)
		}
	}
	b.WriteString("\nnothing was installed")
	return b.String()
}

// Apt is the host's package manager as hostdeps uses it.
type Apt struct {
	// Log receives apt's output while installing; nil discards it.
	Log io.Writer
}

// Installed reports which of names dpkg has installed, by that name or
// as a package another installed one provides: on GitHub's Ubuntu image
// Docker's containerd.io provides runc, and installing Ubuntu's runc would
// remove it and docker-ce.
func (a Apt) Installed(ctx context.Context, names []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(names) == 0 {
		return out, nil
	}
	cmd := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Provides}\n")
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	stdout, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-query -W: %w", err)
	}
	have := parseInstalled(stdout)
	for _, n := range names {
		if have[n] {
			out[n] = true
		}
	}
	return out, nil
}

// parseInstalled reads "name<TAB>status<TAB>provides" lines: the names of
// installed ("ii") packages and of what they provide.
func parseInstalled(out []byte) map[string]bool {
	have := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, "\t", 3)
		// "ii" is installed; "rc" (removed, config left) and the rest are not.
		if len(f) < 2 || strings.TrimSpace(f[1]) != "ii" {
			continue
		}
		name, _, _ := strings.Cut(f[0], ":")
		have[name] = true
		if len(f) == 3 {
			for _, p := range strings.Split(f[2], ",") {
				if fs := strings.Fields(p); len(fs) > 0 {
					have[fs[0]] = true
				}
			}
		}
	}
	return have
}

// Removals returns the installed packages apt would remove to install
// names (apt-get install --simulate), sorted.
func (a Apt) Removals(ctx context.Context, names []string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "--simulate", "-q", "--no-install-recommends"}, names...)...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apt-get install --simulate %s: %w: %s", strings.Join(names, " "), err, tail(stderr.String(), 10))
	}
	return parseRemovals(stdout), nil
}

// parseRemovals reads apt's simulation: "Remv name [version]" lines.
func parseRemovals(out []byte) []string {
	var rm []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Remv" {
			rm = append(rm, f[1])
		}
	}
	sort.Strings(rm)
	return rm
}

// Candidates reports which of names apt can install (has a candidate
// version for). apt-cache policy names each package it knows; a name with
// "Candidate: (none)" or no paragraph at all cannot be installed.
func (a Apt) Candidates(ctx context.Context, names []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(names) == 0 {
		return out, nil
	}
	cmd := exec.CommandContext(ctx, "apt-cache", append([]string{"policy"}, names...)...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache policy: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parsePolicy(stdout), nil
}

// parsePolicy reads apt-cache policy: "name:" lines start a package,
// "  Candidate: X" gives its candidate.
func parsePolicy(out []byte) map[string]bool {
	res := map[string]bool{}
	cur := ""
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && line[0] != ' ' && strings.HasSuffix(line, ":") {
			cur, _, _ = strings.Cut(strings.TrimSuffix(line, ":"), ":")
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok && cur != "" {
			res[cur] = strings.TrimSpace(v) != "(none)"
		}
	}
	return res
}

// Update runs apt-get update.
func (a Apt) Update(ctx context.Context) error {
	return a.run(ctx, "apt-get", "update", "-q")
}

// Install installs names, without recommends. apt-get reads a name that
// matches no package as a pattern (Debian 13 installed linux-source-6.12
// for linux-source-6.1), so Ensure installs only names Candidates found.
func (a Apt) Install(ctx context.Context, names []string) error {
	return a.run(ctx, "apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, names...)...)
}

func (a Apt) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	w := io.Writer(&out)
	if a.Log != nil {
		w = io.MultiWriter(&out, a.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out.String(), 20))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Ensure makes the host have needs: it fails before installing anything
// when the release has no package for one of them (unavail) or apt has no
// candidate for a missing one (after an apt-get update, as root). Not as
// root, it prints the apt-get line to run instead and returns nil, so the
// targets still run and the tests skip what they lack, saying why. It
// refuses to install what would make apt remove installed packages
// unless allowRemove.
func Ensure(ctx context.Context, a Apt, release, what string, needs []Need, unavail []Unavailable, root, allowRemove bool, w io.Writer) error {
	if req := Required(unavail); len(req) > 0 {
		return &UnavailableError{Release: release, Packages: req}
	}
	for _, u := range unavail {
		fmt.Fprintf(w, "deps (%s): %s has no %s; going on without it: %s\n", what, release, u.Package, u.Note)
	}
	names := make([]string, len(needs))
	for i, n := range needs {
		names[i] = n.Name
	}
	have, err := a.Installed(ctx, names)
	if err != nil {
		return err
	}
	var missing []Need
	for _, n := range needs {
		if !have[n.Name] {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	missNames := make([]string, len(missing))
	for i, n := range missing {
		missNames[i] = n.Name
	}
	cands, err := a.Candidates(ctx, missNames)
	if err != nil {
		return err
	}
	if root && !all(cands, missNames) {
		// A fresh host or container has no (or an old) package index.
		fmt.Fprintf(w, "deps (%s): apt-get update (no candidate yet for some of: %s)\n", what, strings.Join(missNames, " "))
		if err := a.Update(ctx); err != nil {
			return err
		}
		if cands, err = a.Candidates(ctx, missNames); err != nil {
			return err
		}
	}
	var none []Unavailable
	for _, n := range missing {
		if !cands[n.Name] {
			none = append(none, Unavailable{Package: n.Name, Purposes: n.Purposes,
				Note: "apt has no installation candidate on this host: enable the archive component that has it (Ubuntu: universe), run apt-get update, or install it by hand"})
		}
	}
	if len(none) > 0 {
		return &UnavailableError{Release: release, Packages: none}
	}
	if !root {
		fmt.Fprintf(w, "deps (%s): missing %s packages; run: sudo apt-get install -y --no-install-recommends %s\n", what, release, strings.Join(missNames, " "))
		return nil
	}
	rm, err := a.Removals(ctx, missNames)
	if err != nil {
		return err
	}
	if len(rm) > 0 && !allowRemove {
		return fmt.Errorf("installing %s would remove %s; nothing was installed: install them by hand if that is what you want, or set NSBENCH_DEPS_ALLOW_REMOVE=1 (a throw-away CI machine)", strings.Join(missNames, " "), strings.Join(rm, " "))
	}
	fmt.Fprintf(w, "deps (%s): installing %s\n", what, strings.Join(missNames, " "))
	return a.Install(ctx, missNames)
}

func all(m map[string]bool, names []string) bool {
	for _, n := range names {
		if !m[n] {
			return false
		}
	}
	return true
}
