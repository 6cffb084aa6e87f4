package images

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/testutil"
)

// arm64Programs are the image's programs cross-built for arm64 once, when
// the test that needs them runs (not in -short mode, as root); armErr says
// why there are none.
var (
	arm64Programs map[string]string
	armErr        error
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if testing.Short() || os.Geteuid() != 0 {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "nsbench-images-test-")
		if err != nil {
			armErr = err
			return m.Run()
		}
		defer os.RemoveAll(dir)
		ctx := context.Background()
		arm64Programs, armErr = gobuild.ResolveAll(ctx, Programs(), os.Getenv, dir, "arm64")
		if armErr == nil {
			suite := filepath.Join(dir, "conformance.test")
			armErr = gobuild.TestBinary(ctx, "./conformance/", suite, "arm64")
			arm64Programs[GuestConformance] = suite
		}
		return m.Run()
	}())
}

func entries() []Entry {
	return []Entry{
		{Path: "/usr/local/bin/tool", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		{Path: "/bin/sh", Link: "/bin/busybox"},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0::/:/bin/sh\n")},
		{Path: "/tmp", Mode: os.ModeDir | 0o1777},
	}
}

func TestWriteReproducible(t *testing.T) {
	var a, b bytes.Buffer
	require.NoError(t, Write(&a, entries()))
	es := entries()
	es[0], es[2] = es[2], es[0] // order of input must not matter
	require.NoError(t, Write(&b, es))
	assert.Equal(t, a.Bytes(), b.Bytes(), "same entries, same bytes")
}

func TestWriteParsesBack(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, entries()))
	gz, err := gzip.NewReader(&buf)
	require.NoError(t, err)
	r := cpio.NewReader(gz)
	got := map[string]string{}
	var order []string
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(r)
		require.NoError(t, err)
		kind := "file"
		switch {
		case h.Mode&cpio.ModeType == cpio.TypeDir:
			kind = "dir"
		case h.Mode&cpio.ModeType == cpio.TypeSymlink:
			kind = "link:" + h.Linkname
		default:
			kind = "file:" + string(body)
		}
		got[h.Name] = kind
		order = append(order, h.Name)
		assert.Zero(t, h.ModTime.Unix(), h.Name)
	}
	assert.Equal(t, "link:/bin/busybox", got["bin/sh"])
	assert.Equal(t, "file:#!/bin/sh\n", got["usr/local/bin/tool"])
	assert.Equal(t, "dir", got["usr/local"], "parents are added")
	assert.IsIncreasing(t, order, "entries are sorted")
}

func TestGoarch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "arm64": "arm64", "": "amd64"} {
		got, err := goarch(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := goarch("riscv64")
	assert.ErrorContains(t, err, `unknown guest arch "riscv64"`)
}

// readArchive returns the regular files of a gzip newc archive by path.
func readArchive(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	r := cpio.NewReader(gz)
	files := map[string][]byte{}
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h.Mode&cpio.ModeType == cpio.TypeSymlink {
			files[h.Name] = []byte("->" + h.Linkname)
			continue
		}
		body, err := io.ReadAll(r)
		require.NoError(t, err)
		files[h.Name] = body
	}
	return files
}

func TestBuildArm64TakesDebianBusybox(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the suite and fetches busybox-static:arm64: skipped in -short mode")
	}
	testutil.NeedRoot(t, "fetching arm64 packages may need dpkg --add-architecture")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	require.NoError(t, armErr, "cross-building the programs")
	img, err := Build(ctx, Options{Arch: "arm64", CacheDir: t.TempDir(), Programs: arm64Programs})
	if errors.Is(err, debpkg.ErrArchive) {
		t.Skipf("apt cannot reach the Debian archive: %v", err)
	}
	require.NoError(t, err)
	files := readArchive(t, img)
	for _, p := range []string{"bin/busybox", "init", "usr/local/bin/nsrun", "usr/local/bin/nsprobe", "usr/local/bin/nsnet",
		"usr/local/bin/nsbench", "usr/local/bin/nsbench-cpu", "tests/conformance.test"} {
		require.Contains(t, files, p)
		e, err := elf.NewFile(bytes.NewReader(files[p]))
		require.NoError(t, err, p)
		assert.Equal(t, elf.EM_AARCH64, e.Machine, p)
	}
	assert.Equal(t, "->/bin/busybox", string(files["bin/sh"]))
}

func TestBuildNeedsEveryProgram(t *testing.T) {
	progs := map[string]string{}
	for gp := range Programs() {
		progs[gp] = "/bin/true"
	}
	delete(progs, GuestNsbench)
	_, err := Build(context.Background(), Options{Arch: "x86_64", CacheDir: t.TempDir(), Busybox: "/bin/true", Programs: progs})
	assert.ErrorContains(t, err, "no nsbench binary given for /usr/local/bin/nsbench")
}
