package atomicfile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
)

// writerEnv makes this test binary a Dir writer that stops mid-fill (the
// process TestDirSweepsAKilledWritersTemporary kills): its value is the
// path to make.
const writerEnv = "_NSBENCH_ATOMICFILE_TEST_WRITER"

func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		os.Exit(stuckWriter(path))
	}
	os.Exit(m.Run())
}

// stuckWriter fills part of path's tree, says so on stdout and waits to be
// killed.
func stuckWriter(path string) int {
	err := Dir(path, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, "half"), []byte("x"), 0o644); err != nil {
			return err
		}
		fmt.Println("filling", tmp)
		for {
			time.Sleep(time.Hour)
		}
	})
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// TestDirSweepsAKilledWritersTemporary: a writer SIGKILLed while it fills
// leaves its temporary; the next Dir of the same path removes it.
func TestDirSweepsAKilledWritersTemporary(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "tree")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "the writer's first line")
	tmp := strings.TrimSpace(strings.TrimPrefix(line, "filling "))
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.DirExists(t, tmp, "the killed writer's temporary")

	require.NoError(t, Dir(path, func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "whole"), []byte("x"), 0o644)
	}))
	assert.Equal(t, []string{"tree"}, testutil.ListDir(t, parent), "the killed writer's temporary is gone")
	assert.Equal(t, []string{"whole"}, testutil.ListDir(t, path))
}

// TestDirKeepsALiveWritersTemporary: a writer still filling keeps its
// temporary while another Dir of the same path sweeps and finishes first;
// it then finds the other's tree in place and removes its own.
func TestDirKeepsALiveWritersTemporary(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "tree")
	filling, release := make(chan string), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Dir(path, func(tmp string) error {
			if err := os.WriteFile(filepath.Join(tmp, "slow"), []byte("x"), 0o644); err != nil {
				return err
			}
			filling <- tmp
			<-release
			// Still whole after the other writer's sweep.
			_, err := os.Stat(filepath.Join(tmp, "slow"))
			return err
		})
	}()
	slow := <-filling
	require.NoError(t, Dir(path, func(tmp string) error {
		return os.WriteFile(filepath.Join(tmp, "fast"), []byte("x"), 0o644)
	}))
	assert.DirExists(t, slow, "the live writer's temporary after another writer's sweep")
	close(release)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"tree"}, testutil.ListDir(t, parent), "the slower writer removed its own temporary")
	assert.Equal(t, []string{"fast"}, testutil.ListDir(t, path))
}
