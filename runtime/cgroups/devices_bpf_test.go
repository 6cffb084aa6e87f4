package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
}

func TestDeviceFilterRejectsBadRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule specs.LinuxDeviceCgroup
		want string
	}{
		{"type", specs.LinuxDeviceCgroup{Type: "x"}, `type "x" is not a, b or c`},
		{"access letter", specs.LinuxDeviceCgroup{Type: "c", Access: "rx"}, `'x' is not r, w or m`},
		{"access repeated", specs.LinuxDeviceCgroup{Type: "c", Access: "rr"}, "repeats a letter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deviceFilter([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, tc.rule})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "linux.resources.devices[1]")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// cgroup2Root is a mounted cgroup2 hierarchy: /sys/fs/cgroup on a pure v2
// host, /sys/fs/cgroup/unified on a hybrid one (device programs work
// there too).
func cgroup2Root(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	t.Skip("no cgroup2 hierarchy mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified")
	return ""
}

// TestDeviceFilterInKernel attaches each rule set to a fresh cgroup2 group
// and has a process born in it (CLONE_INTO_CGROUP) read /dev/zero (c 1:5).
func TestDeviceFilterInKernel(t *testing.T) {
	testutil.NeedRoot(t, "loading and attaching a cgroup device program")
	root := cgroup2Root(t)
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		read  bool
	}{
		{"no rule denies", nil, false},
		{"deny all", []specs.LinuxDeviceCgroup{denyAll}, false},
		{"allow c 1:5 r", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, 5, "r")}, true},
		{"allow c 1:3 only", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, 3, "rwm")}, false},
		{"allow c *:* r", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", -1, -1, "r")}, true},
		{"allow c 1:* rwm", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, -1, "")}, true},
		{"write is not read", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, 5, "w")}, false},
		{"block is not char", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "b", 1, 5, "rwm")}, false},
		{"allow all", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, true},
		{"the last match wins: deny", []specs.LinuxDeviceCgroup{{Allow: true}, devRule(false, "c", 1, 5, "r")}, false},
		{"the last match wins: allow", []specs.LinuxDeviceCgroup{denyAll, devRule(false, "c", 1, 5, "r"), devRule(true, "c", 1, 5, "rw")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newV2Group(t, root)
			require.NoError(t, attachDeviceFilter(dir, tc.rules))
			out, err := readZeroIn(t, dir)
			if tc.read {
				assert.NoError(t, err, "%s", out)
			} else {
				require.Error(t, err)
				assert.True(t, strings.Contains(string(out), "Operation not permitted"), "refused by the filter: %s", out)
			}
		})
	}
}

// newV2Group makes a fresh group under the cgroup2 root and removes it when
// the test ends.
func newV2Group(t *testing.T, root string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dir := filepath.Join(root, "nsbench-devtest-"+hex.EncodeToString(b))
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() { assert.NoError(t, os.Remove(dir)) })
	return dir
}

// readZeroIn has a process born in the group (CLONE_INTO_CGROUP) read a
// byte of /dev/zero (c 1:5), and returns its output and error.
func readZeroIn(t *testing.T, dir string) ([]byte, error) {
	t.Helper()
	head, err := exec.LookPath("head")
	require.NoError(t, err)
	cg, err := os.Open(dir)
	require.NoError(t, err)
	defer cg.Close()
	cmd := exec.Command(head, "-c1", "/dev/zero")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	return cmd.CombinedOutput()
}
