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

var notSetLine = regexp.MustCompile(`^# (CONFIG_[A-Za-z0-9_]+) is not set$`)

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
		if !ok || !strings.HasPrefix(sym, "CONFIG_") || val == "" {
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

// explain fills Why from the "depends on" and "select"-ers lines of each
// symbol's Kconfig entry in the source tree. It reads only Kconfig files, and
// only when something failed.
func explain(srcDir, arch string, ms []Mismatch) {
	want := map[string]*Mismatch{}
	for i := range ms {
		want[strings.TrimPrefix(ms[i].Symbol, "CONFIG_")] = &ms[i]
	}
	_ = filepath.WalkDir(srcDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(srcDir, p); strings.HasPrefix(rel, "arch"+string(filepath.Separator)) && rel != "arch" && !strings.HasPrefix(rel, filepath.Join("arch", kernelArch(arch))) {
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
		var cur *Mismatch
		for _, line := range strings.Split(string(data), "\n") {
			t := strings.TrimSpace(line)
			if f := strings.Fields(t); len(f) == 2 && (f[0] == "config" || f[0] == "menuconfig") {
				cur = want[f[1]]
				continue
			}
			if cur != nil && strings.HasPrefix(t, "depends on ") {
				if cur.Why != "" {
					cur.Why += "; "
				}
				cur.Why += t
			}
		}
		return nil
	})
}
