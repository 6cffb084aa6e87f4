package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/startcost"
	"github.com/nsbench/nsbench/internal/testutil"
)

// TestStartcostMakesItsOutputDirectory: make bench-runtime on a fresh
// clone writes results/startcost.json into a results/ that does not exist
// yet; the directory is made before the runs, not found missing after.
func TestStartcostMakesItsOutputDirectory(t *testing.T) {
	testutil.NeedRoot(t, "startcost runs nsrun as root in a private mount namespace")
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox not installed (apt-get install busybox-static): the bundle's /bin/true")
	}
	ctx := context.Background()
	dir := t.TempDir()
	bin, err := gobuild.Build(ctx, "nsbench", filepath.Join(dir, "bin"), "")
	require.NoError(t, err)
	nsrun, err := gobuild.Build(ctx, "nsrun", filepath.Join(dir, "bin"), "")
	require.NoError(t, err)
	out := filepath.Join(dir, "fresh", "results", "startcost.json")
	cmd := exec.CommandContext(ctx, bin, "startcost", "-n", "2", "-trace=false", "-wrapper=false", "-nsrun", nsrun, "-out", out, "nsrun")
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var res startcost.Result
	require.NoError(t, json.Unmarshal(data, &res))
	require.NotEmpty(t, res.Rows)
	assert.Equal(t, "nsrun", res.Rows[0].Name)
	assert.Len(t, res.Rows[0].Samples, 2)
}
