package compat

import (
	"encoding/json"

	"github.com/opencontainers/runtime-spec/specs-go/features"

	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/engine"
	"github.com/nsbench/nsbench/internal/testutil"
)

// TestEngines runs every flow through a private docker and a private
// podman, with runc and with nsrun as the runtime: nsrun must pass every
// flow runc passes, with the same observation where the flow says so
// (limits as the container sees them), and the engines must leave nothing.
func TestEngines(t *testing.T) {
	testutil.NeedRoot(t, "the engines run rootful containers with cgroups")
	if testing.Short() {
		t.Skip("starts dockerd and runs podman (minutes)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc is not installed (apt-get install runc): the engines' default runtime")
	}
	ctx := context.Background()
	unlock, err := engine.LockHost(ctx)
	require.NoError(t, err)
	t.Cleanup(unlock)
	var results []Result
	t.Cleanup(func() { writeResults(t, "engines.json", results) })
	has := nsrunFeatures(t)
	for _, kind := range []string{"docker", "podman"} {
		t.Run(kind, func(t *testing.T) {
			if _, err := exec.LookPath(kind); err != nil {
				t.Skipf("%s is not installed (apt-get install %s)", kind, engine.Package(kind))
			}
			// podman passes no --root: nsrun keeps its containers' state in its
			// default root, shared with anyone else's default nsrun.
			nsrunRoot := "/run/nsrun"
			before := entries(nsrunRoot)
			// Engines' network traces (bridges such as podman's cni-podman0,
			// veths): the flows must leave none behind.
			linksBefore, err := engine.HostTraces()
			require.NoError(t, err)
			e := engine.New(engine.Options{Kind: kind, StateDir: t.TempDir(),
				Runtimes: []engine.Runtime{{Name: "nsrun", Path: nsrunBin, DefaultRoot: nsrunRoot}}})
			closed := false
			t.Cleanup(func() {
				if !closed {
					assert.NoError(t, e.Close())
				}
			})
			require.NoError(t, e.Start(ctx))
			runc := RunFlows(ctx, e, "runc", Flows)
			nsrun := RunFlows(ctx, e, "nsrun", Flows)
			results = append(append(results, runc...), nsrun...)
			for i, f := range Flows {
				t.Run(f.Name, func(t *testing.T) {
					r, n := runc[i], nsrun[i]
					if !r.Pass {
						// A finding about runc or the engine, not a failure of nsrun.
						t.Logf("runc fails this flow too: %s", r.Error)
						return
					}
					if f.Needs != "" && !has[f.Needs] && !n.Pass {
						t.Skipf("nsrun's features document does not advertise %s yet; the flow fails: %s", f.Needs, n.Error)
					}
					require.True(t, n.Pass, "nsrun fails a flow runc passes: %s", n.Error)
					if f.Same {
						if diff := cmp.Diff(r.Output, n.Output); diff != "" {
							t.Errorf("the container sees something else with nsrun (-runc +nsrun):\n%s", diff)
						}
					}
				})
			}
			closed = true
			// Close checks what is left of the engine itself (mounts, processes,
			// cgroups, directories) and says what.
			require.NoError(t, e.Close())
			var left []string
			for _, name := range entries(nsrunRoot) {
				if !slices.Contains(before, name) {
					left = append(left, filepath.Join(nsrunRoot, name))
				}
			}
			assert.Empty(t, left, "nsrun state the engine's containers left")
			linksAfter, err := engine.HostTraces()
			require.NoError(t, err)
			assert.Empty(t, cmp.Diff(linksBefore.Links, linksAfter.Links), "network interfaces the engine left on the host (-before +after)")
		})
	}
}

func entries(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// nsrunFeatures reads which optional features nsrun advertises.
func nsrunFeatures(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command(nsrunBin, "features").Output()
	require.NoError(t, err)
	var f features.Features
	require.NoError(t, json.Unmarshal(out, &f))
	has := map[string]bool{}
	if l := f.Linux; l != nil && l.Seccomp != nil && l.Seccomp.Enabled != nil {
		has["seccomp"] = *l.Seccomp.Enabled
	}
	return has
}
