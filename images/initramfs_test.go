package images

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
