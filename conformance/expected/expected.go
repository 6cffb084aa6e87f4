// Package expected holds, as data, what each reference runtime version is
// known to fall to: one file per version, <runtime>-<version>.json in this
// directory, embedded into the suite so VM guests carry it too. A known
// failure of runc or crun is a result to show ("runc 1.1.5: vulnerable to
// devnull-mask"), not a red build; the build goes red when an outcome
// differs from its file, and whenever nsrun fails anything (nsrun has no
// file and may not have one).
//
// Adding a runtime version is adding a file: run the suite against it, look
// at each failure, and list those that are the runtime's (with the advisory
// or reason) as findings.
package expected

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.json
var files embed.FS

// Modes a finding can be limited to: the suite run as root or unprivileged.
const (
	Root     = "root"
	Rootless = "rootless"
)

// Finding is one invariant a runtime version is known to fail.
type Finding struct {
	Invariant string `json:"invariant"`
	// Advisory names the published advisory (CVE-...) or, for a finding
	// without one, says what the runtime does instead.
	Advisory string `json:"advisory"`
	// Note: fixed in which version, how it shows here.
	Note string `json:"note,omitempty"`
	// Modes limits the finding to root or rootless runs; empty means both.
	Modes []string `json:"modes,omitempty"`
}

// File is the expected outcomes of one runtime version.
type File struct {
	Runtime string `json:"runtime"`
	Version string `json:"version"`
	// Source says where the binary under test came from (the Debian
	// package and its revision).
	Source   string    `json:"source"`
	Findings []Finding `json:"findings"`
	// Name is the file's name, for messages.
	Name string `json:"-"`
}

// Version reduces a runtime's `--version` line to the number that names its
// file: "runc version 1.1.5+ds1" is 1.1.5, "crun version 1.21" is 1.21.
func Version(line string) string {
	for _, f := range strings.Fields(line) {
		if f[0] >= '0' && f[0] <= '9' {
			v, _, _ := strings.Cut(f, "+")
			return v
		}
	}
	return ""
}

// For returns the file of runtime at version (a `--version` line or a bare
// number), or nil when the repository has none: then every failure is
// unexpected.
func For(runtime, version string) (*File, error) {
	if runtime == "nsrun" {
		return nil, nil
	}
	name := runtime + "-" + Version(version) + ".json"
	data, err := files.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read conformance/expected/%s: %w", name, err)
	}
	return parse(name, data)
}

func parse(name string, data []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("conformance/expected/%s: %w", name, err)
	}
	f.Name = name
	if want := f.Runtime + "-" + f.Version + ".json"; want != name {
		return nil, fmt.Errorf("conformance/expected/%s: says runtime %q version %q, so its name must be %s", name, f.Runtime, f.Version, want)
	}
	for i, x := range f.Findings {
		if x.Invariant == "" || x.Advisory == "" {
			return nil, fmt.Errorf("conformance/expected/%s: findings[%d]: invariant and advisory are required", name, i)
		}
		for _, m := range x.Modes {
			if m != Root && m != Rootless {
				return nil, fmt.Errorf("conformance/expected/%s: findings[%d].modes: %q is not %s or %s", name, i, m, Root, Rootless)
			}
		}
	}
	return &f, nil
}

// All returns every file, for the tests that keep them consistent.
func All() ([]*File, error) {
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, err
	}
	var out []*File
	for _, n := range names {
		data, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		f, err := parse(n, data)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Mode is the mode of a run by the effective uid it ran with.
func Mode(euid int) string {
	if euid == 0 {
		return Root
	}
	return Rootless
}

// Known returns the finding that expects invariant to fail in mode, or nil.
func (f *File) Known(invariant, mode string) *Finding {
	if f == nil {
		return nil
	}
	for i, x := range f.Findings {
		if x.Invariant == invariant && (len(x.Modes) == 0 || slices.Contains(x.Modes, mode)) {
			return &f.Findings[i]
		}
	}
	return nil
}

// Judge compares one outcome (pass, fail, skip, policy) with what is
// expected of runtime in mode. It returns the known finding when a failure
// is expected, and a non-empty difference when the outcome is not what the
// repository says (nsrun: any failure).
func (f *File) Judge(runtime, version, invariant, outcome, mode string) (*Finding, string) {
	known := f.Known(invariant, mode)
	switch {
	case outcome == "fail" && known != nil:
		return known, ""
	case outcome == "fail" && runtime == "nsrun":
		return nil, "nsrun fails " + invariant
	case outcome == "fail" && f == nil:
		return nil, fmt.Sprintf("%s fails %s, and the repository has no expected outcomes for %s %s: add conformance/expected/%s-%s.json listing its known findings, or fix the check", runtime, invariant, runtime, Version(version), runtime, Version(version))
	case outcome == "fail":
		return nil, fmt.Sprintf("%s %s fails %s, which conformance/expected/%s does not list", runtime, Version(version), invariant, f.Name)
	case outcome == "pass" && known != nil:
		return nil, fmt.Sprintf("%s %s passes %s, which conformance/expected/%s lists as failing (%s): drop the finding if the runtime was fixed, or find what no longer reproduces it", runtime, Version(version), invariant, f.Name, known.Advisory)
	}
	return nil, ""
}
