package testutil

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsbench/nsbench/internal/jsonmerge"
)

// Stages at which a bad bundle is refused.
const (
	// StageLoad: config.json is missing or not the spec's JSON.
	StageLoad = "load"
	// StageValidate: the spec validator refuses it, before anything exists.
	StageValidate = "validate"
	// StageCreate: the config is valid; creating the container fails (a
	// hook, a mount or the program in the rootfs). The validator accepts it.
	StageCreate = "create"
)

// BadBundle is one file of testdata/bundles/bad: how to spoil a working
// bundle and the error that must result.
type BadBundle struct {
	// Name is the file's name without .json.
	Name string `json:"-"`
	// Why says what is wrong, for the reader.
	Why string `json:"why"`
	// NoConfig removes config.json.
	NoConfig bool `json:"noConfig,omitempty"`
	// Config replaces config.json with this text.
	Config *string `json:"config,omitempty"`
	// Patch is a JSON merge patch (RFC 7386) applied to config.json: an
	// object merges key by key, null removes a key, anything else (arrays
	// too) replaces. "$BUNDLE" in its strings is the bundle directory.
	Patch json.RawMessage `json:"patch,omitempty"`
	// Files are written into the bundle directory first: name -> content
	// and octal mode.
	Files map[string]struct {
		Mode string `json:"mode"`
		Data string `json:"data"`
	} `json:"files,omitempty"`
	Stage string `json:"stage"`
	// Error is a part of the error message that must appear.
	Error string `json:"error"`
}

// BadBundles runs f as one subtest per file of testdata/bundles/bad.
func BadBundles(t *testing.T, f func(t *testing.T, b *BadBundle)) {
	t.Helper()
	for _, b := range LoadBadBundles(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// LoadBadBundles reads every file of testdata/bundles/bad (fuzz targets
// seed their corpus from them).
func LoadBadBundles(t testing.TB) []*BadBundle {
	t.Helper()
	paths, err := filepath.Glob(Testdata(t, "bundles", "bad", "*.json"))
	mustf(t, err, "glob bad bundles")
	if len(paths) == 0 {
		t.Fatalf("no fixture in testdata/bundles/bad")
	}
	var out []*BadBundle
	for _, p := range paths {
		b, err := ParseBadBundle(ReadFile(t, p))
		mustf(t, err, "fixture %s", p)
		b.Name = strings.TrimSuffix(filepath.Base(p), ".json")
		out = append(out, b)
	}
	return out
}

// ParseBadBundle reads one fixture, refusing unknown fields and stages.
func ParseBadBundle(data []byte) (*BadBundle, error) {
	var b BadBundle
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("parse bad bundle: %w", err)
	}
	switch b.Stage {
	case StageLoad, StageValidate, StageCreate:
	default:
		return nil, fmt.Errorf("parse bad bundle: stage %q is not load, validate or create", b.Stage)
	}
	if b.Error == "" {
		return nil, fmt.Errorf("parse bad bundle: no expected error")
	}
	return &b, nil
}

// Apply spoils the bundle in dir, whose config.json must exist.
func (b *BadBundle) Apply(dir string) error {
	for name, f := range b.Files {
		mode, err := strconv.ParseUint(f.Mode, 8, 32)
		if err != nil {
			return fmt.Errorf("bad bundle %s: file %s: mode %q: %w", b.Name, name, f.Mode, err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(f.Data), os.FileMode(mode)); err != nil {
			return fmt.Errorf("bad bundle %s: %w", b.Name, err)
		}
		// WriteFile's mode is subject to the umask.
		if err := os.Chmod(p, os.FileMode(mode)); err != nil {
			return fmt.Errorf("bad bundle %s: %w", b.Name, err)
		}
	}
	path := filepath.Join(dir, "config.json")
	switch {
	case b.NoConfig:
		return os.Remove(path)
	case b.Config != nil:
		return os.WriteFile(path, []byte(*b.Config), 0o644)
	case len(b.Patch) == 0:
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bad bundle %s: %w", b.Name, err)
	}
	out, err := jsonmerge.Patch(data, b.Patch, map[string]string{"$BUNDLE": dir})
	if err != nil {
		return fmt.Errorf("bad bundle %s: %s: %w", b.Name, path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
