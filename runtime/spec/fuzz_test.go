package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nsbench/nsbench/internal/testutil"
)

// FuzzConfig: any config.json text is refused with an error or accepted,
// never a panic; an accepted and valid config, written back as JSON, loads
// again to the same configuration and is still valid (what create saves in
// the state and delete reads back). Seeds: the default configs and every
// bad bundle of testdata/bundles/bad.
func FuzzConfig(f *testing.F) {
	for _, rootless := range []bool{false, true} {
		data, err := json.Marshal(Default(rootless))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, b := range testutil.LoadBadBundles(f) {
		dir := f.TempDir()
		data, _ := json.Marshal(Default(false))
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
			f.Fatal(err)
		}
		if err := b.Apply(dir); err != nil {
			f.Fatal(err)
		}
		if data, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			f.Add(data)
		}
	}
	bundle := f.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("config.json", data)
		if err != nil {
			return
		}
		if err := Validate(s, bundle); err != nil {
			return
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("an accepted config does not encode: %v", err)
		}
		s2, err := Parse("config.json", again)
		if err != nil {
			t.Fatalf("an accepted config does not load again: %v\n%s", err, again)
		}
		if err := Validate(s2, bundle); err != nil {
			t.Fatalf("an accepted config is invalid once written back: %v\n%s", err, again)
		}
		// Empty and absent lists are the same configuration (omitempty).
		if diff := cmp.Diff(s, s2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("an accepted config loads again to another one (-first +again):\n%s", diff)
		}
	})
}
