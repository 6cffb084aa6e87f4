package mountinfo

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nsbench/nsbench/internal/testutil"
)

// FuzzParse: any text is refused or parsed, never a panic; a parsed table
// printed back with String parses to the same mounts. Seeds: the captured
// tables of testdata/mountinfo.
func FuzzParse(f *testing.F) {
	testutil.Seed(f, filepath.Join("mountinfo", "*"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		var lines []string
		for _, m := range ms {
			lines = append(lines, m.String())
			if _, ok := Holding(ms, m.Mountpoint); !ok {
				t.Fatalf("no mount holds the mount point %q", m.Mountpoint)
			}
		}
		back, err := Parse(strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatalf("a parsed table does not parse back: %v", err)
		}
		if diff := cmp.Diff(ms, back); diff != "" {
			t.Fatalf("String and Parse disagree (-parsed +printed):\n%s", diff)
		}
	})
}
