package compat

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResultsRoundTripAndTables(t *testing.T) {
	rs := []Result{
		{Kind: "engine", Engine: "docker", Runtime: "runc", Case: "run", Pass: true},
		{Kind: "engine", Engine: "docker", Runtime: "nsrun", Case: "run", Pass: false, Error: "boom | bang\nmore"},
		{Kind: "bundle", Runtime: "runc", Case: "same", Pass: true, Output: "x"},
		{Kind: "bundle", Runtime: "nsrun", Case: "same", Pass: true, Output: "x"},
		{Kind: "bundle", Runtime: "runc", Case: "why", Exit: 0, Pass: true, Output: "a"},
		{Kind: "bundle", Runtime: "nsrun", Case: "why", Exit: 1, Output: "b"},
		{Kind: "bundle", Runtime: "runc", Case: "bad", Pass: true, Output: "a"},
		{Kind: "bundle", Runtime: "nsrun", Case: "bad", Pass: true, Output: "b"},
	}
	path := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, Write(path, &File{Host: "h", Results: rs}))
	f, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, rs, f.Results)

	var b strings.Builder
	Table(&b, rs[:2])
	assert.Equal(t, "| case | docker + runc | docker + nsrun |\n|---|---|---|\n| run | pass | FAIL: boom / bang more |\n", b.String())

	b.Reset()
	BundleTable(&b, []Case{{Name: "same", Why: "w1"}, {Name: "why", Why: "w2", Differs: "on purpose"}, {Name: "bad", Why: "w3"}, {Name: "none", Why: "w4"}}, rs)
	assert.Equal(t, `| case | what it checks | runc | nsrun | nsrun's container |
|---|---|---|---|---|
| same | w1 | runs | runs | the same |
| why | w2 | runs | refuses (exit 1) | differs: on purpose |
| bad | w3 | runs | runs | **differs, unexplained** |
| none | w4 | – | – | – |
`, b.String())
}
