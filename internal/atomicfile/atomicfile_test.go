package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestWriteReplacesWithMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	require.NoError(t, Write(path, []byte("old"), 0o600))
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	require.NoError(t, Write(path, []byte("new"), 0o644))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "new", string(data))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "the mode asked for, whatever the umask")
	assert.Equal(t, []string{"state.json"}, testutil.ListDir(t, dir), "no temporary left")
}

// TestConcurrentWriters: writers of one path never see each other's
// temporaries (a fixed "<path>.tmp" makes one writer rename the other's
// half-written file, or fail with ENOENT), and a reader always sees one
// writer's whole content.
func TestConcurrentWriters(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{"Write": Write, "WriteVolatile": WriteVolatile} {
		t.Run(name, func(t *testing.T) { concurrentWriters(t, write) })
	}
}

func concurrentWriters(t *testing.T, write func(string, []byte, os.FileMode) error) {
	dir := t.TempDir()
	path := filepath.Join(dir, "leases.json")
	const writers, rounds = 8, 50
	contents := make([][]byte, writers)
	for i := range contents {
		// Large enough that a torn write would show.
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
	}
	require.NoError(t, write(path, contents[0], 0o644))
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := write(path, contents[i], 0o644); err != nil {
					errs <- err
				}
			}
		}()
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()
	torn, first := 0, ""
	for reading := true; reading; {
		select {
		case <-writing:
			reading = false
		default:
		}
		data, err := os.ReadFile(path)
		if err != nil || len(data) != 64<<10 || bytes.Count(data, data[:1]) != len(data) {
			if torn++; first == "" {
				first = fmt.Sprintf("read %d bytes, err %v", len(data), err)
			}
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Zero(t, torn, "torn reads, the first: %s", first)
	assert.Equal(t, []string{"leases.json"}, testutil.ListDir(t, dir), "no temporary left")
}

func TestWriteErrorsLeaveTheOldFile(t *testing.T) {
	dir := t.TempDir()
	err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "missing", "f"), "the error names the path")
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Empty(t, testutil.ListDir(t, dir))
}

// TestWriteOnAFullFilesystem: ENOSPC in the middle of a write leaves the
// old file whole and no temporary behind.
func TestWriteOnAFullFilesystem(t *testing.T) {
	testutil.NeedRoot(t, "mounting the small tmpfs that fills up")
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	path := filepath.Join(dir, "state.json")
	require.NoError(t, Write(path, []byte("old state"), 0o600))
	err := Write(path, bytes.Repeat([]byte("x"), 128<<10), 0o600)
	require.Error(t, err)
	assert.True(t, errors.Is(err, unix.ENOSPC), "%v", err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old state", string(data))
	assert.Equal(t, []string{"state.json"}, testutil.ListDir(t, dir))
}

func TestDir(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "cache", "tree")
	fill := func(content string) func(string) error {
		return func(tmp string) error { return os.WriteFile(filepath.Join(tmp, "f"), []byte(content), 0o644) }
	}
	require.NoError(t, Dir(path, fill("first")))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())

	require.NoError(t, Dir(path, fill("second")), "another writer's tree already there serves")
	data, err := os.ReadFile(filepath.Join(path, "f"))
	require.NoError(t, err)
	assert.Equal(t, "first", string(data))

	boom := errors.New("unpack failed")
	assert.ErrorIs(t, Dir(filepath.Join(parent, "cache", "other"), func(string) error { return boom }), boom)
	assert.Equal(t, []string{"tree"}, testutil.ListDir(t, filepath.Join(parent, "cache")), "no temporary left")
}

// A special file in the target's place is refused and left as it was: a
// pid file or results file of /dev/null once replaced the host's null
// device with a regular file.
func TestWriteRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	cases := map[string]string{fifo: "FIFO", sub: "directory"}
	if os.Geteuid() == 0 {
		null := filepath.Join(dir, "null")
		require.NoError(t, unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		cases[null] = "character device"
	}
	for path, kind := range cases {
		before, err := os.Lstat(path)
		require.NoError(t, err)
		err = Write(path, []byte("x"), 0o644)
		assert.ErrorContains(t, err, "it is a "+kind+", not a regular file")
		after, err := os.Lstat(path)
		require.NoError(t, err)
		assert.Equal(t, before.Mode(), after.Mode(), "%s unchanged", path)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, len(cases), "no temporary left")

	// A symlink is replaced, never followed: the link's target stays.
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("old"), 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	require.NoError(t, Write(link, []byte("new"), 0o644))
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
}
