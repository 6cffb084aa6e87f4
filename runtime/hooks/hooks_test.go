package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hook")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
	return p
}

// viaShell stands in for nsrun's sigreset-exec in Run's via: it gets
// "nsrun" as argv[0], then its own arguments, the hook's path and argv, and
// execs the path with the arguments after argv[0].
var viaShell = []string{"/bin/sh", "-c", `p=$1; shift 2; exec "$p" "$@"`, "via"}

func TestRun(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testRun(t, nil) })
	t.Run("via", func(t *testing.T) { testRun(t, viaShell) })
}

func testRun(t *testing.T, via []string) {
	out := filepath.Join(t.TempDir(), "out")
	one := 1
	state := &specs.State{Version: "1.0.2", ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b"}
	for _, tc := range []struct {
		name  string
		hooks []specs.Hook
		want  string
	}{
		{"state on stdin, args and env", []specs.Hook{{Path: script(t, `cat > `+out+`; echo "args $1 $FOO" >> `+out), Args: []string{"myhook", "a1"}, Env: []string{"FOO=bar"}}}, ""},
		{"failure names the hook", []specs.Hook{{Path: script(t, "echo broken >&2; exit 3")}}, "createRuntime hook 0"},
		{"output in error", []specs.Hook{{Path: script(t, "echo broken >&2; exit 3")}}, "broken"},
		{"timeout kills", []specs.Hook{{Path: script(t, "sleep 30"), Timeout: &one}}, "killed after its 1s timeout"},
		{"missing binary", []specs.Hook{{Path: "/nonexistent/hook"}}, "no such file"},
		{"stops at first failure", []specs.Hook{{Path: "/bin/false"}, {Path: script(t, "touch "+out+".second")}}, "hook 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := Run(context.Background(), "createRuntime", tc.hooks, state, via)
			if tc.want == "" {
				require.NoError(t, err)
				data, err := os.ReadFile(out)
				require.NoError(t, err)
				var got specs.State
				dec := json.NewDecoder(bytes.NewReader(data))
				require.NoError(t, dec.Decode(&got))
				assert.Equal(t, *state, got)
				assert.Contains(t, string(data), "args a1 bar")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, time.Since(start), 20*time.Second)
		})
	}
	assert.NoFileExists(t, out+".second")
}
