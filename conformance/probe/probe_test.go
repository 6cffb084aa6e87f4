package probe

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary play a process that a careless runtime
// left with a way out: chrooted, but with a directory outside still open.
const helperEnv = "NSBENCH_PROBE_WALKOUT_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		out, err := walkOutHelper(mode)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(out)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// walkOutHelper runs in a private mount namespace: it binds /proc into a
// fresh directory, chroots there and asks walkOut about an outside
// directory left open ("fd") or an outside cwd ("cwd").
func walkOutHelper(mode string) ([]string, error) {
	dir := os.Getenv("NSBENCH_PROBE_WALKOUT_DIR")
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make / rprivate: %w", err)
	}
	if err := unix.Mount("/proc", filepath.Join(dir, "proc"), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return nil, fmt.Errorf("bind /proc: %w", err)
	}
	var fds []int
	if mode == "fd" {
		fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil, err
		}
		fds = append(fds, fd)
		if err := unix.Chdir(dir); err != nil {
			return nil, err
		}
	}
	// Chroot without chdir: in "cwd" mode the cwd stays outside.
	if err := unix.Chroot(dir); err != nil {
		return nil, fmt.Errorf("chroot %s: %w", dir, err)
	}
	return walkOut(devIno("/"), fds), nil
}

func TestWalkOutFindsTheWayOut(t *testing.T) {
	testutil.NeedRoot(t, "chroot and a private mount namespace")
	for _, tc := range []struct {
		mode, want string
	}{
		{"fd", "/proc/self/fd/"},
		{"cwd", "/proc/self/cwd leads to "},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.Mkdir(filepath.Join(dir, "proc"), 0o755))
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Dir = "/"
			cmd.Env = append(os.Environ(), helperEnv+"="+tc.mode, "NSBENCH_PROBE_WALKOUT_DIR="+dir)
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
			out, err := cmd.Output()
			require.NoError(t, err, "helper: %s", exitStderr(err))
			var got []string
			require.NoError(t, json.Unmarshal(out, &got), "%s", out)
			require.Len(t, got, 1, "the one way out, and only it: %v", got)
			assert.True(t, strings.HasPrefix(got[0], tc.want), got[0])
			var host unix.Stat_t
			require.NoError(t, unix.Stat("/", &host))
			assert.True(t, strings.HasSuffix(got[0], strconv.FormatUint(host.Dev, 10)+":"+strconv.FormatUint(host.Ino, 10)), "it leads to the host's root: %s", got[0])
		})
	}
}

func TestWalkOutContained(t *testing.T) {
	fd, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	wd, err := os.Getwd()
	require.NoError(t, err)
	// Unconfined, every walk ends at / itself.
	assert.Empty(t, walkOut(devIno("/"), []int{0, 1, 2, fd}))
	after, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, wd, after, "walkOut puts the cwd back")
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
