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
