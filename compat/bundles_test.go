package compat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/conformance/expected"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/testutil"
)

var (
	nsrunBin string
	// outDir, from NSBENCH_COMPAT_OUT, receives bundles.json and
	// engines.json (make compat); empty writes nothing.
	outDir string
)

func TestMain(m *testing.M) {
	outDir = os.Getenv("NSBENCH_COMPAT_OUT")
	os.Exit(gobuild.RunWith(m, map[string]*string{"nsrun": &nsrunBin}))
}

// writeResults writes rs to outDir/name when make compat asked for them.
func writeResults(t *testing.T, name string, rs []Result) {
	t.Helper()
	if outDir == "" {
		return
	}
	host, _ := os.Hostname()
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	require.NoError(t, Write(filepath.Join(outDir, name), &File{Host: host, Results: rs}))
}

func TestDiffersFrom(t *testing.T) {
	c := Case{DiffersBefore: &Since{Runc: "1.1.8", Why: "runc before 1.1.8 chmods"}}
	for v, want := range map[string]string{"1.1.5": "runc before 1.1.8 chmods", "1.1.7": "runc before 1.1.8 chmods", "1.1.8": "", "1.1.15": "", "1.2": "", "1.10.0": ""} {
		assert.Equal(t, want, c.DiffersFrom(v), v)
	}
	assert.Equal(t, "always", Case{Differs: "always"}.DiffersFrom("1.1.15"))
}

func TestLoadCases(t *testing.T) {
	cases, err := LoadCases(testutil.Testdata(t, "compat", "bundles"))
	require.NoError(t, err)
	assert.NotEmpty(t, cases)
	_, err = LoadCases(t.TempDir())
	assert.ErrorContains(t, err, "no compatibility cases")
}

// TestBundles runs every case through runc and nsrun: outcomes must be the
// same unless the case says why nsrun differs, and then they must differ
// (the README's compatibility table stays true both ways).
func TestBundles(t *testing.T) {
	testutil.NeedRoot(t, "the cases run rootful containers with cgroups")
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc is not installed (apt-get install runc): nothing to compare with")
	}
	cases, err := LoadCases(testutil.Testdata(t, "compat", "bundles"))
	require.NoError(t, err)
	work := t.TempDir()
	b := &Bundles{BaseConfig: testutil.ReadFile(t, testutil.Testdata(t, "compat", "runc-1.1.5-spec.json")), WorkDir: work}
	runc, err := oci.New("runc", t.TempDir())
	require.NoError(t, err)
	nsrun, err := oci.New(nsrunBin, t.TempDir())
	require.NoError(t, err)
	line, err := runc.Version(context.Background())
	require.NoError(t, err)
	runcVersion := expected.Version(line)
	require.NotEmpty(t, runcVersion, "runc --version: %q", line)
	// The cases' common cgroup parent: runc leaves the parents it makes.
	t.Cleanup(func() { assert.NoError(t, RemoveCgroupParent()) })
	var results []Result
	t.Cleanup(func() { writeResults(t, "bundles.json", results) })
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ctx := context.Background()
			want, err := b.Run(ctx, runc, c)
			require.NoError(t, err)
			got, err := b.Run(ctx, nsrun, c)
			require.NoError(t, err)
			results = append(results, want, got)
			differs := c.DiffersFrom(runcVersion)
			if differs == "" {
				assert.Equal(t, want.Exit, got.Exit, "exit status (runc: %s; nsrun: %s)", want.Error, got.Error)
				if diff := cmp.Diff(want.Output, got.Output); diff != "" {
					t.Errorf("nsrun's container sees something else than runc's (-runc +nsrun):\n%s", diff)
				}
				return
			}
			assert.False(t, Same(want, got), "the case says nsrun differs from runc %s (%s), but both came out the same", runcVersion, differs)
			t.Logf("differs on purpose from runc %s: %s\nrunc: exit %d %s\nnsrun: exit %d %s", runcVersion, differs, want.Exit, want.Error, got.Exit, got.Error)
		})
	}
}
