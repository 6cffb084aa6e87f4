package testutil

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// Seed adds every fixture of the top-level testdata matching pattern to
// f's seed corpus; no match is a failure.
func Seed(f *testing.F, pattern string) {
	f.Helper()
	paths, err := filepath.Glob(Testdata(f, pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed matches testdata/%s (%v)", pattern, err)
	}
	for _, p := range paths {
		f.Add(ReadFile(f, p))
	}
}

// FuzzToolOutput fuzzes the parser of a tool's output, seeded with the
// captured outputs matching pattern: any input is refused or gives a
// result whose numbers are measurements (CheckMeasurements) and which
// encodes as JSON, as the results file needs.
func FuzzToolOutput[R any](f *testing.F, pattern string, parse func([]byte) (R, error)) {
	f.Helper()
	Seed(f, pattern)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parse(data)
		if err != nil {
			return
		}
		if err := CheckMeasurements(r); err != nil {
			t.Fatalf("accepted: %v", err)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("accepted a result that does not encode: %v", err)
		}
	})
}
