package matrix

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/conformance/expected"
)

// knownFinding returns a finding some reference runtime's file lists, so the
// test follows the data instead of hard-coding it.
func knownFinding(t *testing.T) (*expected.File, expected.Finding) {
	t.Helper()
	all, err := expected.All()
	require.NoError(t, err)
	for _, f := range all {
		for _, x := range f.Findings {
			if len(x.Modes) == 0 || x.Modes[0] == expected.Root {
				return f, x
			}
		}
	}
	t.Skip("no reference runtime has a root finding in conformance/expected")
	return nil, expected.Finding{}
}

func TestWriteLoad(t *testing.T) {
	r := &Run{Runtime: "runc", Version: "runc version 1.1.5+ds1", Kernel: "6.18.44", Results: []Result{{"mount-leak", "pass", "no mount left", ""}}}
	p := filepath.Join(t.TempDir(), "conformance-runc.json")
	require.NoError(t, r.Write(p))
	got, err := Load(p)
	require.NoError(t, err)
	assert.Empty(t, cmp.Diff(r, got))

	require.NoError(t, (&Run{Runtime: "runc"}).Write(p))
	_, err = Load(p)
	assert.ErrorContains(t, err, "holds no results")
}

func TestTableShowsKnownFindingsAndDifferences(t *testing.T) {
	f, x := knownFinding(t)
	ref := &Run{Runtime: f.Runtime, Version: f.Runtime + " version " + f.Version + "+ds1", Kernel: "6.18.44", Results: []Result{
		{x.Invariant, "fail", "what the check saw", x.Advisory},
		{"mount-leak", "fail", "a mount left", ""},
	}}
	ns := &Run{Runtime: "nsrun", Version: "nsrun version 0.1.0", Kernel: "6.18.44", Label: "nsrun@stock/x86_64", Results: []Result{{"mount-leak", "pass", "", ""}}}
	var out bytes.Buffer
	differs, err := Table(&out, []*Run{ref, ns})
	require.NoError(t, err)
	assert.True(t, differs, "runc failing mount-leak is not expected")
	s := out.String()
	lines := strings.Split(s, "\n")
	assert.Contains(t, lines[0], f.Runtime)
	assert.Contains(t, lines[0], "nsrun@stock/x86_64")
	assert.Contains(t, lines[1], "("+f.Version+", root)")
	assert.Regexp(t, x.Invariant+`\s+vulnerable\s+-`, s)
	assert.Contains(t, s, "vulnerable to "+x.Invariant+" ("+x.Advisory+")")
	assert.Contains(t, s, "DIFFERENT FROM THE EXPECTED OUTCOMES")
	assert.Contains(t, s, "fails mount-leak, which conformance/expected/"+f.Name+" does not list")
}

func TestCheck(t *testing.T) {
	f, x := knownFinding(t)
	v := f.Runtime + " version " + f.Version
	for _, tc := range []struct {
		name    string
		run     *Run
		known   int
		differs string
	}{
		{"known failure", &Run{Runtime: f.Runtime, Version: v, Results: []Result{{x.Invariant, "fail", "", ""}}}, 1, ""},
		{"known failure passes now", &Run{Runtime: f.Runtime, Version: v, Results: []Result{{x.Invariant, "pass", "", ""}}}, 0, "lists as failing"},
		{"known failure cannot be shown here", &Run{Runtime: f.Runtime, Version: v, Results: []Result{{x.Invariant, "skip", "", ""}}}, 0, ""},
		{"nsrun fails anything", &Run{Runtime: "nsrun", Version: "nsrun version 0.1.0", Results: []Result{{x.Invariant, "fail", "", ""}}}, 0, "nsrun fails " + x.Invariant},
		{"a version without a file", &Run{Runtime: f.Runtime, Version: f.Runtime + " version 0.0.1", Results: []Result{{x.Invariant, "fail", "", ""}}}, 0, "add conformance/expected/" + f.Runtime + "-0.0.1.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			known, diffs, err := tc.run.Check()
			require.NoError(t, err)
			assert.Len(t, known, tc.known)
			if tc.differs == "" {
				assert.Empty(t, diffs)
			} else {
				require.Len(t, diffs, 1)
				assert.Contains(t, diffs[0], tc.differs)
			}
		})
	}
}
