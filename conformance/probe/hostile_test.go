package probe

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMasksDescribeWithoutWriting(t *testing.T) {
	f := filepath.Join(t.TempDir(), "sysctl")
	require.NoError(t, os.WriteFile(f, []byte("unchanged"), 0o644))
	got := Masks([]string{os.DevNull, f, "/nonexistent"})
	require.Len(t, got, 2, "a missing path is left out")
	assert.Equal(t, MaskReport{Path: os.DevNull, Kind: "char 1:3"}, got[0])
	assert.True(t, strings.HasPrefix(got[1].Kind, "regular file"), got[1].Kind)
	assert.Empty(t, got[1].WriteOpen, "the file opens for writing")
	data, err := os.ReadFile(f)
	require.NoError(t, err)
	assert.Equal(t, "unchanged", string(data), "opening for writing neither truncates nor writes")
}

func TestProcFS(t *testing.T) {
	assert.Equal(t, "procfs", ProcFS("/proc"))
	assert.NotEqual(t, "procfs", ProcFS("/proc/sys"))
	assert.NotEqual(t, "procfs", ProcFS(t.TempDir()))
}

func TestExeAndHook(t *testing.T) {
	var st unix.Stat_t
	require.NoError(t, unix.Stat("/proc/self/exe", &st))
	e := Exe("/proc/self/exe")
	assert.Equal(t, fmt.Sprintf("%d:%d", st.Dev, st.Ino), e.DevIno)
	assert.False(t, e.Sealed)
	assert.NotEmpty(t, Exe("/proc/0/exe").Error)

	out := filepath.Join(t.TempDir(), "hook.json")
	require.NoError(t, Hook(strings.NewReader(`{"ociVersion":"1.0.2"}`), out))
	var r HookReport
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &r))
	assert.Equal(t, os.Getuid(), r.UID)
	// The test's parent is go test (or a shell): some executable, looked at.
	assert.True(t, r.ParentExe.DevIno != "" || r.ParentExe.Error != "")
}
