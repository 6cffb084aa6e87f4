package state

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/runtime/spec"
)

func TestValidateID(t *testing.T) {
	for id, ok := range map[string]bool{
		"c1": true, "a.b-c_d+e": true, "": false, ".hidden": false, "../x": false, "a/b": false, "a b": false, "-x": false,
		"Z9_": true, "_x": false, "+x": false, "aé": false, "é": false, "a\n": false, "a\x00": false,
		strings.Repeat("a", 1024): true, strings.Repeat("a", 1025): false,
	} {
		assert.Equal(t, ok, ValidateID(id) == nil, id)
	}
}

func TestCreateSaveLoadRemove(t *testing.T) {
	s := &Store{Root: filepath.Join(t.TempDir(), "root")}
	unlock, err := s.Create(context.Background(), "c1")
	require.NoError(t, err)
	_, err = s.Create(context.Background(), "c1")
	assert.True(t, errors.Is(err, ErrExist), "%v", err)

	c, err := s.Load("c1")
	require.NoError(t, err, "a record-less directory loads as creating, so delete --force can remove it")
	assert.Equal(t, specs.StateCreating, c.Status)

	want := &Container{State: specs.State{Version: "1.0.2", ID: "c1", Status: specs.StateCreated, Pid: 7, Bundle: "/b"}, Created: time.Unix(1, 0).UTC(), CgroupPaths: map[string]string{"pids": "/x"}}
	require.NoError(t, s.Save(want))
	unlock()
	got, err := s.Load("c1")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	ids, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"c1"}, ids)
	entries, err := os.ReadDir(s.Dir("c1"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left: %v", entries)

	require.NoError(t, s.Remove("c1"))
	_, err = s.Load("c1")
	assert.True(t, errors.Is(err, ErrNotExist), "%v", err)
	_, err = s.Lock(context.Background(), "c1")
	assert.True(t, errors.Is(err, ErrNotExist), "%v", err)
}

func TestLockSerialises(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	unlock, err := s.Create(context.Background(), "c1")
	require.NoError(t, err)
	unlock()
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := s.Lock(context.Background(), "c1")
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			u()
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, maxInside)
}

// TestLockGivesUp: a command waiting for a container held by a hung one
// gives up when its context ends, saying which container.
func TestLockGivesUp(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	unlock, err := s.Create(context.Background(), "c1")
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.Lock(ctx, "c1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "container c1")
}

// TestEncodeIsMarshal: the record with its config encoded by the generated
// encoders is what json.Marshal writes, and Decode reads it back.
func TestEncodeIsMarshal(t *testing.T) {
	c := &Container{
		State:  specs.State{Version: specs.Version, ID: "c1", Status: specs.StateRunning, Pid: 7, Bundle: "/b", Annotations: map[string]string{"a": "<b>"}},
		Config: spec.Default(false), CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/c1"}, InitStartTime: 9,
	}
	for _, cfg := range []*specs.Spec{c.Config, nil} {
		c.Config = cfg
		want, err := json.Marshal(c)
		require.NoError(t, err)
		got, err := Encode(c)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
		back, err := Decode("c1", "state.json", got)
		require.NoError(t, err)
		assert.Empty(t, cmp.Diff(c, back))
	}
}
