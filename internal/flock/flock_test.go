package flock

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockWaitsAndGivesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "lock")
	unlock, err := Lock(context.Background(), path)
	require.NoError(t, err, "the directory is created")

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = Lock(ctx, path)
	require.Error(t, err, "held by the first lock")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), path)

	unlock()
	unlock2, err := Lock(context.Background(), path)
	require.NoError(t, err, "free again after unlock")
	unlock2()
}

func TestLockDirLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockDir(context.Background(), dir)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = LockDir(ctx, dir)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "held by the first lock")
	unlock()
	unlock2, err := LockDir(context.Background(), dir)
	require.NoError(t, err, "free again after unlock")
	unlock2()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, ents, "no lock file is made")

	_, err = LockDir(context.Background(), filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "missing")
}

func TestTryLockDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockDir(context.Background(), dir)
	require.NoError(t, err)
	_, ok, err := TryLockDir(dir)
	require.NoError(t, err)
	assert.False(t, ok, "held by LockDir")
	unlock()
	unlock2, ok, err := TryLockDir(dir)
	require.NoError(t, err)
	assert.True(t, ok, "free again after unlock")
	_, ok, err = TryLockDir(dir)
	require.NoError(t, err)
	assert.False(t, ok, "held by TryLockDir")
	unlock2()
	_, _, err = TryLockDir(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "missing")
}
