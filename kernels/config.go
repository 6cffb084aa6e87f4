package kernels

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// notSet is the value a "# CONFIG_X is not set" line stands for.
const notSet = "n"

var (
	notSetLine = regexp.MustCompile(`^# (CONFIG_[A-Za-z0-9_]+) is not set$`)
	symbolName = regexp.MustCompile(`^CONFIG_[A-Za-z0-9_]+$`)
)

// ParseConfig reads Kconfig assignments ("CONFIG_X=y", "# CONFIG_X is not
// set") into symbol -> value; other comments and blank lines are skipped. A
// later assignment wins, as in Kconfig. name is used in errors.
func ParseConfig(name, text string) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if m := notSetLine.FindStringSubmatch(line); m != nil {
			out[m[1]] = notSet
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sym, val, ok := strings.Cut(line, "=")
		// Kconfig itself ignores a line whose symbol is not a name
		// ("CONFIG_A =y"): the option would silently not be set.
		if !ok || !symbolName.MatchString(sym) || val == "" {
			return nil, fmt.Errorf("%s:%d: %q is not a Kconfig assignment (want CONFIG_X=value or \"# CONFIG_X is not set\")", name, n, line)
		}
		out[sym] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// Mismatch is a requested option that did not stick after olddefconfig.
type Mismatch struct {
	Symbol, Want, Got string
	// Why is what Kconfig says the symbol depends on, when the source tree
	// was at hand to ask.
	Why string
}

func (m Mismatch) String() string {
	s := fmt.Sprintf("%s: requested %s, got %s", m.Symbol, m.Want, m.Got)
	if m.Why != "" {
		s += " (" + m.Why + ")"
	}
	return s
}

// Check compares the requested options with the final configuration and
// returns every one that did not stick, sorted by symbol. An option
// requested "n" is satisfied by its absence.
func Check(requested, final map[string]string) []Mismatch {
	var out []Mismatch
	for sym, want := range requested {
		got, ok := final[sym]
		if !ok {
			got = notSet
		}
		if normalise(got) != normalise(want) {
			out = append(out, Mismatch{Symbol: sym, Want: want, Got: got})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Symbol < out[j].Symbol })
	return out
}

func normalise(v string) string { return strings.Trim(v, `"`) }

// CheckError lists the requested options that Kconfig dropped.
type CheckError struct {
	Config     string
	Mismatches []Mismatch
}

func (e *CheckError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kernel config %s: %d requested option(s) did not stick after olddefconfig:", e.Config, len(e.Mismatches))
	for _, m := range e.Mismatches {
		b.WriteString("\n  " + m.String())
	}
	b.WriteString("\nfix the fragment (or the missing dependency / toolchain) and build again")
	return b.String()
}

// explain fills Why from each symbol's Kconfig entry in the source tree:
// its "depends on" lines, the "if" blocks around it, and the "if" blocks
// around the "source" line that pulls its Kconfig file in (aufs sits in
// fs/Kconfig's "if MISC_FILESYSTEMS", which tinyconfig turns off). It
// reads only Kconfig files, and only when something failed.
func explain(srcDir, arch string, ms []Mismatch) {
	want := map[string]*Mismatch{}
	for i := range ms {
		want[strings.TrimPrefix(ms[i].Symbol, "CONFIG_")] = &ms[i]
	}
	// sourcedIn: Kconfig file (relative) -> the "if" blocks around the
	// line that sources it, and where that line is.
	type sourced struct {
		ifs  []string
		from string
	}
	sourcedIn := map[string]sourced{}
	fileOf := map[*Mismatch]string{}
	add := func(m *Mismatch, why string) {
		if m.Why != "" {
			m.Why += "; "
		}
		m.Why += why
	}
	_ = filepath.WalkDir(srcDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(srcDir, p)
		if d.IsDir() {
			if strings.HasPrefix(rel, "arch"+string(filepath.Separator)) && rel != "arch" && !strings.HasPrefix(rel, filepath.Join("arch", kernelArch(arch))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(d.Name(), "Kconfig") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		kf := parseKconfig(string(data))
		for _, e := range kf.entries {
			m := want[e.symbol]
			if m == nil {
				continue
			}
			fileOf[m] = rel
			for _, c := range e.ifs {
				add(m, "inside \"if "+c+"\" in "+rel)
			}
			for _, d := range e.depends {
				add(m, d)
			}
		}
		for _, src := range kf.sources {
			sourcedIn[src.file] = sourced{src.ifs, rel}
		}
		return nil
	})
	for i := range ms {
		if _, ok := fileOf[&ms[i]]; !ok {
			// Kconfig drops unknown symbols without a word.
			add(&ms[i], "no Kconfig entry for "+arch+" in this tree: removed, renamed or another arch's")
		}
	}
	for m, file := range fileOf {
		if s, ok := sourcedIn[file]; ok {
			for _, c := range s.ifs {
				add(m, file+" is sourced inside \"if "+c+"\" in "+s.from)
			}
		}
	}
}

// kconfigEntry is one "config" or "menuconfig" entry of a Kconfig file:
// the symbol (without CONFIG_), the "if" blocks around it and its
// "depends on" lines.
type kconfigEntry struct {
	symbol  string
	ifs     []string
	depends []string
}

// kconfigSource is a "source" line inside "if" blocks.
type kconfigSource struct {
	file string
	ifs  []string
}

// kconfigFile is what explain reads from one Kconfig file.
type kconfigFile struct {
	entries []kconfigEntry
	sources []kconfigSource
}

// parseKconfig reads the entries and the guarded source lines of a Kconfig
// file. Help texts are free prose ("if you say Y here..."): they are
// skipped, up to the first line indented less than the text's first line;
// the "depends on" lines of choices, menus and comments are not a
// symbol's.
func parseKconfig(text string) kconfigFile {
	var kf kconfigFile
	cur := -1
	var ifs []string
	inHelp, helpIndent := false, -1
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if inHelp {
			if t == "" {
				continue
			}
			ind := indent(line)
			if helpIndent < 0 {
				helpIndent = ind
			}
			if ind >= helpIndent {
				continue
			}
			inHelp = false
		}
		f := strings.Fields(t)
		switch {
		case t == "help" || t == "---help---":
			inHelp, helpIndent = true, -1
		case len(f) >= 1 && (f[0] == "choice" || f[0] == "endchoice" || f[0] == "menu" || f[0] == "endmenu" || f[0] == "comment"):
			cur = -1
		case len(f) == 2 && (f[0] == "config" || f[0] == "menuconfig"):
			kf.entries = append(kf.entries, kconfigEntry{symbol: f[1], ifs: append([]string(nil), ifs...)})
			cur = len(kf.entries) - 1
		case len(f) >= 2 && f[0] == "if":
			ifs = append(ifs, strings.Join(f[1:], " "))
			cur = -1
		case len(f) >= 1 && f[0] == "endif":
			if len(ifs) > 0 {
				ifs = ifs[:len(ifs)-1]
			}
			cur = -1
		case len(f) == 2 && f[0] == "source" && len(ifs) > 0:
			kf.sources = append(kf.sources, kconfigSource{strings.Trim(f[1], `"`), append([]string(nil), ifs...)})
		case cur >= 0 && strings.HasPrefix(t, "depends on "):
			kf.entries[cur].depends = append(kf.entries[cur].depends, t)
		}
	}
	return kf
}

// indent is a line's leading white space in columns, tabs to 8.
func indent(line string) int {
	n := 0
	for _, r := range line {
		switch r {
		case ' ':
			n++
		case '\t':
			n += 8 - n%8
		default:
			return n
		}
	}
	return n
}
