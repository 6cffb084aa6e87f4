package kernels

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nsbench/nsbench/internal/testutil"
)

// FuzzParseConfig: any fragment is refused or parsed into Kconfig symbols
// (CONFIG_ and a name) with values, which written back as assignments parse
// to the same options; and the checker compares them with any final
// configuration without a panic, finding nothing missing against itself.
// Seeds: the fragments of kernels/configs.
func FuzzParseConfig(f *testing.F) {
	seed(f, "*.config")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseConfig("f.config", text)
		if err != nil {
			return
		}
		for sym := range m {
			if !symbolName.MatchString(sym) {
				t.Fatalf("accepted symbol %q", sym)
			}
		}
		back, err := ParseConfig("back.config", assignments(m, "%s=%s"))
		if err != nil {
			t.Fatalf("accepted options do not parse back: %v", err)
		}
		if diff := cmp.Diff(m, back); diff != "" {
			t.Fatalf("options change when written back:\n%s", diff)
		}
		if ms := Check(m, m); len(ms) > 0 {
			t.Fatalf("a configuration misses its own options: %v", ms)
		}
	})
}

// FuzzParseSysctls: the same for the sysctl files of a kernel variant.
func FuzzParseSysctls(f *testing.F) {
	seed(f, "*.sysctl")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseSysctls("f.sysctl", text)
		if err != nil {
			return
		}
		back, err := ParseSysctls("back.sysctl", assignments(m, "%s = %s"))
		if err != nil {
			t.Fatalf("accepted sysctls do not parse back: %v", err)
		}
		if diff := cmp.Diff(m, back); diff != "" {
			t.Fatalf("sysctls change when written back:\n%s", diff)
		}
	})
}

// seed adds the embedded fragments of kernels/configs (they are the
// kernel checker's fixtures) to f's corpus.
func seed(f *testing.F, pattern string) {
	paths, err := filepath.Glob(filepath.Join("configs", pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed matches kernels/configs/%s", pattern)
	}
	for _, p := range paths {
		f.Add(string(testutil.ReadFile(f, p)))
	}
}

func assignments(m map[string]string, format string) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, fmt.Sprintf(format, k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// FuzzParseKconfig: any Kconfig text gives entries whose symbols are
// single words and whose dependencies are "depends on" lines, never a
// panic; parsing is deterministic. Seeds: testdata/kconfig.
func FuzzParseKconfig(f *testing.F) {
	paths, err := filepath.Glob(testutil.Testdata(f, "kconfig", "*.Kconfig"))
	if err != nil || len(paths) == 0 {
		f.Fatal("no seed in testdata/kconfig")
	}
	for _, p := range paths {
		f.Add(string(testutil.ReadFile(f, p)))
	}
	f.Fuzz(func(t *testing.T, text string) {
		kf := parseKconfig(text)
		for _, e := range kf.entries {
			if e.symbol == "" || strings.ContainsAny(e.symbol, " \t\n") {
				t.Fatalf("entry symbol %q", e.symbol)
			}
			for _, d := range e.depends {
				if !strings.HasPrefix(d, "depends on ") {
					t.Fatalf("dependency %q of %s", d, e.symbol)
				}
			}
		}
		for _, s := range kf.sources {
			if len(s.ifs) == 0 {
				t.Fatalf("source %q recorded outside any if", s.file)
			}
		}
		if diff := cmp.Diff(kf, parseKconfig(text), cmp.AllowUnexported(kconfigFile{}, kconfigEntry{}, kconfigSource{})); diff != "" {
			t.Fatalf("two parses differ:\n%s", diff)
		}
	})
}

// TestParseKconfig: the captured fs/Kconfig's entries, with the if blocks
// around them and their dependencies; help texts and choices do not count.
func TestParseKconfig(t *testing.T) {
	kf := parseKconfig(string(testutil.ReadFile(t, testutil.Testdata(t, "kconfig", "fs.Kconfig"))))
	got := map[string]kconfigEntry{}
	for _, e := range kf.entries {
		got[e.symbol] = e
	}
	if diff := cmp.Diff(kconfigEntry{symbol: "FOO_FS", ifs: []string{"MISC_FILESYSTEMS"}, depends: []string{"depends on BLOCK", "depends on !EXPERT || X86"}},
		got["FOO_FS"], cmp.AllowUnexported(kconfigEntry{})); diff != "" {
		t.Error(diff)
	}
	if len(got["VALIDATE_FS_PARSER"].depends) != 0 || len(got["TMPFS_A"].depends) != 0 {
		t.Errorf("a help text's or a choice's depends counted: %+v %+v", got["VALIDATE_FS_PARSER"], got["TMPFS_A"])
	}
	if diff := cmp.Diff([]kconfigSource{{"fs/ext2/Kconfig", []string{"BLOCK"}}, {"fs/ext4/Kconfig", []string{"BLOCK"}}, {"fs/aufs/Kconfig", []string{"MISC_FILESYSTEMS"}}},
		kf.sources, cmp.AllowUnexported(kconfigSource{})); diff != "" {
		t.Error(diff)
	}
}
