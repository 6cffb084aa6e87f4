package cgroups

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreezeThaw(t *testing.T) {
	m := testManager(t)
	if _, err := m.freezer(); err != nil {
		t.Skip(err)
	}
	out := filepath.Join(t.TempDir(), "ticks")
	startInCgroup(t, m, "sh", "-c", "while :; do echo x >> "+out+"; sleep 0.01; done")
	size := func() int64 {
		st, err := os.Stat(out)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	require.Eventually(t, func() bool { return size() > 0 }, 10*time.Second, 10*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Freeze(ctx))
	frozen, err := m.Frozen()
	require.NoError(t, err)
	assert.True(t, frozen)
	before := size()
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, before, size(), "a frozen shell writes nothing (it wrote every 10 ms)")

	require.NoError(t, m.Thaw())
	frozen, err = m.Frozen()
	require.NoError(t, err)
	assert.False(t, frozen)
	assert.Eventually(t, func() bool { return size() > before }, 10*time.Second, 10*time.Millisecond, "it runs again")
}

func TestSignalKillsPaused(t *testing.T) {
	m := testManager(t)
	if _, err := m.freezer(); err != nil {
		t.Skip(err)
	}
	cmd := startInCgroup(t, m, "sleep", "60")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Freeze(ctx))
	require.NoError(t, m.Signal(9))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("a paused container's process survived SIGKILL")
	}
}

func TestFrozenWithoutCgroup(t *testing.T) {
	m := Load(map[string]string{"freezer": filepath.Join(t.TempDir(), "gone")})
	frozen, err := m.Frozen()
	require.NoError(t, err, "a removed cgroup is a stopped container, not an error")
	assert.False(t, frozen)
	m = Load(map[string]string{"memory": t.TempDir()})
	frozen, err = m.Frozen()
	require.NoError(t, err)
	assert.False(t, frozen, "no freezer, never paused")
	assert.ErrorIs(t, m.Freeze(context.Background()), ErrNoFreezer)
}

// TestMemoryRaiseAndLower is docker update's case: memory and memory+swap
// raised past the old memory+swap limit, then lowered below the old memory
// limit. Written in a fixed order, one of the two steps fails with EINVAL.
func TestMemoryRaiseAndLower(t *testing.T) {
	m := testManager(t)
	dir := need(t, m, "memory")
	if _, v2 := m.dir("memory"); v2 {
		t.Skip("v1 only: v2 has independent memory.max and memory.swap.max")
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err != nil {
		t.Skip("no swap accounting (memory.memsw.limit_in_bytes)")
	}
	for _, step := range []struct{ limit, swap int64 }{{64 << 20, 128 << 20}, {256 << 20, 512 << 20}, {32 << 20, 64 << 20}, {-1, -1}} {
		require.NoError(t, m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &step.limit, Swap: &step.swap}}), "limit %d swap %d", step.limit, step.swap)
		if step.limit > 0 {
			assert.Equal(t, step.limit, int64(mustRead(t, dir, "memory.limit_in_bytes")))
			assert.Equal(t, step.swap, int64(mustRead(t, dir, "memory.memsw.limit_in_bytes")))
		}
	}
}

func mustRead(t *testing.T, dir, file string) uint64 {
	t.Helper()
	v, err := readUint(dir, file)
	require.NoError(t, err)
	return v
}

func TestSwapV2(t *testing.T) {
	for _, tc := range []struct {
		name             string
		limit, swap, out int64
		set              bool
		err              string
	}{
		{"unset", 0, 0, 0, false, ""},
		{"limit only", 100, 0, 0, false, ""},
		{"unlimited memory means unlimited swap", -1, 0, -1, true, ""},
		{"unlimited swap", 100, -1, -1, true, ""},
		{"memory+swap to swap", 100, 250, 150, true, ""},
		{"equal: no swap", 100, 100, 0, true, ""},
		{"swap without memory", 0, 100, 0, false, "needs a memory limit"},
		{"below memory", 100, 50, 0, false, "below the memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, set, err := swapV2(tc.limit, tc.swap)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.out, out)
			assert.Equal(t, tc.set, set)
		})
	}
}
