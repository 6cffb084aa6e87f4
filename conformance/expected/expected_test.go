package expected_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/conformance"
	"github.com/nsbench/nsbench/conformance/expected"
)

func TestVersion(t *testing.T) {
	for line, want := range map[string]string{
		"runc version 1.1.5+ds1":  "1.1.5",
		"runc version 1.1.15+ds1": "1.1.15",
		"crun version 1.8.1":      "1.8.1",
		"crun version 1.21":       "1.21",
		"runc version 1.4.0-rc.3": "1.4.0-rc.3",
		"1.8.1":                   "1.8.1",
		"no number":               "",
	} {
		assert.Equal(t, want, expected.Version(line), line)
	}
}

// TestFilesAreConsistent: every file parses, is named for what it says,
// lists only invariants the suite has, each once per mode, and nsrun has
// none (nsrun failing anything is always red).
func TestFilesAreConsistent(t *testing.T) {
	all, err := expected.All()
	require.NoError(t, err)
	require.NotEmpty(t, all)
	names := map[string]bool{}
	for _, inv := range conformance.Invariants() {
		names[inv.Name] = true
	}
	for _, f := range all {
		assert.NotEqual(t, "nsrun", f.Runtime, "%s: nsrun has no known findings", f.Name)
		assert.NotEmpty(t, f.Source, "%s: say where the binary came from", f.Name)
		seen := map[string]bool{}
		for _, x := range f.Findings {
			assert.True(t, names[x.Invariant], "%s: %s is not an invariant of the suite", f.Name, x.Invariant)
			modes := x.Modes
			if len(modes) == 0 {
				modes = []string{expected.Root, expected.Rootless}
			}
			for _, m := range modes {
				assert.False(t, seen[x.Invariant+"/"+m], "%s: %s listed twice for %s", f.Name, x.Invariant, m)
				seen[x.Invariant+"/"+m] = true
			}
		}
		got, err := expected.For(f.Runtime, f.Runtime+" version "+f.Version+"+ds1")
		require.NoError(t, err)
		assert.Equal(t, f.Name, got.Name, "found by its --version line")
	}
	none, err := expected.For("nsrun", "nsrun version 0.1.0")
	require.NoError(t, err)
	assert.Nil(t, none)
}

func TestJudge(t *testing.T) {
	f := &expected.File{Runtime: "runc", Version: "1.1.5", Name: "runc-1.1.5.json", Findings: []expected.Finding{
		{Invariant: "devnull-mask", Advisory: "CVE-2025-31133"},
		{Invariant: "cgroupfs-readonly", Advisory: "CVE-2023-25809", Modes: []string{expected.Rootless}},
	}}
	for _, tc := range []struct {
		inv, outcome, mode string
		known              bool
		differs            string
	}{
		{"devnull-mask", "fail", expected.Root, true, ""},
		{"devnull-mask", "pass", expected.Root, false, "lists as failing (CVE-2025-31133)"},
		{"devnull-mask", "skip", expected.Root, false, ""},
		{"cgroupfs-readonly", "fail", expected.Rootless, true, ""},
		{"cgroupfs-readonly", "fail", expected.Root, false, "does not list"},
		{"mount-leak", "fail", expected.Root, false, "does not list"},
		{"mount-leak", "pass", expected.Root, false, ""},
		{"mount-leak", "policy", expected.Rootless, false, ""},
	} {
		known, diff := f.Judge("runc", "runc version 1.1.5+ds1", tc.inv, tc.outcome, tc.mode)
		assert.Equal(t, tc.known, known != nil, "%+v", tc)
		if tc.differs == "" {
			assert.Empty(t, diff, "%+v", tc)
		} else {
			assert.Contains(t, diff, tc.differs, "%+v", tc)
		}
	}
	var none *expected.File
	_, diff := none.Judge("nsrun", "nsrun version 0.1.0", "mount-leak", "fail", expected.Root)
	assert.Equal(t, "nsrun fails mount-leak", diff)
}
