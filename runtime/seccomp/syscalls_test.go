package seccomp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/seccomp/internal/systables"
)

// kernelSource is what `go generate` reads by default.
const kernelSource = "/usr/src/linux-source-6.1.tar.xz"

// TestTableSorted: lookup's binary search needs sorted, unique names.
func TestTableSorted(t *testing.T) {
	for i := 1; i < len(syscallTable); i++ {
		require.Less(t, syscallTable[i-1].name, syscallTable[i].name)
	}
	for _, e := range syscallTable {
		got, ok := lookup(e.name)
		require.True(t, ok)
		require.Equal(t, e.name, got.name)
	}
	_, ok := lookup("no_such_call")
	assert.False(t, ok)
}

// TestTableMatchesThisBuild: the numbers this binary's own x/sys uses for
// its architecture are the table's.
func TestTableMatchesThisBuild(t *testing.T) {
	host, err := HostArch()
	require.NoError(t, err)
	fam, err := familyOf(host)
	require.NoError(t, err)
	for name, want := range map[string]int{
		"read": unix.SYS_READ, "getpid": unix.SYS_GETPID, "execve": unix.SYS_EXECVE, "clone": unix.SYS_CLONE,
		"clone3": unix.SYS_CLONE3, "unshare": unix.SYS_UNSHARE, "keyctl": unix.SYS_KEYCTL, "seccomp": unix.SYS_SECCOMP,
	} {
		assert.Equal(t, want, int(nr(t, name, fam.native)), name)
	}
}

// TestTableIsCurrent regenerates the table from its sources and compares:
// the generated file is what the generator makes of the pinned x/sys and
// the kernel source (and the generator's cross-checks of the two hold).
func TestTableIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the kernel source tarball (about 10 s): skipped in -short mode")
	}
	if _, err := os.Stat(kernelSource); err != nil {
		t.Skipf("no kernel source to check against: %v (apt-get install linux-source-6.1)", err)
	}
	ctx := context.Background()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}} {{.Path}}@{{.Version}}", "golang.org/x/sys").Output()
	require.NoError(t, err, "go list -m golang.org/x/sys")
	dir, name, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	want, err := systables.Generate(ctx, systables.Inputs{XSysDir: dir, XSysName: name, KernelDir: kernelSource, KernelName: "linux-source-6.1"})
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(".", "zsyscalls.go"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "zsyscalls.go is stale: run go generate ./runtime/seccomp")
}
